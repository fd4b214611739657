"""Reports of the real graded class (session fixture): CSVs against the gradebook, the
class report's plots and flagged students, and feedback free of hidden material."""
from __future__ import annotations

import csv
import html
import inspect

import pytest
from nbgrader.api import Gradebook

from autograder.assignments.conv_layers import reference
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK, TASKS


def _gradebook(graded_class):
    return Gradebook(f"sqlite:///{graded_class.course}/gradebook.db")


def _withheld(grade) -> bool:
    """A score that waits for a human: neither an automatic nor a manual score is set."""
    return grade.auto_score is None and grade.manual_score is None and grade.needs_manual_grade


def test_grades_csv_per_task_figures_match_the_gradebook(graded_class):
    with _gradebook(graded_class) as gb:
        for sid, row in graded_class.rows.items():
            for task in TASKS:
                grade = gb.find_grade(task.test_id, NOTEBOOK, ASSIGNMENT, sid)
                if row[task.name] == "":
                    assert row["status"] == "not graded" or (
                        row["status"] == "flagged" and _withheld(grade)), (sid, task.name)
                    continue
                assert float(row[task.name]) == pytest.approx(grade.score), (sid, task.name)


def test_lms_csv_has_one_row_per_student_with_the_gradebook_total(graded_class):
    with open(graded_class.course / "lms_grades.csv") as fh:
        lms = list(csv.DictReader(fh))
    assert [r["SIS User ID"] for r in lms] == sorted(graded_class.rows)
    assert list(lms[0])[:6] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    with _gradebook(graded_class) as gb:
        for r in lms:
            status = graded_class.rows[r["SIS User ID"]]["status"]
            grades = [gb.find_grade(t.test_id, NOTEBOOK, ASSIGNMENT, r["SIS User ID"]) for t in TASKS]
            if status == "not graded":
                assert r[ASSIGNMENT] == "" and all(r[f"{ASSIGNMENT}/{t.name}"] == "" for t in TASKS)
            elif any(_withheld(g) for g in grades):      # no total until a human decides
                assert r[ASSIGNMENT] == ""
            else:
                sub = gb.find_submission(ASSIGNMENT, r["SIS User ID"])
                assert float(r[ASSIGNMENT]) == pytest.approx(sub.score)


@pytest.mark.parametrize("name", ["score_histogram.png", "task_pass_rates.png", "mistakes.png"])
def test_each_plot_is_a_non_empty_png(graded_class, name):
    data = (graded_class.course / "report" / ASSIGNMENT / name).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000


def test_class_report_lists_every_flagged_and_ungraded_student(graded_class):
    page = (graded_class.course / "report" / "index.html").read_text()
    needs_look = page[page.index("Needs a human look"):]
    flagged = [sid for sid, r in graded_class.rows.items() if r["status"] != "ok"]
    assert len(flagged) > 10
    for sid in flagged:
        assert html.escape(sid) in needs_look, sid
        first_reason = graded_class.rows[sid]["reasons"].split(" | ")[0]
        assert html.escape(first_reason)[:60] in needs_look, sid


def test_no_feedback_file_contains_hidden_tests_or_reference_code(graded_class):
    reference_lines = [l.strip() for l in inspect.getsource(reference).splitlines()
                       if len(l.strip()) > 30 and not l.strip().startswith(("#", '"', "def", "-"))]
    files = list((graded_class.course / "feedback").rglob("*.html"))
    assert len(files) >= len([r for r in graded_class.rows.values() if r["status"] != "not graded"])
    for path in files:
        text = html.unescape(path.read_text())
        # A student's own code is in their feedback: only what they did not write counts.
        sid = path.parts[-3]
        own = "".join(p.read_text(errors="replace") for p in
                      (graded_class.course / "submitted" / sid).rglob("*") if p.is_file())
        for secret in ["BEGIN HIDDEN TESTS", "autograder_harness", "verifier.sock",
                       "inputs.npz"] + reference_lines:
            if secret not in own:
                assert secret not in text, (path, secret)
