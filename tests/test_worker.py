"""Tests for autograder/worker.py's failure paths: whatever goes wrong grading one
submission comes back as a one-line reason (never a traceback), damaged notebooks are final,
and internal errors keep their details for the grading log only."""
from __future__ import annotations

import nbformat
import pytest

from autograder import demo

from autograder.grading import submission

from autograder.grading import worker
from autograder.grading.pipeline import prepare
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    demo.make_course(course, {ASSIGNMENT: {}})
    return prepare(course, ASSIGNMENT)[0]


@pytest.fixture
def job(bundle) -> worker.Job:
    release = nbformat.reads(bundle.release[f"{NOTEBOOK}.ipynb"].decode(), as_version=4)
    return worker.Job("student", {f"{NOTEBOOK}.ipynb": nbformat.writes(release).encode()}, "d")


def test_damage_the_checks_do_not_know_is_final_with_a_one_line_reason(bundle, job, monkeypatch):
    def crash(sub, release):
        raise RecursionError("maximum recursion depth exceeded\nwhile copying a cell")
    monkeypatch.setattr(submission, "rebuild", crash)
    result = worker.grade(job, bundle)
    assert result.status == worker.NOT_GRADED and result.final
    assert result.reasons == [f"{NOTEBOOK}.ipynb is damaged in a way the grader cannot repair; "
                              "open it in Jupyter, save it and resubmit"]
    assert result.notes == []
    assert "Traceback" in result.log and "RecursionError" in result.log


def test_an_internal_error_is_retried_and_its_traceback_goes_to_the_log(bundle, job, monkeypatch):
    def broken(text):
        raise KeyError("first line\nsecond line")
    monkeypatch.setattr(worker, "load_config", broken)
    result = worker.grade(job, bundle)
    assert result.status == worker.NOT_GRADED and not result.final
    assert result.reasons == ["internal grading error (KeyError); the details are in the "
                              "grading log"]
    assert result.notes == []
    assert "Traceback" in result.log and "second line" in result.log


@pytest.mark.parametrize("text, want", [
    ("one line", "one line"),
    ("nbgrader said:\n  Traceback (most recent call last):\n  File x", "nbgrader said: Traceback "
     "(most recent call last): File x"),
    ("x" * 500, "x" * 399 + "…"),
])
def test_one_line(text, want):
    assert worker.one_line(text) == want
