"""How the hidden tests of conv_net call the student's code (runs in the student's kernel as
``autograder_calls.py``; it imports nothing from the grader but the harness's helper and
holds no expected values).

The speed case runs the student's forward and backward pass ``repeats`` times; the trusted
side times the whole hidden cell from outside the kernel. The network's cases build the
student's ``ThreeLayerConvNet``, give it the case's parameters and call its ``loss``; the
gradient-check case also computes, here, the numerical gradient of the student's own loss.
"""
import numpy as np
from autograder_harness import returned

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
FUNCTIONS = {
    "conv_forward_fast": ("conv_forward_fast",),
    "conv_backward_fast": ("conv_forward_fast", "conv_backward_fast"),
    "conv_speed": ("conv_forward_fast", "conv_backward_fast"),
    "ThreeLayerConvNet": ("ThreeLayerConvNet",),
    "trained_model": (),
}
# Names a task reads from the notebook that are values, not functions.
VALUES = {"trained_model": ("model",)}


def _conv(fns, params, inputs, backward):
    conv_param = {"stride": params["stride"], "pad": params["pad"]}
    out, cache = returned(fns["conv_forward_fast"](inputs["x"], inputs["w"], inputs["b"], conv_param),
                          2, "conv_forward_fast", "(out, cache)")
    if not backward:
        return {"out": out}
    grads = returned(fns["conv_backward_fast"](inputs["dout"], cache), 3, "conv_backward_fast",
                     "(dx, dw, db)")
    return {"out": out, **dict(zip(("dx", "dw", "db"), grads))}


def _net(cls, params, inputs):
    model = cls(input_dim=(params["C"], params["H"], params["W"]), num_filters=params["F"],
                filter_size=params["fs"], hidden_dim=params["hidden"],
                num_classes=params["classes"], weight_scale=1e-2, reg=params["reg"],
                dtype=np.float64)
    if params["kind"] == "init":
        return {k: np.asarray(model.params[k]) for k in PARAMS}
    for k in PARAMS:
        model.params[k] = inputs[k].copy()
    if params["kind"] == "scores":
        return {"scores": model.loss(inputs["X"].copy())}
    loss, grads = returned(model.loss(inputs["X"].copy(), inputs["y"].copy()), 2,
                           "ThreeLayerConvNet.loss", "(loss, grads)")
    out = {"loss": np.asarray(loss, dtype=np.float64)}
    out.update({"d" + k: grads[k] for k in PARAMS})
    if params["kind"] == "gradcheck":
        out.update({"num_d" + k: _numerical(model, inputs, k, params["h"]) for k in PARAMS})
    return out


def _numerical(model, inputs, name, h):
    """Central differences of the student's own loss in each entry of parameter ``name``."""
    p = model.params[name]
    grad = np.zeros(p.shape)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + h
        plus = model.loss(inputs["X"].copy(), inputs["y"].copy())[0]
        p[i] = old - h
        minus = model.loss(inputs["X"].copy(), inputs["y"].copy())[0]
        p[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def call(task, fns, params, inputs):
    """Run one case of ``task``; the named outputs."""
    if task == "conv_forward_fast":
        return _conv(fns, params, inputs, False)
    if task == "conv_backward_fast":
        outputs = _conv(fns, params, inputs, True)
        del outputs["out"]
        return outputs
    if task == "conv_speed":
        for _ in range(params["repeats"]):
            outputs = _conv(fns, params, inputs, True)
        return outputs
    if task == "ThreeLayerConvNet":
        return _net(fns["ThreeLayerConvNet"], params, inputs)
    model = fns["model"]
    if model is None or not isinstance(getattr(model, "params", None), dict):
        raise ValueError("model is not a trained ThreeLayerConvNet: run the training cell")
    return {k: np.asarray(model.params[k]) for k in PARAMS if k in model.params}
