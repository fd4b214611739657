"""`nbgrader validate` tells the truth: the public checks are grade cells worth 0 points.

Each check is run by the real `nbgrader validate`, as a student runs it: in a copy of the
release folder (the notebook beside conv_helpers.py), without the hidden tests. It fails on
the blank release naming every function not implemented, fails on a broken function naming
the check, and succeeds on a correct notebook. The checks cost no points at grading.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import demo

from autograder.assignments.conv_layers import mutants
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, MAX_SCORE, NOTEBOOK, TASKS
from conftest import REPO

RELEASE = REPO / "assignments" / ASSIGNMENT
RELEASE_NB = RELEASE / f"{NOTEBOOK}.ipynb"
FUNCTIONS = [t.name for t in TASKS]
POOL = [f for f in FUNCTIONS if f.startswith("max_pool")]
SUCCESS = "Success! Your notebook passes all the tests."
# mutant -> what validate must say about it (the check that catches it)
CAUGHT_BY = {
    "bias_missing": "conv_forward_naive, check 2 (known values) failed:",
    "off_by_one_size": "conv_forward_naive, check 1 (output shape) failed:",
    "dx_empty_when_pad0": "conv_backward_naive, check 2 (gradients, stride 2, pad 0) failed:",
    "stride_ignored_pool": "max_pool_forward_naive, check 1 (output shape) failed:",
    "pool_overwrite": "max_pool_backward_naive, check 2 (overlapping windows) failed:",
    "input_modified": "your functions modified x (it is in the cache)!",
}


def check_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "")
            .startswith("check_")]


def notebooks() -> dict[str, dict[str, str] | None]:
    """name -> answer sources written into the release (None: the blank release)."""
    good = mutants.student_answers(RELEASE_NB)
    by_name = {m.name: m for m in mutants.MUTANTS}
    return {"blank": None, "correct": good,
            "partial": {k: v for k, v in good.items() if k not in POOL}} | {
        name: mutants.apply(by_name[name], good) for name in CAUGHT_BY}


KERNEL_SHUTDOWN_NOISE = re.compile(
    r"ERROR:tornado\.general:Uncaught exception in ZMQStream callback\nTraceback \(most recent "
    r"call last\):\n(?:  .*\n)+zmq\.error\.ZMQError: Socket operation on non-socket\n?")


def validate(folder: Path, notebook: str = NOTEBOOK) -> str:
    """What `nbgrader validate` reports on ``folder/notebook.ipynb`` (its stdout; its log
    goes to stderr)."""
    assert (folder / f"{notebook}.ipynb").is_file()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", f"{notebook}.ipynb"],
                          cwd=folder, capture_output=True, text=True, timeout=300)
    # ipykernel, shutting down, sometimes logs a ZMQ error of its own (a callback on a socket
    # already closed): the kernel's noise, after validate's work, not validate failing.
    own = KERNEL_SHUTDOWN_NOISE.sub("", proc.stderr)
    assert "Traceback" not in own, proc.stderr[-3000:]
    return proc.stdout


def failures(output: str) -> list[str]:
    """The error part of each failed cell in validate's output."""
    blocks = output.split("The following cell failed:")[1:]
    return [b.split("The error was:", 1)[1] for b in blocks]


def message(error: str) -> str:
    """The exception's message (all its lines) at the end of a failed cell's error."""
    lines = error.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if re.match(r" *\w+(Error|Exception): ", line))
    return "\n".join(line.strip() for line in lines[start:])


def failed_count(output: str) -> int:
    found = re.search(r"VALIDATION FAILED ON (\d+) CELL", output)
    return int(found.group(1)) if found else 0


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> dict[str, str]:
    """name -> the output of `nbgrader validate` on that notebook."""
    root = tmp_path_factory.mktemp("validate")

    def run(item):
        name, answers = item
        folder = root / name / ASSIGNMENT
        shutil.copytree(RELEASE, folder)
        nbformat.write(demo.fill(RELEASE_NB, answers), str(folder / f"{NOTEBOOK}.ipynb"))
        return name, validate(folder)

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(run, notebooks().items()))


def test_release_checks_are_locked_zero_point_grade_cells():
    nb = nbformat.read(str(RELEASE_NB), as_version=4)
    checks = check_cells(nb)
    assert len(checks) == 2 * len(TASKS)
    for cell in checks:
        meta = cell.metadata.nbgrader
        assert meta["grade"] and meta["locked"] and not meta["solution"], meta["grade_id"]
        assert meta["points"] == 0 and meta.get("checksum"), meta["grade_id"]
    ids = [c.metadata.nbgrader.get("grade_id") for c in nb.cells]
    for task in TASKS:   # each task: answer, its two checks, its hidden test cell
        i = ids.index(task.name)
        assert ids[i + 1:i + 4] == [f"check_{task.name}_1", f"check_{task.name}_2", task.test_id]


