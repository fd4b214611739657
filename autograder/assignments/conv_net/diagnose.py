"""The mistakes of conv_net and their recognizers.

The fast convolution's mistakes are conv_layers' (an im2col order that does not match
``w.reshape``, col2im assigning where overlapping windows must accumulate, a reshape where a
transpose is needed, a missing transpose in a product, ...): its cases are recognized by
conv_layers' recognizers, as the naive task of the same API. The network's are found by
comparing the student's loss and gradients with the reference network run with one slip
(regularization left out, the softmax gradient not divided by N, a ReLU mask from the wrong
array); the speed, gradient-check and trained-model cases name theirs in ``judges``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...assignment import Diagnosis
from ...verifying.evidence import Evidence, Mistake, Raised, close, common_cause, evidence
from ..conv_layers import diagnose as layers
from ..conv_layers.cases import Case as LayerCase
from . import reference as ref
from .cases import Case
from .tasks import PARAMS

MISTAKES = layers.MISTAKES | {m.id: m for m in (
    Mistake("reg_missing_loss", "regularization missing from the loss: add 0.5 * reg * "
            "(np.sum(W1 ** 2) + np.sum(W2 ** 2) + np.sum(W3 ** 2)) to the data loss"),
    Mistake("reg_missing_grads", "regularization missing from the gradients: add reg * W to "
            "the gradient of each weight matrix W1, W2, W3 (not to the biases)"),
    Mistake("softmax_not_divided", "softmax gradient not divided by N: the loss is the mean over "
            "the batch, so its gradient with respect to the scores is divided by N too"),
    Mistake("relu_mask_wrong", "ReLU mask from the wrong array: the gradient passes where the "
            "ReLU's input was positive (the cache of that ReLU's forward pass), not where the "
            "upstream gradient or another layer's output is"),
    Mistake("pool_dims", "pooling dimensions do not match the affine layer: after the 2x2 pool "
            "the feature maps are (F, H // 2, W // 2), so W2 has F * (H // 2) * (W // 2) rows"),
    Mistake("backward_mismatch", "your backward pass does not match your own forward pass: the "
            "gradients your loss returns are not the derivatives of the loss it computes; check "
            "each layer's backward pass against a numerical gradient"),
    Mistake("too_slow", "slower than a vectorized convolution: loops over windows, images or "
            "filters cost a Python step each; build the columns once (im2col or as_strided) "
            "and do the work in one matrix product"),
    Mistake("undertrained", "the trained model's accuracy is low: check its validation "
            "accuracy after training, and train longer or with another learning rate; random "
            "or initial weights score about 10 %"),
)}

_NAIVE = {"conv_forward_fast": "conv_forward_naive", "conv_backward_fast": "conv_backward_naive"}


def _as_naive(case: Case) -> LayerCase | None:
    """The case as conv_layers' naive task of the same API, for its recognizers."""
    return LayerCase(_NAIVE[case.task], case.index, case.params) if case.task in _NAIVE else None


def error_evidence(case: Case, raised: Raised) -> Evidence:
    naive = _as_naive(case)
    if naive is not None:
        return layers.error_evidence(naive, raised)
    named = common_cause(raised)
    return evidence("error", [named] if named else [])


def missing_evidence(case: Case, inputs, info: dict) -> Evidence:
    naive = _as_naive(case)
    return layers.missing_evidence(naive, inputs, info) if naive is not None else evidence("missing")


def _network(inputs: dict, p: dict, reg_loss=True, reg_grads=True, mean_grad=True,
             mask_from_dout=False):
    """The reference network's loss and gradients with one slip."""
    W = {k: inputs[k] for k in PARAMS}
    X, y, reg, pad = inputs["X"], inputs["y"], p["reg"], (p["fs"] - 1) // 2
    conv = ref.conv_forward_fast(X, W["W1"], W["b1"], 1, pad)
    a1 = ref.relu_forward(conv)
    pooled = ref.max_pool_forward_fast(a1, 2, 2, 2)
    h = ref.affine_forward(pooled, W["W2"], W["b2"])
    a2 = ref.relu_forward(h)
    scores = ref.affine_forward(a2, W["W3"], W["b3"])
    loss, dscores = ref.softmax_loss(scores, y)
    if reg_loss:
        loss += 0.5 * reg * sum(float(np.sum(W[k] ** 2)) for k in ("W1", "W2", "W3"))
    if not mean_grad:
        dscores = dscores * X.shape[0]
    relu = (lambda d, x: ref.relu_backward(d, d)) if mask_from_dout else ref.relu_backward
    g = {}
    da2, g["W3"], g["b3"] = ref.affine_backward(dscores, a2, W["W3"])
    dpooled, g["W2"], g["b2"] = ref.affine_backward(relu(da2, h), pooled, W["W2"])
    da1 = ref.max_pool_backward_fast(dpooled, a1, 2, 2, 2)
    _, g["W1"], g["b1"] = ref.conv_backward_fast(relu(da1, conv), X, W["W1"], 1, pad)
    if reg_grads:
        for k in ("W1", "W2", "W3"):
            g[k] = g[k] + reg * W[k]
    return {"loss": np.asarray(loss)} | {"d" + k: g[k] for k in PARAMS}


_SLIPS: dict[str, Callable[[dict, dict], dict]] = {
    "reg_missing_loss": lambda i, p: _network(i, p, reg_loss=False),
    "reg_missing_grads": lambda i, p: _network(i, p, reg_grads=False),
    "softmax_not_divided": lambda i, p: _network(i, p, mean_grad=False),
    "relu_mask_wrong": lambda i, p: _network(i, p, mask_from_dout=True),
}


def output_evidence(case: Case, inputs, got, expected) -> Evidence:
    naive = _as_naive(case)
    if naive is not None:
        return layers.output_evidence(naive, inputs, got, expected)
    if case.task != "ThreeLayerConvNet" or case.params["kind"] != "loss":
        return evidence("values")
    wrong = [n for n in expected if not close(got[n], expected[n])]
    regularized = case.params["reg"] > 0
    found = [m for m, slip in _SLIPS.items() if (regularized or not m.startswith("reg_"))
             and all(close(got[n], v) for n, v in slip(inputs, case.params).items() if n in wrong)]
    return evidence("values", found)


def _conv_only(feature: Callable[[LayerCase], bool]) -> Callable[[Case], bool]:
    return lambda c: c.task in _NAIVE and feature(_as_naive(c))


DIAGNOSIS = Diagnosis(MISTAKES, error_evidence, missing_evidence, output_evidence,
                      {m: _conv_only(f) for m, f in layers.DIAGNOSIS.features.items()},
                      layers.DIAGNOSIS.patterns)
