"""The coordinator's single writer to the course gradebook.

Each graded submission is recorded in one database transaction: nbgrader's own rows
(student, submission, the hidden test grades, holding the verified scores) and a row of
this grader's ``autograder_results`` table (status, reasons, per-case verdicts, and the
digest of what was graded, so a re-run skips unchanged submissions). Files (autograded
notebook, feedback) are written atomically before the commit. Works with SQLite and
PostgreSQL through nbgrader's ``db_url``.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from nbgrader.api import Gradebook
from sqlalchemy import (Boolean, Column, Float, MetaData, String, Table, Text, inspect, select,
                        text)

from ..assignment import Assignment
from .worker import FLAGGED, NOT_GRADED, Result

_metadata = MetaData()
RESULTS = Table(
    "autograder_results", _metadata,
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("digest", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("reasons", Text, nullable=False),       # JSON list
    Column("notes", Text, nullable=False),         # JSON list
    Column("scores", Text, nullable=False),        # JSON {task: points}, verified
    Column("in_kernel", Text, nullable=False),     # JSON {task: points}
    Column("verdicts", Text, nullable=False),      # JSON {task: verdict}
    Column("graded_digest", String(128)),          # digest whose scores are in the gradebook
    Column("graded_at", String(40), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("final", Boolean, nullable=False),      # False: retry on the next run
    Column("phases", Text),                        # JSON {phase: seconds} of the grading
)


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def review_comment(tasks: list[str], reasons: list[str], first: bool) -> str:
    """What the formgrader shows a TA beside the answer cell of ``tasks``: the reasons that
    name one of them, or (on the ``first`` answer cell) all reasons."""
    own = [r for r in reasons if any(t in r for t in tasks)] or (reasons if first else [])
    return "Autograder: needs a human look.\n" + "\n".join(f"- {r}" for r in own) if own else \
        "Autograder: needs a human look (reasons on the first answer cell)."


class ResultStore:
    def __init__(self, db_url: str, course: Path):
        self.db_url = db_url
        self.course = course
        self.gb = Gradebook(db_url)
        _metadata.create_all(self.gb.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Upgrade a table written by an earlier version: add its missing columns (as
        nullable, so old rows stay valid; a missing ``final`` means "grade again")."""
        engine = self.gb.engine
        present = {c["name"] for c in inspect(engine).get_columns(RESULTS.name)}
        with engine.begin() as conn:
            for column in RESULTS.columns:
                if column.name not in present:
                    conn.execute(text(f"ALTER TABLE {RESULTS.name} ADD COLUMN {column.name} "
                                      f"{column.type.compile(engine.dialect)}"))

    def close(self) -> None:
        self.gb.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def rows(self, assignment: str, student_id: Optional[str] = None) -> dict[str, dict]:
        """The recorded results of ``assignment``, of every student (or of one), by student id."""
        stmt = select(RESULTS).where(RESULTS.c.assignment == assignment)
        if student_id is not None:
            stmt = stmt.where(RESULTS.c.student_id == student_id)
        out = {}
        for row in self.gb.db.execute(stmt).mappings():
            d = dict(row)
            for key in ("reasons", "notes", "scores", "in_kernel", "verdicts"):
                d[key] = json.loads(d[key])
            d["phases"] = json.loads(d["phases"]) if d.get("phases") else {}
            out[d["student_id"]] = d
        return out

    def record(self, result: Result, plugin: Assignment) -> None:
        """Record one result of ``plugin``'s assignment atomically. A submission that could
        not be graded keeps the scores of an earlier grading (and says so) instead of
        replacing them with zeros."""
        assignment, notebook, tasks = plugin.id, plugin.notebook, plugin.tasks
        previous = self.rows(assignment, result.student_id).get(result.student_id)
        reasons, scores = list(result.reasons), dict(result.scores)
        graded_digest: Optional[str] = result.digest
        keep_old = result.status == NOT_GRADED and previous and previous["graded_digest"]
        if keep_old:
            scores, graded_digest = previous["scores"], previous["graded_digest"]
            reasons.append(f"the scores shown are from the earlier grading of "
                           f"{previous['graded_at']}")
        if result.autograded is not None and not keep_old:
            base = self.course / "autograded" / result.student_id / assignment
            atomic_write(base / f"{notebook}.ipynb", result.autograded)
        if result.feedback is not None:
            base = self.course / "feedback" / result.student_id / assignment
            atomic_write(base / f"{notebook}.html", result.feedback)
        db = self.gb.db
        try:
            self.gb.update_or_create_student(result.student_id)
            kwargs = {"timestamp": result.timestamp} if result.timestamp else {}
            self.gb.update_or_create_submission(assignment, result.student_id, **kwargs)
            review = result.status in (FLAGGED, NOT_GRADED)
            for task in tasks:
                grade = self.gb.find_grade(task.test_id, notebook, assignment, result.student_id)
                grade.auto_score = None if task.name in result.withheld else scores.get(task.name, 0.0)
                # The formgrader's review queue: what needs a human look waits for one,
                # unless a TA has already decided (a manual score is never overridden).
                grade.needs_manual_grade = review and grade.manual_score is None
            cells = list(dict.fromkeys(t.answer_cell for t in tasks))
            for cell in cells:
                comment = self.gb.find_comment(cell, notebook, assignment, result.student_id)
                names = [t.name for t in plugin.tasks_of_cell(cell)]
                comment.auto_comment = review_comment(names, reasons, cell == cells[0]) \
                    if review else None
            submitted_nb = self.gb.find_submission_notebook(notebook, assignment, result.student_id)
            submitted_nb.flagged = review
            task_cells = {t.test_id for t in tasks}
            for grade in submitted_nb.grades:
                # Checks worth no points (what makes `nbgrader validate` fail) need no human.
                if grade.name not in task_cells and not grade.max_score:
                    grade.auto_score, grade.needs_manual_grade = 0.0, False
            row = dict(student_id=result.student_id, assignment=assignment,
                       digest=result.digest, status=result.status,
                       reasons=json.dumps(reasons), notes=json.dumps(result.notes),
                       scores=json.dumps(scores), in_kernel=json.dumps(result.in_kernel),
                       verdicts=json.dumps(result.verdicts if not keep_old else previous["verdicts"]),
                       graded_digest=graded_digest if result.status != NOT_GRADED or keep_old else None,
                       graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       seconds=result.seconds, final=result.final,
                       phases=json.dumps(result.phases))
            db.execute(RESULTS.delete().where((RESULTS.c.student_id == result.student_id)
                                              & (RESULTS.c.assignment == assignment)))
            db.execute(RESULTS.insert().values(**row))
            db.commit()
        except Exception:
            db.rollback()
            raise

