"""Honest scores computed in this process, independently of the pipeline: the student's
answers run directly (no sandbox, kernel, socket or nbgrader) on the hidden cases."""
from __future__ import annotations

import re

import numpy as np

from autograder import harness
from autograder.cases import CaseSet
from autograder.tasks import TASKS
from autograder.verify import verify_task
from conftest import REPO


def seed() -> int:
    text = (REPO / "nbgrader_config.py").read_text()
    return int(re.search(r"c\.Grading\.seed = (\d+)", text).group(1))


def expected_points(answers: dict[str, str]) -> dict[str, float]:
    """Score the answers in this process (no sandbox, kernel or nbgrader) as the
    independent expectation for the pipeline's per-case partial credit."""
    ns = {"np": np}
    for source in answers.values():
        exec(compile(source, "<answer>", "exec"), ns)
    caseset = CaseSet.build(seed())
    points = {}
    for task in TASKS:
        header, arrays = {"task": task.name, "cases": []}, {}
        for case in caseset.cases[task.name]:
            inputs = {k: v.copy() for k, v in caseset.inputs[(task.name, case.index)].items()}
            meta = {"index": case.index}
            try:
                outs = harness._call(task.name, ns, case.params, inputs)
                meta.update(status="ok", outputs={})
                for name, value in outs.items():
                    meta["outputs"][name], arr = harness._describe(value)
                    if arr is not None:
                        arrays[f"{case.index}/out/{name}"] = arr
            except Exception as exc:
                meta.update(status="error", error_type=type(exc).__name__, error=str(exc))
            for name, value in inputs.items():
                arrays[f"{case.index}/after/{name}"] = value
            header["cases"].append(meta)
        points[task.name] = verify_task(task, caseset, header, arrays).points
    return points
