"""The order of a first run: by evidence of slowness the submission saved (only the order)."""
from __future__ import annotations

import json

import nbformat

from autograder.grading.order import evidence_seconds, expected_seconds
from autograder.grading.pipeline import longest_first
from autograder.grading.worker import Job

TIMEOUT = 10.0


def notebook(*cells) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")] + list(cells))
    return nbformat.writes(nb).encode()


def interrupted(ename="KeyboardInterrupt"):
    cell = nbformat.v4.new_code_cell("while True: pass", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue="", traceback=[ename])]
    return cell


def timed(start="2026-11-20T12:00:00.000Z", end="2026-11-20T12:00:03.500Z"):
    cell = nbformat.v4.new_code_cell("train()")
    cell.metadata["execution"] = {"iopub.execute_input": start, "iopub.status.busy": start}
    if end:
        cell.metadata["execution"]["shell.execute_reply"] = end
    return cell


def test_an_interrupted_or_timed_out_cell_counts_as_the_cell_timeout():
    assert evidence_seconds(notebook(interrupted()), TIMEOUT) == TIMEOUT
    assert evidence_seconds(notebook(interrupted("TimeoutError"), interrupted()), TIMEOUT) == 2 * TIMEOUT
    assert evidence_seconds(notebook(interrupted("ValueError")), TIMEOUT) == 0


def test_jupyterlab_timing_metadata_is_read_and_capped():
    assert evidence_seconds(notebook(timed()), TIMEOUT) == 3.5
    assert evidence_seconds(notebook(timed(end="2026-11-20T12:05:00Z")), TIMEOUT) == TIMEOUT
    assert evidence_seconds(notebook(timed(end=None)), TIMEOUT) == TIMEOUT   # never finished


def test_anything_unreadable_is_no_evidence():
    deep = b"[" * 100000 + b"]" * 100000
    for data in (b"", b"\xff\xfe garbage", deep, b'{"cells": 3}', b"[1, 2]",
                 json.dumps({"cells": [{"cell_type": "code", "outputs": "x",
                                        "metadata": {"execution": {"iopub.execute_input": 5}}},
                                       7]}).encode(),
                 notebook(timed(start="2026-11-20T12:00:00Z", end="2026-11-20T12:00:01"))):
        assert evidence_seconds(data, TIMEOUT) == 0


def test_a_slow_submission_with_evidence_starts_first_on_a_first_run():
    jobs = [Job(sid, {"hw.ipynb": notebook()}, "d") for sid in ("a", "b", "c")]
    jobs.append(Job("z_loops", {"hw.ipynb": notebook(interrupted())}, "d"))
    jobs.append(Job("y_renamed", {"My hw (1).ipynb": notebook(timed())}, "d"))
    order = [j.student_id for j in longest_first(jobs, {}, "hw", TIMEOUT)]
    assert order == ["z_loops", "y_renamed", "a", "b", "c"]


def test_a_previous_runs_duration_wins_over_the_evidence():
    previous = {"a": {"seconds": 60.0}, "b": {"seconds": 2.0}}
    got = expected_seconds(["a", "b", "new"], [notebook(), notebook(interrupted()), notebook(interrupted())],
                           previous, TIMEOUT)
    assert got == [60.0, 2.0, 31.0 + TIMEOUT]      # the median of 60 and 2, plus the evidence
