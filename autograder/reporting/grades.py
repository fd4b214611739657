"""Class results from the gradebook, without regrading: ``grades.csv`` and the LMS CSV,
one row per student, with a column per assignment total and per task.

Scores come from nbgrader's grade rows (so an instructor's manual override counts), status
and reasons from the grader's ``autograder_results`` table. A student with a submission
but no recorded result is listed as ``not graded`` with the reason, never as a zero.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from nbgrader.api import Gradebook, MissingEntry

from ..assignment import Assignment
from ..grading.records import ResultStore, atomic_write
from ..grading.worker import FLAGGED, NOT_GRADED

# A flagged or ungraded submission whose every task a TA has since graded in the formgrader.
REVIEWED = "reviewed"


@dataclass
class StudentRow:
    student_id: str
    lms_id: str
    scores: dict[str, Optional[float]]
    status: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: dict = field(default_factory=dict)
    feedback: Optional[str] = None
    name: str = ""              # "Last, First" from nbgrader's student record, else the id
    email: str = ""

    @property
    def total(self) -> Optional[float]:
        if any(v is None for v in self.scores.values()):
            return None
        return round(sum(self.scores.values()), 4)


def collect(course: Path, db_url: str, plugin: Assignment) -> list[StudentRow]:
    """One row per student with a submission of ``plugin``'s assignment (in the gradebook
    or in submitted/)."""
    assignment, notebook = plugin.id, plugin.notebook
    submitted = course / "submitted"
    on_disk = {p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")
               and os.path.lexists(p / assignment)} if submitted.exists() else set()
    rows = []
    with ResultStore(db_url, course) as store:
        results = store.rows(assignment)
        gb: Gradebook = store.gb
        ids = set(on_disk) | set(results)
        for s in gb.students:
            try:
                gb.find_submission(assignment, s.id)
                ids.add(s.id)
            except MissingEntry:
                pass
        for sid in sorted(ids):
            try:
                student = gb.find_student(sid)
                lms = student.lms_user_id or sid
                name = ", ".join(n for n in (student.last_name, student.first_name) if n)
                email = student.email or ""
            except MissingEntry:
                lms, name, email = sid, "", ""
            res = results.get(sid)
            scores: dict[str, Optional[float]] = {t.name: None for t in plugin.tasks}
            grades = {t.name: gb.find_grade(t.test_id, notebook, assignment, sid)
                      for t in plugin.tasks} if res is not None else {}
            reviewed = res is not None and res["status"] in (FLAGGED, NOT_GRADED) \
                and not any(g.needs_manual_grade for g in grades.values()) \
                and any(g.manual_score is not None for g in grades.values())
            if res is not None and (res["status"] != NOT_GRADED or res["graded_digest"] or reviewed):
                for name, grade in grades.items():
                    # Neither score set: withheld for a human (nbgrader would count it 0).
                    if grade.manual_score is not None or grade.auto_score is not None:
                        scores[name] = float(grade.score)
            if res is None:
                row = StudentRow(sid, lms, scores, NOT_GRADED,
                                 ["submitted but not graded yet: run `python -m autograder grade`"])
            else:
                notes = res["notes"] + ([f"reviewed in the formgrader (was {res['status']}): "
                                         "the scores are the TA's decision"] if reviewed else [])
                row = StudentRow(sid, lms, scores, REVIEWED if reviewed else res["status"],
                                 res["reasons"], notes, res["verdicts"])
            row.name, row.email = name or sid, email
            fb = course / "feedback" / sid / assignment / f"{notebook}.html"
            row.feedback = str(fb.relative_to(course)) if fb.exists() else None
            rows.append(row)
    return rows


def _csv(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def _fmt(v: Optional[float]) -> str:
    return "" if v is None else f"{v:g}"


Classes = dict[Assignment, list[StudentRow]]
NOT_SUBMITTED = "not submitted"


def _by_student(classes: Classes) -> tuple[list[str], dict[tuple[str, str], StudentRow]]:
    """Every student of any assignment, in order, and each one's row per assignment id."""
    rows = {(a.id, r.student_id): r for a, class_rows in classes.items() for r in class_rows}
    return sorted({sid for _, sid in rows}), rows


def write_grades_csv(classes: Classes, path: Path) -> None:
    """Per student: for each assignment ``<id>`` its total (column ``<id>``), each task
    (``<id>/<task>``), the maximum, the status, the reasons, the notes and the feedback page.
    A student with no submission of an assignment has its status ``not submitted``."""
    header = ["student_id"]
    for a in classes:
        header += [a.id] + [f"{a.id}/{t.name}" for t in a.tasks] + [
            f"{a.id}/{c}" for c in ("max_score", "status", "reasons", "notes", "feedback")]
    students, rows = _by_student(classes)
    body = []
    for sid in students:
        line = [sid]
        for a in classes:
            r = rows.get((a.id, sid))
            if r is None:
                line += [""] * (1 + len(a.tasks)) + [f"{a.max_score:g}", NOT_SUBMITTED, "", "", ""]
                continue
            line += [_fmt(r.total)] + [_fmt(r.scores[t.name]) for t in a.tasks] + [
                f"{a.max_score:g}", r.status, " | ".join(r.reasons), " | ".join(r.notes),
                r.feedback or ""]
        body.append(line)
    atomic_write(path, _csv(header, body))


def write_lms_csv(classes: Classes, path: Path) -> None:
    """One row per student in the layout of Canvas's gradebook export (which Canvas and
    Moodle import): identity columns, then per assignment its total (column ``<id>``) and
    each task (``<id>/<task>``). ``ID`` is nbgrader's ``lms_user_id`` (else the student id).
    Ungraded and missing submissions have empty cells, not zeros."""
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    for a in classes:
        header += [a.id] + [f"{a.id}/{t.name}" for t in a.tasks]
    students, rows = _by_student(classes)
    body = []
    for sid in students:
        known = next(r for a in classes if (r := rows.get((a.id, sid))) is not None)
        line = [known.name, known.lms_id, sid, known.email, ""]
        for a in classes:
            r = rows.get((a.id, sid))
            line += [""] * (1 + len(a.tasks)) if r is None else \
                [_fmt(r.total)] + [_fmt(r.scores[t.name]) for t in a.tasks]
        body.append(line)
    atomic_write(path, _csv(header, body))