def test_blank_release_fails_naming_every_function_not_implemented(validated):
    out = validated["blank"]
    assert SUCCESS not in out
    assert failed_count(out) == len(check_cells(nbformat.read(str(RELEASE_NB), as_version=4)))
    for name in FUNCTIONS:
        # on a line of its own, not cut by validate's 90-column display
        assert re.search(rf"^ *(AssertionError: )?{name} is not implemented yet;?$", out, re.M), name
    for error in failures(out):
        assert "is not implemented yet" in message(error)


def test_partially_correct_notebook_fails_on_the_missing_functions_only(validated):
    out = validated["partial"]
    assert SUCCESS not in out
    assert failed_count(out) == 4
    for name in POOL:
        assert f"{name} is not implemented yet" in out
    for error in failures(out):
        assert "conv_" not in message(error), message(error)


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_broken_function_fails_naming_the_check(validated, mutant):
    out = validated[mutant]
    assert SUCCESS not in out and failed_count(out) >= 1
    assert any(CAUGHT_BY[mutant] in error for error in failures(out)), out[-3000:]
    broken = next(m for m in mutants.MUTANTS if m.name == mutant).broken
    # Checks of a function the mistake does not touch stay quiet (a backward check uses its
    # forward pass, so a forward mistake may show there too).
    touched = set(broken) | {f.replace("forward", "backward") for f in broken}
    for error in failures(out):
        named = {f for f in FUNCTIONS if f in message(error)}
        assert named <= touched, (mutant, message(error))
    assert not any("is not implemented yet" in message(e) for e in failures(out))


def test_correct_notebook_passes(validated):
    out = validated["correct"]
    assert SUCCESS in out, out[-3000:]
    assert "VALIDATION FAILED" not in out


def test_checks_still_print_their_relative_errors(tmp_path):
    """CS231n style: each check prints what it measured and the magnitude to expect."""
    from nbclient import NotebookClient
    folder = tmp_path / ASSIGNMENT
    shutil.copytree(RELEASE, folder)
    nb = demo.fill(RELEASE_NB, mutants.student_answers(RELEASE_NB))
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(folder)}}).execute()
    printed = {c.metadata.nbgrader.grade_id: "".join(o.get("text", "") for o in c.outputs
                                                      if o.output_type == "stream")
               for c in check_cells(nb)}
    assert not any(o.output_type == "error" for c in check_cells(nb) for o in c.outputs)
    expect = {"check_conv_forward_naive_1": "Output shape (2, 4, 4, 3) OK",
              "check_conv_forward_naive_2": "(should be around 1e-8 or less)",
              "check_conv_backward_naive_1": "db error: ",
              "check_conv_backward_naive_2": "dx error: ",
              "check_max_pool_forward_naive_1": "Output shape (2, 3, 3, 2) OK",
              "check_max_pool_forward_naive_2": "difference: ",
              "check_max_pool_backward_naive_1": "(should be around 1e-12 or less)",
              "check_max_pool_backward_naive_2": "dx error:  0.0 (should be 0.0)"}
    for gid, text in expect.items():
        assert text in printed[gid], (gid, printed[gid])
    for gid in ("check_conv_backward_naive_1", "check_conv_backward_naive_2"):
        errors = [float(e) for e in re.findall(r"d[xwb] error:  (\S+)", printed[gid])]
        assert len(errors) == 3 and max(errors) < 1e-6, printed[gid]


def test_checks_cost_no_points_and_need_no_human(graded_class):
    """Grading is unaffected: the assignment is still out of 100, a correct submission
    gets all of it, and the 0-point checks leave nothing for the formgrader's review queue."""
    with Gradebook(f"sqlite:///{graded_class.course}/gradebook.db") as gb:
        assert gb.find_assignment(ASSIGNMENT).max_score == MAX_SCORE == 100
        tests = {t.test_id for t in TASKS}
        for sid in ("correct", "blank", "mistake_bias_missing"):
            row = graded_class.rows[sid]
            assert row["status"] == "ok", (sid, row["reasons"])
            notebook = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, sid)
            checks = [g for g in notebook.grades if g.name not in tests]
            assert len(checks) == 2 * len(TASKS)
            assert all(g.max_score == 0 and g.score == 0 for g in checks)
            assert notebook.score == pytest.approx(float(row["total"]))
            waiting = [g.name for g in checks if g.needs_manual_grade]
            assert not waiting, (
                f"{sid}: 0-point check grades wait for manual grading ({waiting}); "
                "autograder/records.py must record them (auto_score 0, needs_manual_grade "
                "False) when it records the task grades")
    assert float(graded_class.rows["correct"]["total"]) == MAX_SCORE
