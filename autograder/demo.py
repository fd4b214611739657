"""``python -m autograder demo``: grade a synthetic class end to end in a fresh course.

The class: a correct student, one student per mistake class of the mutation suite, a blank
release, a syntax error, an exception and an infinite loop. Each submission is the release
notebook with answer cells filled in, as a student would hand it in.
"""
from __future__ import annotations

import ast
import shutil
import tempfile
from pathlib import Path

import nbformat

from .mutants import MUTANTS, apply, student_answers
from .tasks import ASSIGNMENT, NOTEBOOK, TASKS

REPO = Path(__file__).resolve().parent.parent


def synthetic_class(release_nb: Path) -> dict[str, dict[str, str] | None]:
    """student id -> answer sources (None: the blank release), written into the release."""
    good = student_answers(release_nb)
    fwd = "conv_forward_naive"
    students: dict[str, dict[str, str] | None] = {"correct": good}
    for m in MUTANTS:
        students[f"mistake_{m.name}"] = apply(m, good)
    students["blank"] = None
    students["syntax_error"] = good | {fwd: good[fwd].replace("):", ")", 1)}
    students["exception"] = good | {"conv_backward_naive": insert_first_statement(
        good["conv_backward_naive"], 'raise RuntimeError("half-finished refactoring")')}
    students["infinite_loop"] = good | {"max_pool_forward_naive": insert_first_statement(
        good["max_pool_forward_naive"], "while True:\n    pass")}
    return students


def insert_first_statement(source: str, code: str) -> str:
    """``source`` (one function) with ``code`` as the first statement after its docstring."""
    body = ast.parse(source).body[0].body
    first = body[1] if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, "".join(indent + l + "\n" for l in code.splitlines()))
    return "".join(lines)


def fill(release_nb: Path, answers: dict[str, str] | None) -> nbformat.NotebookNode:
    nb = nbformat.read(str(release_nb), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if answers and gid in answers:
            cell.source = answers[gid]
    return nb


def make_course(course: Path, students: dict[str, dict[str, str] | None]) -> None:
    """A course directory with the kit's source, config and release, and submissions."""
    shutil.copytree(REPO / "source", course / "source")
    shutil.copytree(REPO / "assignments", course / "assignments")
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    release_nb = course / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for sid, answers in students.items():
        d = course / "submitted" / sid / ASSIGNMENT
        d.mkdir(parents=True)
        nbformat.write(fill(release_nb, answers), str(d / f"{NOTEBOOK}.ipynb"))
        (d / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")


def run(course: Path | None = None, jobs: int = 0) -> Path:
    from .pipeline import grade_course
    from .report import collect
    from .pipeline import db_url_for, load_config
    course = Path(course or tempfile.mkdtemp(prefix="conv-layers-demo-"))
    make_course(course, synthetic_class(REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"))
    summary = grade_course(course, jobs)
    config = load_config((course / "nbgrader_config.py").read_text())
    rows = collect(course, db_url_for(course, config))
    names = [t.name.replace("_naive", "") for t in TASKS]
    print(f"\n{'student':<28}" + "".join(f"{n:>18}" for n in names) + f"{'total':>8}  status")
    for r in rows:
        cells = "".join(f"{'-' if r.scores[t.name] is None else format(r.scores[t.name], 'g'):>18}"
                        for t in TASKS)
        total = "-" if r.total is None else format(r.total, "g")
        reason = f"  ({r.reasons[0][:70]})" if r.reasons else ""
        print(f"{r.student_id:<28}{cells}{total:>8}  {r.status}{reason}")
    print(f"\ngraded {summary.graded} submissions in {summary.seconds:.0f} s")
    print(f"course:   {course}")
    print(f"grades:   {course / 'grades.csv'}  (LMS: {course / 'lms_grades.csv'})")
    print(f"feedback: {course / 'feedback'}/<student>/{ASSIGNMENT}/{NOTEBOOK}.html")
    print(f"report:   {course / 'report' / 'index.html'}")
    return course
