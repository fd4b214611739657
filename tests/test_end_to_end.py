"""The real pipeline (nbgrader, sandboxed kernels, gradebook) on the synthetic class."""
from __future__ import annotations

import html
import re

import pytest
from nbgrader.api import Gradebook

from autograder.assignments.conv_layers import mutants
from autograder.verifying.cases import CaseSet
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, MAX_SCORE, NOTEBOOK, TASKS
from autograder.assignments.conv_layers import assignment as CONV_LAYERS
from conftest import REPO, sandbox_processes
from honest import expected_points, seed

RELEASE_NB = REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
MISTAKE_OF = {  # mutant -> the diagnosis its feedback must name
    "padding_ignored": "padding ignored", "stride_ignored": "stride ignored",
    "kernel_flipped": "kernel flipped", "bias_missing": "bias missing",
    "off_by_one_size": "off-by-one output size", "hw_swapped": "H and W swapped",
    "float_sizes": "float sizes", "dx_not_cropped": "dx not cropped",
    "dx_empty_when_pad0": "dx empty when pad=0", "db_wrong": "db wrong",
    "stride_ignored_pool": "stride ignored", "pool_overwrite": "overwritten instead of accumulated",
    "input_modified": "input modified in place",
}


def test_correct_solution_gets_full_marks(graded_class):
    row = graded_class.rows["correct"]
    assert float(row["total"]) == MAX_SCORE == 100
    assert row["status"] == "ok", row["reasons"]


def test_blank_release_gets_zero_with_not_implemented_per_task(graded_class):
    row = graded_class.rows["blank"]
    assert float(row["total"]) == 0
    text = graded_class.feedback("blank")
    for task in TASKS:
        block = text[text.index(f"{task.name}: 0/"):][:600]
        assert "not implemented yet" in block


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m.name)
def test_mutant_loses_points_where_broken_with_exact_partial_credit(graded_class, mutant):
    sid = f"mistake_{mutant.name}"
    expect = expected_points(mutants.apply(mutant, mutants.student_answers(RELEASE_NB)))
    for task in TASKS:
        got = graded_class.score(sid, task.name)
        assert got == pytest.approx(expect[task.name]), task.name
        if task.name in mutant.broken:
            assert got < task.points, f"{task.name} should lose points"
        else:
            assert got == task.points, f"{task.name} should keep full marks"


@pytest.mark.parametrize("name", sorted(MISTAKE_OF))
def test_feedback_names_the_mistake(graded_class, name):
    assert MISTAKE_OF[name] in graded_class.feedback(f"mistake_{name}")


@pytest.mark.parametrize("sid", ["correct", "blank", "mistake_pool_overwrite", "exception"])
def test_feedback_hides_tests_inputs_and_reference(graded_class, sid):
    text = graded_class.feedback(sid)
    for secret in ("BEGIN HIDDEN TESTS", "autograder_harness", "globals()", "verifier.sock",
                   "sliding_window_view", "einsum", "inputs.npz", "cases.json"):
        assert secret not in text
    # No hidden input value: the first few numbers of each hidden input.
    caseset = CaseSet.build(CONV_LAYERS, seed())
    for arrays in list(caseset.inputs.values())[:6]:
        assert f"{arrays['x'].flat[0]:.6f}"[:8] not in text


def test_feedback_keeps_the_public_checks_tracebacks(graded_class):
    """A public check's traceback shows where the student's code failed (its code is
    released); only the hidden test cells are reduced to their last line."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", graded_class.feedback("exception")))
    frame = plain[plain.index("in conv_backward_naive(dout, cache)"):][:600]
    assert 'raise RuntimeError("half-finished refactoring")' in frame
    assert "HiddenTestsFailed: 0 / 30 points" in plain
    assert "autograder_harness" not in plain


def test_syntax_error_exception_and_loop_are_graded_honestly(graded_class):
    rows = graded_class.rows
    assert graded_class.score("syntax_error", "conv_forward_naive") == 0
    assert graded_class.score("syntax_error", "max_pool_forward_naive") == 15
    assert graded_class.score("exception", "conv_backward_naive") == 0
    assert graded_class.score("exception", "conv_forward_naive") == 30
    loop = rows["infinite_loop"]
    assert graded_class.score("infinite_loop", "max_pool_forward_naive") == 0
    assert graded_class.score("infinite_loop", "conv_forward_naive") == 30
    assert loop["status"] == "flagged" and "timed out" in loop["reasons"]


def test_grades_csv_matches_the_gradebook(graded_class):
    columns = ["student_id"] + [t.name for t in TASKS] + ["total", "max_score", "status"]
    row = next(iter(graded_class.rows.values()))
    assert all(c in row for c in columns)
    with Gradebook(f"sqlite:///{graded_class.course}/gradebook.db") as gb:
        for sid, row in graded_class.rows.items():
            if row["total"] == "":
                continue
            sub = gb.find_submission(ASSIGNMENT, sid)
            assert sub.score == pytest.approx(float(row["total"])), sid
            assert float(row["max_score"]) == sub.max_score == MAX_SCORE


def test_no_sandbox_process_outlives_grading(graded_class):
    assert sandbox_processes(graded_class.rows) == []


def test_rerun_skips_unchanged_and_keeps_grades(graded_class, tmp_path):
    import subprocess, sys
    before = (graded_class.course / "grades.csv").read_text()
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course",
                           str(graded_class.course), "--jobs", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "graded 0 submissions" in proc.stdout
    assert (graded_class.course / "grades.csv").read_text() == before
