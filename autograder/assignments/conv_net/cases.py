"""The hidden cases of conv_net, their inputs and the reference's outputs.

The convolution tasks take conv_layers' templates (stride 1 to 3, pad 0 to 2, non-square,
untiled, 1x1) and add layers of realistic size. The speed case is a layer big enough that
loops take seconds and small enough that they finish within the cell's time limit. The
network's cases check the parameters its constructor makes, its scores, its loss and
gradients against the reference on random small networks (with and without
regularization), and the student's gradients against numerical gradients of the student's
own loss. The trained model has one case: its accuracy on digits only the grader has.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..conv_layers.cases import CONV_TEMPLATES, Case as LayerCase, pick_hw
from . import reference as ref
from .tasks import PARAMS, TASK_BY_NAME

# (N, C, F, kernel, stride, pad, H, W): layers of the sizes a network has.
REALISTIC = ((8, 16, 16, (3, 3), 1, 1, 16, 16), (4, 3, 8, (5, 5), 1, 2, 32, 32),
             (2, 8, 4, (3, 3), 2, 1, 15, 17))
SPEED = dict(N=8, C=32, H=16, W=16, F=32, HH=3, WW=3, stride=1, pad=1, repeats=2)
# kind, N, C, H, W, F (filters), fs (filter size), hidden, classes, reg
NETWORKS = (("init", 2, 1, 8, 8, 4, 3, 10, 10, 0.0),
            ("init", 2, 3, 6, 10, 5, 5, 7, 4, 0.0),
            ("scores", 3, 1, 8, 8, 4, 3, 10, 10, 0.0),
            ("loss", 4, 2, 6, 8, 3, 3, 6, 5, 0.0),
            ("loss", 3, 1, 8, 8, 4, 5, 8, 10, 0.3),
            ("loss", 2, 3, 4, 6, 2, 3, 5, 3, 0.1),
            ("gradcheck", 2, 1, 4, 4, 2, 3, 4, 3, 0.05))
NET_KEYS = ("kind", "N", "C", "H", "W", "F", "fs", "hidden", "classes", "reg")
# How many of the grader's test digits the trained model is scored on.
TEST_DIGITS = 400


@dataclass(frozen=True)
class Case(LayerCase):
    # What the grader keeps of a case and never sends to the kernel (the seed of the digits
    # the trained model is scored on).
    secret: int = field(default=0, repr=False)

    def describe(self) -> str:
        p = self.params
        if self.task == "trained_model":
            return f"your trained model on {p['n']} digits only the grader has"
        if self.task == "ThreeLayerConvNet":
            what = {"init": "the parameters your constructor makes", "scores": "scores",
                    "loss": "loss and gradients", "gradcheck": "your gradients against "
                    "numerical gradients of your own loss"}[p["kind"]]
            return (f"{what}: X{(p['N'], p['C'], p['H'], p['W'])}, {p['F']} filters "
                    f"{p['fs']}x{p['fs']}, hidden {p['hidden']}, {p['classes']} classes, "
                    f"reg={p['reg']:g}")
        text = super().describe()
        return f"{text}, {p['repeats']} forward and backward passes" if self.task == "conv_speed" else text


def _conv_params(n, c, f, k, stride, pad, h, w) -> dict:
    return dict(N=n, C=c, H=h, W=w, F=f, HH=k[0], WW=k[1], stride=stride, pad=pad)


def generate_cases(seed: int) -> dict[str, list[Case]]:
    """The hidden cases of every task; the same seed always gives the same cases."""
    rng = np.random.default_rng([seed, 0])
    cases: dict[str, list[Case]] = {}
    for task in ("conv_forward_fast", "conv_backward_fast"):
        params = [_conv_params(n, c, f, k, s, p, *pick_hw(rng, k, s, p, kind))
                  for n, c, f, k, s, p, kind in CONV_TEMPLATES]
        params += [_conv_params(*layer) for layer in REALISTIC]
        cases[task] = [Case(task, i, p) for i, p in enumerate(params, 1)]
    cases["conv_speed"] = [Case("conv_speed", 1, dict(SPEED))]
    cases["ThreeLayerConvNet"] = [Case("ThreeLayerConvNet", i, dict(zip(NET_KEYS, net)) | {"h": 1e-6})
                                  for i, net in enumerate(NETWORKS, 1)]
    cases["trained_model"] = [Case("trained_model", 1, {"n": TEST_DIGITS}, secret=seed)]
    return cases


def _net_params(rng: np.random.Generator, p: dict) -> dict[str, np.ndarray]:
    """A random network of the case's sizes; weights large enough that no unit sits near
    the ReLU's kink by accident."""
    pooled = p["F"] * (p["H"] // 2) * (p["W"] // 2)
    shapes = {"W1": (p["F"], p["C"], p["fs"], p["fs"]), "b1": (p["F"],),
              "W2": (pooled, p["hidden"]), "b2": (p["hidden"],),
              "W3": (p["hidden"], p["classes"]), "b3": (p["classes"],)}
    return {k: rng.standard_normal(shapes[k]) * (0.5 if k.startswith("W") else 0.1) for k in PARAMS}


def make_inputs(case: Case, seed: int) -> dict[str, np.ndarray]:
    """The case's float64 inputs (the trained model's case has none: the model is the
    student's)."""
    p = case.params
    rng = np.random.default_rng([seed, 1, list(TASK_BY_NAME).index(case.task), case.index])
    if case.task == "trained_model":
        return {}
    if case.task == "ThreeLayerConvNet":
        if p["kind"] == "init":
            return {}
        arrays = {"X": rng.standard_normal((p["N"], p["C"], p["H"], p["W"]))} | _net_params(rng, p)
        if p["kind"] != "scores":
            arrays["y"] = rng.integers(0, p["classes"], p["N"])
        return arrays
    arrays = {"x": rng.standard_normal((p["N"], p["C"], p["H"], p["W"])),
              "w": rng.standard_normal((p["F"], p["C"], p["HH"], p["WW"])),
              "b": rng.standard_normal(p["F"])}
    if case.task != "conv_forward_fast":
        out_shape = (p["N"], p["F"], ref.output_size(p["H"], p["HH"], p["stride"], p["pad"]),
                     ref.output_size(p["W"], p["WW"], p["stride"], p["pad"]))
        arrays["dout"] = rng.standard_normal(out_shape)
    return arrays


def net_shapes(p: dict) -> dict[str, tuple[int, ...]]:
    """The parameter shapes of the network the case describes (CS231n's layout)."""
    pooled = p["F"] * (p["H"] // 2) * (p["W"] // 2)
    return {"W1": (p["F"], p["C"], p["fs"], p["fs"]), "b1": (p["F"],), "W2": (pooled, p["hidden"]),
            "b2": (p["hidden"],), "W3": (p["hidden"], p["classes"]), "b3": (p["classes"],)}


def expected_outputs(case: Case, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trusted reference's outputs (for the cases a judge scores: arrays of the right
    shapes, see ``judges``)."""
    p = case.params
    if case.task == "trained_model":
        return {}
    if case.task == "ThreeLayerConvNet":
        if p["kind"] == "init":
            return {k: np.zeros(s) for k, s in net_shapes(p).items()}
        params = {k: inputs[k] for k in PARAMS}
        if p["kind"] == "scores":
            return {"scores": ref.three_layer_convnet_loss(params, inputs["X"], None, p["reg"], p["fs"])}
        loss, grads = ref.three_layer_convnet_loss(params, inputs["X"], inputs["y"], p["reg"], p["fs"])
        out = {"loss": np.asarray(loss)} | {"d" + k: grads[k] for k in PARAMS}
        if p["kind"] == "gradcheck":
            out |= {"num_d" + k: grads[k] for k in PARAMS}
        return out
    x, w = inputs["x"], inputs["w"]
    out = ref.conv_forward_fast(x, w, inputs["b"], p["stride"], p["pad"])
    if case.task == "conv_forward_fast":
        return {"out": out}
    dx, dw, db = ref.conv_backward_fast(inputs["dout"], x, w, p["stride"], p["pad"])
    grads = {"dx": dx, "dw": dw, "db": db}
    return grads if case.task == "conv_backward_fast" else {"out": out} | grads
