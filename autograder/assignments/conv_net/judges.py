"""conv_net's own verdicts: the cases the engine's comparison cannot score.

- The speed case: its hidden cell's wall time, taken by the grading process outside the
  kernel, against the reference fast convolution timed on the same inputs in the same
  process, in the same run.
- The gradient check: the student's analytic gradients against the numerical gradients of
  the student's own loss (both computed in the kernel, as data).
- The parameters the constructor makes: their shapes.
- The trained model: its accuracy, computed here with the reference forward pass, on digits
  only the grader has (the dataset's test split, shifted and noised with the course's seed).
"""
from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Optional

import numpy as np
from threadpoolctl import threadpool_limits

from ...assignment import Judgement
from . import reference as ref
from .cases import Case, net_shapes
from .tasks import PARAMS

# The speed case: full points up to FAST times the reference's time, none from SLOW, and
# in between a share that falls with the logarithm of the ratio. Generous on purpose: the
# student's kernel runs beside other grading on a loaded machine, and the cell's time
# includes moving the case's arrays through the harness.
FAST, SLOW = 10.0, 40.0
# The trained model: full points from FULL accuracy on the grader's digits, none up to NONE.
FULL, NONE = 0.90, 0.50
# How close analytic and numerical gradients of the same loss must be.
GRADCHECK = 1e-6


def _reference_seconds(case: Case, inputs: dict[str, np.ndarray]) -> float:
    """The best of 3 timings of the speed case's work done by the reference, with one BLAS
    thread as in the student's kernel: with more, on a machine whose other core is busy,
    BLAS threads waiting for each other made the reference 24 times slower in one run
    (168 ms against 7 ms), and a looped convolution look almost fast."""
    p = case.params
    best = math.inf
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(p["repeats"]):
                ref.conv_forward_fast(inputs["x"], inputs["w"], inputs["b"], p["stride"], p["pad"])
                ref.conv_backward_fast(inputs["dout"], inputs["x"], inputs["w"], p["stride"], p["pad"])
            best = min(best, time.perf_counter() - start)
    return best


def judge_time(case: Case, inputs: dict[str, np.ndarray], seconds: float) -> Judgement:
    """The speed case's share of points from its cell's ``seconds``. The reference is timed
    right after the cell, in the grading process, so that both see the same load."""
    reference = _reference_seconds(case, inputs)
    ratio = seconds / reference
    credit = 1.0 if ratio <= FAST else 0.0 if ratio >= SLOW else \
        1 - math.log(ratio / FAST) / math.log(SLOW / FAST)
    text = (f"{ratio:.1f}x the reference's time ({seconds * 1e3:.0f} ms against "
            f"{reference * 1e3:.0f} ms); full points up to {FAST:g}x, none from {SLOW:g}x")
    return Judgement(credit, text, None if credit >= 1 else "too_slow",
                     ("time / reference time", ratio))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def _gradcheck(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> Judgement:
    for k in PARAMS:
        analytic, numeric = got.get("d" + k), got.get("num_d" + k)
        want = expected["d" + k].shape
        if analytic is None or numeric is None or analytic.shape != want or numeric.shape != want:
            return Judgement(0.0, f"grads['{k}'] is missing or does not have the shape {want}")
    errors = {k: _rel(got["d" + k], got["num_d" + k]) for k in PARAMS}
    worst = max(errors, key=errors.get)
    if errors[worst] <= GRADCHECK:
        return Judgement(1.0)
    return Judgement(0.0, f"grads['{worst}'] does not match the numerical gradient of your own "
                          f"loss (relative error {errors[worst]:.1e})", "backward_mismatch")


def _init(case: Case, got: dict[str, np.ndarray]) -> Judgement:
    want = net_shapes(case.params)
    wrong = [f"{k} has shape {tuple(got[k].shape) if k in got else None}, expected {want[k]}"
             for k in PARAMS if k not in got or tuple(got[k].shape) != want[k]]
    if not wrong:
        return Judgement(1.0)
    p = case.params
    unpooled = p["F"] * p["H"] * p["W"]
    pooling = "W2" in got and got["W2"].ndim == 2 and got["W2"].shape[0] == unpooled
    return Judgement(0.0, "; ".join(wrong), "pool_dims" if pooling else None)


# The perturbation of the grader's digits: shifts of up to SHIFT pixel (interpolated) and
# Gaussian noise; a network that reads the notebook's digits well reads these (about 96 %
# for the master's), one that memorized pixels does not.
SHIFT, NOISE = 0.25, 0.03


@lru_cache(maxsize=2)
def test_digits(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits (N, 1, 8, 8) only the grader has, scaled as the notebook's
    ``load_digits_data(seed=0)`` scales its own, and their labels: images of the dataset's
    test split, each shifted and noised with ``seed`` (the course's secret)."""
    from scipy.ndimage import shift
    from sklearn.datasets import load_digits
    digits = load_digits()
    X = digits.images.astype(np.float64)[:, None] / 16.0
    order = np.random.default_rng(0).permutation(len(X))
    test, train = order[:200], order[400:]
    mean = X[train].mean(axis=0)
    rng = np.random.default_rng([seed, 7])
    pick = rng.choice(test, n)
    images = np.stack([shift(X[k, 0], rng.uniform(-SHIFT, SHIFT, 2), order=1, mode="nearest")
                       for k in pick])[:, None]
    images += rng.normal(0, NOISE, images.shape)
    return np.clip(images, 0, 1) - mean, digits.target[pick]


def _trained(case: Case, got: dict[str, np.ndarray], seed: int) -> Judgement:
    missing = [k for k in PARAMS if k not in got]
    if missing:
        return Judgement(0.0, f"model.params lacks {', '.join(missing)}")
    X, y = test_digits(seed, case.params["n"])
    try:
        scores = ref.three_layer_convnet_loss({k: got[k] for k in PARAMS}, X)
    except ValueError as exc:
        return Judgement(0.0, f"the trained parameters do not make a network for 8x8 digits: {exc}")
    accuracy = float(np.mean(np.argmax(scores, axis=1) == y))
    credit = min(1.0, max(0.0, (accuracy - NONE) / (FULL - NONE)))
    return Judgement(credit, f"accuracy {accuracy:.1%} on {len(y)} digits only the grader has "
                             f"(full points from {FULL:.0%}, none up to {NONE:.0%})",
                     None if credit >= 1 else "undertrained", ("accuracy", accuracy))


def judge(case: Case, inputs, got, expected) -> Optional[Judgement]:
    """The verdict of the cases the outputs' comparison cannot give; None for the others."""
    if case.task == "trained_model":
        return _trained(case, got, case.secret)
    if case.task == "ThreeLayerConvNet" and case.params["kind"] == "gradcheck":
        return _gradcheck(got, expected)
    if case.task == "ThreeLayerConvNet" and case.params["kind"] == "init":
        return _init(case, got)
    return None


def report_limits(case: Case, inputs, expected) -> dict[str, int]:
    """The trained model's parameters have the sizes the student chose: at most 128 filters
    of 9x9 and 1024 hidden units."""
    if case.task != "trained_model":
        return {}
    filters, hidden = 128, 1024
    return {"W1": filters * 81, "b1": filters, "W2": filters * 16 * hidden, "b2": hidden,
            "W3": hidden * 10, "b3": 10}
