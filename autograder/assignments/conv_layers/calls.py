"""How the hidden tests of conv_layers call the student's functions (runs in the student's
kernel beside the engine's harness, as ``autograder_calls.py``; it imports nothing from the
grader and holds no expected values).

A backward task gets its cache from the student's own forward function, as the notebook's
API says; ``dout`` is one of the task's inputs.
"""
from autograder_harness import returned

# The student's functions each task calls, in order.
FUNCTIONS = {
    "conv_forward_naive": ("conv_forward_naive",),
    "conv_backward_naive": ("conv_forward_naive", "conv_backward_naive"),
    "max_pool_forward_naive": ("max_pool_forward_naive",),
    "max_pool_backward_naive": ("max_pool_forward_naive", "max_pool_backward_naive"),
}


def call(task, fns, params, inputs):
    """Run one case of ``task`` with the student's functions ``fns``; the named outputs."""
    x = inputs["x"]
    if task.startswith("conv"):
        conv_param = {"stride": params["stride"], "pad": params["pad"]}
        out, cache = returned(fns["conv_forward_naive"](x, inputs["w"], inputs["b"], conv_param),
                              2, "conv_forward_naive", "(out, cache)")
        if task == "conv_forward_naive":
            return {"out": out}
        grads = returned(fns["conv_backward_naive"](inputs["dout"], cache), 3,
                         "conv_backward_naive", "(dx, dw, db)")
        return dict(zip(("dx", "dw", "db"), grads))
    pool_param = {"pool_height": params["ph"], "pool_width": params["pw"],
                  "stride": params["stride"]}
    out, cache = returned(fns["max_pool_forward_naive"](x, pool_param), 2,
                          "max_pool_forward_naive", "(out, cache)")
    if task == "max_pool_forward_naive":
        return {"out": out}
    return {"dx": fns["max_pool_backward_naive"](inputs["dout"], cache)}
