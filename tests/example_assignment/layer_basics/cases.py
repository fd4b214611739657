"""The hidden cases, their inputs and the reference outputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograder import assignment

# affine_forward: (N, the shape of one input, M). More than one input axis must be
# flattened; M = 1 and N = 1 catch dropped axes.
AFFINE = ((1, (3,), 2), (2, (2, 3), 4), (3, (2, 2, 2), 1), (4, (5,), 3))
# relu_backward: the shape of x.
RELU = ((2, 3), (1, 4, 2, 2), (3, 5))


@dataclass(frozen=True)
class Case(assignment.Case):
    def describe(self) -> str:
        p = self.params
        if self.task == "affine_forward":
            return f"x{(p['N'], *p['D'])}, w{(int(np.prod(p['D'])), p['M'])}"
        return f"x{tuple(p['shape'])}"


def generate_cases(seed: int) -> dict[str, list[Case]]:
    """The same cases for every seed; the seed picks the values."""
    return {"affine_forward": [Case("affine_forward", i, {"N": n, "D": d, "M": m})
                               for i, (n, d, m) in enumerate(AFFINE, 1)],
            "relu_backward": [Case("relu_backward", i, {"shape": s})
                              for i, s in enumerate(RELU, 1)]}


def make_inputs(case: Case, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, case.index, case.task == "relu_backward"])
    p = case.params
    if case.task == "affine_forward":
        d = int(np.prod(p["D"]))
        return {"x": rng.standard_normal((p["N"], *p["D"])),
                "w": rng.standard_normal((d, p["M"])), "b": rng.standard_normal(p["M"])}
    # No exact zeros in x: the ReLU's gradient there is a convention, not a mistake.
    x = rng.standard_normal(p["shape"])
    return {"x": np.where(np.abs(x) < 1e-3, 0.5, x), "dout": rng.standard_normal(p["shape"])}


def expected_outputs(case: Case, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if case.task == "affine_forward":
        x = inputs["x"]
        return {"out": x.reshape(x.shape[0], -1) @ inputs["w"] + inputs["b"]}
    return {"dx": inputs["dout"] * (inputs["x"] > 0)}
