"""Each attack of the adversarial corpus, graded by the real pipeline in the same run as
the honest class: the honest score exactly, the right status and reason, other students
unaffected, the gradebook intact, nothing left running."""
from __future__ import annotations

import json

import pytest
from nbgrader.api import Gradebook

from adversarial import ATTACKS, Attack
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK, TASKS
from conftest import sandbox_processes
from honest import expected_points


def honest(attack: Attack) -> dict[str, float]:
    return attack.expect if attack.expect is not None else expected_points(attack.answers)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.sid)
def test_attack_gets_exactly_the_honest_score(graded_class, attack):
    row = graded_class.rows[attack.sid]
    if attack.status == "not graded":
        assert all(row[t.name] == "" for t in TASKS) and row["total"] == ""
        return
    for task in attack.withheld:       # no point the student did not earn: a human decides
        assert row[task] == "" and row["total"] == "", row["reasons"]
    want = {k: v for k, v in honest(attack).items() if k not in attack.withheld} \
        if len(attack.withheld) < len(TASKS) else {}
    got = {t.name: float(row[t.name]) for t in TASKS if t.name not in attack.withheld}
    assert got == pytest.approx(want), row["reasons"]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.sid)
def test_attack_status_and_reason(graded_class, attack):
    row = graded_class.rows[attack.sid]
    assert row["status"] == attack.status, (row["reasons"], row["notes"])
    assert attack.reason in row["reasons"] + row["notes"]


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.forbidden], ids=lambda a: a.sid)
def test_attack_output_shows_it_was_blocked(graded_class, attack):
    path = graded_class.course / "autograded" / attack.sid / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    outputs = json.dumps([c.get("outputs", []) for c in json.loads(path.read_text())["cells"]])
    for word in attack.forbidden:
        assert word not in outputs
    assert "BLOCKED" in outputs


def test_network_listener_on_host_was_not_reached(graded_class):
    assert graded_class.listener_reached is False


def test_honest_students_unaffected_by_attacks_in_same_run(graded_class):
    assert float(graded_class.rows["correct"]["total"]) == 100
    assert graded_class.rows["correct"]["status"] == "ok"


def test_gradebook_holds_verified_scores_and_nothing_else(graded_class):
    with Gradebook(f"sqlite:///{graded_class.course}/gradebook.db") as gb:
        for attack in ATTACKS:
            if attack.status == "not graded":
                continue
            want = honest(attack) if len(attack.withheld) < len(TASKS) else {}
            for task in TASKS:
                grade = gb.find_grade(task.test_id, NOTEBOOK, ASSIGNMENT, attack.sid)
                assert grade.manual_score is None
                if task.name in attack.withheld:
                    assert grade.auto_score is None and grade.needs_manual_grade
                else:
                    assert grade.auto_score == pytest.approx(want[task.name]), (attack.sid, task.name)
        for student in gb.students:
            assert student.id in graded_class.rows


def test_huge_outputs_are_capped(graded_class):
    path = graded_class.course / "autograded" / "huge_outputs" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert path.stat().st_size < 8 * 2**20
    assert "output truncated" in path.read_text()


def test_nothing_left_running(graded_class):
    assert sandbox_processes(graded_class.rows) == []



@pytest.fixture(scope="module")
def recorded(graded_class) -> dict[str, dict]:
    """The grader's own record of every student (reasons, notes, final), from the gradebook."""
    from autograder.grading.pipeline import db_url_for, load_config
    from autograder.grading.records import ResultStore
    course = graded_class.course
    config = load_config((course / "nbgrader_config.py").read_text())
    with ResultStore(db_url_for(course, config), course) as store:
        return store.rows(ASSIGNMENT)


def test_every_reason_and_note_is_one_line_without_a_traceback(graded_class, recorded):
    for sid, row in graded_class.rows.items():
        for field in ("reasons", "notes"):
            assert "Traceback" not in row[field] and 'File "' not in row[field], (sid, field)
    for sid, rec in recorded.items():
        assert all("\n" not in r for r in rec["reasons"] + rec["notes"]), sid


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.raw and a.status == "not graded"],
                         ids=lambda a: a.sid)
def test_a_damaged_submission_is_final(recorded, attack):
    # Final: the next run does not grade it again (test_end_to_end's rerun grades nothing).
    assert recorded[attack.sid]["final"] is True
