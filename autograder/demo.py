"""``python -m autograder demo``: grade a synthetic class of every assignment of the kit
end to end, in a fresh course.

Each assignment's grading folder says who is in its class (``Assignment.synthetic_class``:
a correct student, one student per mistake of its mutation suite, a blank release, ...).
Each submission is the release notebook with answer cells filled in, as a student would
hand it in.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

import nbformat

from .answers import Answers, fill
from .assignment import PLUGINS, Assignment, load

REPO = Path(__file__).resolve().parent.parent
Class = dict[str, Optional[Answers]]     # student id -> answers (None: the blank release)


def kit_assignments() -> list[Assignment]:
    """The kit's assignments with a grading folder, a master notebook and a release."""
    found = []
    for folder in sorted(p for p in PLUGINS.iterdir() if (p / "__init__.py").is_file()):
        if (REPO / "source" / folder.name).is_dir() and (REPO / "assignments" / folder.name).is_dir():
            found.append(load(folder.name))
    return found


def release_notebook(a: Assignment, root: Path = REPO) -> Path:
    return root / "assignments" / a.id / f"{a.notebook}.ipynb"


def make_course(course: Path, classes: dict[str, Class]) -> None:
    """A course directory with the kit's config and, for each assignment id of ``classes``,
    its source, its release and the submissions of its class."""
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    for assignment_id, students in classes.items():
        shutil.copytree(REPO / "source" / assignment_id, course / "source" / assignment_id)
        shutil.copytree(REPO / "assignments" / assignment_id, course / "assignments" / assignment_id)
        a = load(assignment_id)
        release_nb = release_notebook(a, course)
        for sid, answers in students.items():
            d = course / "submitted" / sid / assignment_id
            d.mkdir(parents=True)
            nbformat.write(fill(release_nb, answers), str(d / f"{a.notebook}.ipynb"))
            (d / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")


def _table(a: Assignment, rows) -> list[str]:
    widths = [max(len(t.name), 6) + 2 for t in a.tasks]
    head = f"{'student':<28}" + "".join(f"{t.name:>{w}}" for t, w in zip(a.tasks, widths))
    lines = [f"\n{a.id}", head + f"{'total':>8}  status"]
    for r in rows:
        cells = "".join(f"{'-' if r.scores[t.name] is None else format(r.scores[t.name], 'g'):>{w}}"
                        for t, w in zip(a.tasks, widths))
        total = "-" if r.total is None else format(r.total, "g")
        reason = f"  ({r.reasons[0][:70]})" if r.reasons else ""
        lines.append(f"{r.student_id:<28}{cells}{total:>8}  {r.status}{reason}")
    return lines


def run(course: Path | None = None, jobs: int = 0) -> Path:
    from .grading.pipeline import db_url_for, grade_course, load_config
    from .reporting.grades import collect
    course = Path(course or tempfile.mkdtemp(prefix="autograder-demo-"))
    kit = [a for a in kit_assignments() if a.synthetic_class is not None]
    make_course(course, {a.id: a.synthetic_class(release_notebook(a)) for a in kit})
    summary = grade_course(course, jobs)
    db_url = db_url_for(course, load_config((course / "nbgrader_config.py").read_text()))
    for a in kit:
        print("\n".join(_table(a, collect(course, db_url, a))))
    print(f"\ngraded {summary.graded} submissions in {summary.seconds:.0f} s")
    print(f"course:   {course}")
    print(f"grades:   {course / 'grades.csv'}  (LMS: {course / 'lms_grades.csv'})")
    print(f"feedback: {course / 'feedback'}/<student>/<assignment>/<notebook>.html")
    print(f"report:   {course / 'report' / 'index.html'}")
    return course
