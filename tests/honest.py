"""Honest scores computed in this process, independently of the pipeline: the student's
answers run directly (no sandbox, kernel, socket or nbgrader) on the hidden cases."""
from __future__ import annotations

import re

import numpy as np

from autograder.running import harness
from autograder.verifying.cases import CaseSet
from autograder.assignments.conv_layers.tasks import TASKS
from autograder.verifying.scoring import verify_task
from autograder.assignments.conv_layers import assignment as CONV_LAYERS
from conftest import REPO

harness.use_calls(CONV_LAYERS.calls)


def seed() -> int:
    text = (REPO / "nbgrader_config.py").read_text()
    return int(re.search(r"c\.Grading\.seed = (\d+)", text).group(1))


def expected_points(answers: dict[str, str]) -> dict[str, float]:
    """Score the answers in this process (no sandbox, kernel or nbgrader) as the
    independent expectation for the pipeline's per-case partial credit."""
    ns = {"np": np}
    for source in answers.values():
        exec(compile(source, "<answer>", "exec"), ns)
    caseset = CaseSet.build(CONV_LAYERS, seed())
    spec, inputs = caseset.kernel_view()
    points = {}
    for task in TASKS:
        header, arrays = harness.run_cases(task.name, ns, spec[task.name], inputs)
        points[task.name] = verify_task(task, caseset, header, arrays).points
    return points
