"""The hidden cases of conv_layers, generated from the course's secret seed.

A case is a task plus parameters (shapes, stride, pad, pool size). The parameters come from
templates that guarantee coverage (batch 1 and >1, C=1 and >1, non-square inputs and
kernels, 1x1 kernels, stride 1..3, pad 0..2, windows that do not tile, overlapping and
non-square pools); the seed picks the free sizes and all values. The same definitions serve
the in-kernel harness (inputs only) and the trusted verifier (inputs and expected outputs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import assignment
from . import reference as ref
from .tasks import TASK_BY_NAME


@dataclass(frozen=True)
class Case(assignment.Case):
    @property
    def conv(self) -> bool:
        return self.task.startswith("conv")

    def describe(self) -> str:
        """Shapes and hyper-parameters, as shown to the student (no values)."""
        p = self.params
        x = f"x{(p['N'], p['C'], p['H'], p['W'])}"
        if self.conv:
            return (f"{x}, w{(p['F'], p['C'], p['HH'], p['WW'])}, "
                    f"stride={p['stride']}, pad={p['pad']}")
        return f"{x}, pool {p['ph']}x{p['pw']}, stride={p['stride']}"


# (N, C, F, kernel HHxWW, stride, pad, input kind). kind: "square", "nonsquare" or
# "untiled" (non-square, and the windows leave rows and columns over).
CONV_TEMPLATES = (
    (1, 1, 1, (3, 3), 1, 0, "square"),
    (2, 3, 2, (3, 3), 1, 1, "nonsquare"),
    (2, 2, 3, (3, 2), 2, 1, "untiled"),
    (3, 2, 2, (1, 1), 1, 0, "nonsquare"),
    (1, 3, 2, (3, 3), 3, 2, "untiled"),
    (2, 1, 2, (4, 3), 2, 0, "untiled"),
    (2, 2, 1, (2, 2), 2, 2, "square"),
    (1, 2, 3, (2, 4), 3, 1, "untiled"),
)
# (N, C, pool HxW, stride, input kind)
POOL_TEMPLATES = (
    (1, 1, (2, 2), 2, "square"),
    (2, 3, (2, 2), 2, "nonsquare"),
    (2, 2, (3, 3), 2, "untiled"),       # overlapping windows
    (1, 2, (3, 2), 1, "nonsquare"),     # overlapping, non-square pool
    (3, 1, (2, 3), 3, "untiled"),
    (2, 2, (3, 3), 1, "nonsquare"),     # heavy overlap
)


def _tiles(size: int, k: int, stride: int, pad: int) -> bool:
    return (size + 2 * pad - k) % stride == 0


def pick_hw(rng: np.random.Generator, k: tuple[int, int], stride: int, pad: int,
            kind: str) -> tuple[int, int]:
    """An input height and width of the template's ``kind`` for kernel ``k``."""
    lo_h, lo_w = max(k[0] + 1, 4), max(k[1] + 1, 4)
    for _ in range(1000):
        h, w = int(rng.integers(lo_h, lo_h + 6)), int(rng.integers(lo_w, lo_w + 6))
        if kind == "square":
            w = h
            if _tiles(h, k[0], stride, pad) and _tiles(w, k[1], stride, pad):
                return h, w
        elif kind == "nonsquare" and h != w:
            return h, w
        elif (kind == "untiled" and h != w and not _tiles(h, k[0], stride, pad)
              and not _tiles(w, k[1], stride, pad)):
            return h, w
    raise RuntimeError(f"no input size fits {kind} for kernel {k}, stride {stride}")


def generate_cases(seed: int) -> dict[str, list[Case]]:
    """The hidden cases of every task; the same seed always gives the same cases."""
    rng = np.random.default_rng([seed, 0])
    cases: dict[str, list[Case]] = {}
    for task in ("conv_forward_naive", "conv_backward_naive"):
        cases[task] = []
        for i, (n, c, f, k, stride, pad, kind) in enumerate(CONV_TEMPLATES, 1):
            h, w = pick_hw(rng, k, stride, pad, kind)
            cases[task].append(Case(task, i, dict(N=n, C=c, H=h, W=w, F=f, HH=k[0], WW=k[1],
                                                  stride=stride, pad=pad)))
    for task in ("max_pool_forward_naive", "max_pool_backward_naive"):
        cases[task] = []
        for i, (n, c, k, stride, kind) in enumerate(POOL_TEMPLATES, 1):
            h, w = pick_hw(rng, k, stride, 0, kind)
            cases[task].append(Case(task, i, dict(N=n, C=c, H=h, W=w, ph=k[0], pw=k[1],
                                                  stride=stride)))
    return cases


def make_inputs(case: Case, seed: int) -> dict[str, np.ndarray]:
    """The case's float64 inputs. Pool inputs are a shuffled ramp, so no window has ties."""
    p = case.params
    rng = np.random.default_rng([seed, 1, list(TASK_BY_NAME).index(case.task), case.index])
    x_shape = (p["N"], p["C"], p["H"], p["W"])
    task = TASK_BY_NAME[case.task]
    if case.conv:
        arrays = {"x": rng.standard_normal(x_shape),
                  "w": rng.standard_normal((p["F"], p["C"], p["HH"], p["WW"])),
                  "b": rng.standard_normal(p["F"])}
        out_shape = (p["N"], p["F"], ref.output_size(p["H"], p["HH"], p["stride"], p["pad"]),
                     ref.output_size(p["W"], p["WW"], p["stride"], p["pad"]))
    else:
        size = int(np.prod(x_shape))
        arrays = {"x": (rng.permutation(size) / size - 0.5).reshape(x_shape) * 4.0}
        out_shape = (p["N"], p["C"], ref.output_size(p["H"], p["ph"], p["stride"]),
                     ref.output_size(p["W"], p["pw"], p["stride"]))
    if "dout" in task.inputs:
        arrays["dout"] = rng.standard_normal(out_shape)
    return arrays


def expected_outputs(case: Case, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trusted reference's outputs for the case."""
    p = case.params
    x = inputs["x"]
    if case.task == "conv_forward_naive":
        return {"out": ref.conv_forward(x, inputs["w"], inputs["b"], p["stride"], p["pad"])}
    if case.task == "conv_backward_naive":
        dx, dw, db = ref.conv_backward(inputs["dout"], x, inputs["w"], p["stride"], p["pad"])
        return {"dx": dx, "dw": dw, "db": db}
    if case.task == "max_pool_forward_naive":
        return {"out": ref.max_pool_forward(x, p["ph"], p["pw"], p["stride"])}
    return {"dx": ref.max_pool_backward(inputs["dout"], x, p["ph"], p["pw"], p["stride"])}
