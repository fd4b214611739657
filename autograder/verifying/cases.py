"""Every hidden case of an assignment with its inputs and expected outputs.

Built once per grading process from the course's secret seed, by the assignment's own
case generator and reference. The same set serves the in-kernel harness (inputs only,
one task at a time) and the trusted verifier (inputs and expected outputs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..assignment import Assignment, Case


@dataclass
class CaseSet:
    """Every hidden case with its inputs and expected outputs, built once per grading run."""
    assignment: Assignment
    seed: int
    cases: dict[str, list[Case]]
    inputs: dict[tuple[str, int], dict[str, np.ndarray]]
    expected: dict[tuple[str, int], dict[str, np.ndarray]]

    @classmethod
    def build(cls, assignment: Assignment, seed: int) -> "CaseSet":
        cases = assignment.generate_cases(seed)
        inputs, expected = {}, {}
        for task_cases in cases.values():
            for case in task_cases:
                key = (case.task, case.index)
                inputs[key] = assignment.make_inputs(case, seed)
                expected[key] = assignment.expected_outputs(case, inputs[key])
        return cls(assignment, seed, cases, inputs, expected)

    def case(self, task: str, index: int) -> Case:
        return self.cases[task][index - 1]

    def kernel_view(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``task_view`` of every task: the specs by task, and all the inputs."""
        spec, arrays = {}, {}
        for task in self.cases:
            spec[task], named = self.task_view(task)
            arrays |= named
        return spec, arrays

    def task_view(self, task: str) -> tuple[list[dict], dict[str, np.ndarray]]:
        """What the in-kernel harness gets for one task while its hidden test cell runs:
        each case's parameters, and its inputs named "<task>/<index>/<name>"; never
        expected outputs."""
        spec = [{"index": c.index, "params": c.params} for c in self.cases[task]]
        arrays = {f"{task}/{c.index}/{name}": a for c in self.cases[task]
                  for name, a in self.inputs[(task, c.index)].items()}
        return spec, arrays

    def report_limits(self, task: str) -> dict[str, int]:
        """The arrays a report for ``task`` may hold, with the most elements each may have:
        every output, up to 16 times its expected size (a slip in a size changes
        the shape; the verifier must still see it to name the mistake), and every input as
        it was after the call. An assignment's ``report_limits`` sets the limits of outputs
        whose size its expected outputs do not tell."""
        limits, custom = {}, self.assignment.report_limits
        for c in self.cases[task]:
            inputs, expected = self.inputs[(task, c.index)], self.expected[(task, c.index)]
            for name, want in expected.items():
                limits[f"{c.index}/out/{name}"] = 16 * want.size + 256
            for name, most in (custom(c, inputs, expected) if custom else {}).items():
                limits[f"{c.index}/out/{name}"] = int(most)
            for name, given in inputs.items():
                limits[f"{c.index}/after/{name}"] = given.size
        return limits
