"""Mutation suite and synthetic class of conv_net: a correct solution as a student writes it
(im2col built tap by tap, col2im, a network with its own softmax), the mistakes of the
assignment as edits to it, and the demo's class. ``broken`` lists the tasks each mutant must
lose points in: the network is built from the student's own convolution, and the trained
model from the network."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ... import answers
from ...answers import Mutant, apply

CONV_FWD, CONV_BWD, SPEED = "conv_forward_fast", "conv_backward_fast", "conv_speed"
NET, TRAINED = "ThreeLayerConvNet", "trained_model"

STUDENT_BODIES = {
    CONV_FWD: """\
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((C, HH, WW, N, H_out, W_out))
    for i in range(HH):
        for j in range(WW):
            patch = x_pad[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride]
            cols[:, i, j] = patch.transpose(1, 0, 2, 3)
    cols = cols.reshape(C * HH * WW, -1)
    res = w.reshape(F, -1).dot(cols) + b.reshape(-1, 1)
    out = res.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    cache = (x, w, b, conv_param, cols)
""",
    CONV_BWD: """\
    x, w, b, conv_param, cols = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    db = dout_mat.sum(axis=1)
    dw = dout_mat.dot(cols.T).reshape(F, C, HH, WW)
    dcols = w.reshape(F, -1).T.dot(dout_mat).reshape(C, HH, WW, N, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(HH):
        for j in range(WW):
            rows, columns = slice(i, i + stride * H_out, stride), slice(j, j + stride * W_out, stride)
            dx_pad[:, :, rows, columns] += dcols[:, i, j].transpose(1, 0, 2, 3)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
""",
    NET: ["""\
        C, H, W = input_dim
        F = num_filters
        self.params['W1'] = np.random.normal(0, weight_scale, (F, C, filter_size, filter_size))
        self.params['b1'] = np.zeros(F)
        self.params['W2'] = np.random.normal(0, weight_scale, (F * (H // 2) * (W // 2), hidden_dim))
        self.params['b2'] = np.zeros(hidden_dim)
        self.params['W3'] = np.random.normal(0, weight_scale, (hidden_dim, num_classes))
        self.params['b3'] = np.zeros(num_classes)
""", """\
        out1, cache1 = conv_forward_fast(X, W1, b1, conv_param)
        r1, rcache1 = relu_forward(out1)
        p1, pcache = max_pool_forward_fast(r1, pool_param)
        h1, hcache = affine_forward(p1, W2, b2)
        r2, rcache2 = relu_forward(h1)
        scores, scache = affine_forward(r2, W3, b3)
""", """\
        N = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(N), y]))
        loss += 0.5 * self.reg * sum(np.sum(self.params[k] ** 2) for k in ('W1', 'W2', 'W3'))
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        dr2, grads['W3'], grads['b3'] = affine_backward(dscores, scache)
        dh1 = relu_backward(dr2, rcache2)
        dp1, grads['W2'], grads['b2'] = affine_backward(dh1, hcache)
        dr1 = max_pool_backward_fast(dp1, pcache)
        dout1 = relu_backward(dr1, rcache1)
        _, grads['W1'], grads['b1'] = conv_backward_fast(dout1, cache1)
        for k in ('W1', 'W2', 'W3'):
            grads[k] = grads[k] + self.reg * self.params[k]
"""],
    TRAINED: """\
np.random.seed(1)
model = ThreeLayerConvNet(num_filters=4, filter_size=3, hidden_dim=100, weight_scale=5e-2,
                          reg=1e-3)
solver = Solver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-2},
                lr_decay=0.85, batch_size=8, num_epochs=10, num_train_samples=200,
                time_limit=75, verbose=False)
solver.train()
""",
}

MUTANTS: tuple[Mutant, ...] = (
    Mutant("im2col_order", "weights flattened (F, HH, WW, C) against columns in (C, HH, WW) order",
           ((CONV_FWD, "res = w.reshape(F, -1).dot(cols)", "res = w.transpose(0, 2, 3, 1).reshape(F, -1).dot(cols)"),),
           (CONV_FWD, SPEED, NET)),
    Mutant("axes_scrambled", "the (F, N, H', W') product reshaped to (N, F, H', W') without a transpose",
           ((CONV_FWD, "out = res.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)",
             "out = res.reshape(N, F, H_out, W_out)"),),
           (CONV_FWD, SPEED, NET, TRAINED)),
    Mutant("grad_overwrite", "col2im assigns each tap where overlapping windows must add up",
           ((CONV_BWD, "dx_pad[:, :, rows, columns] += ", "dx_pad[:, :, rows, columns] = "),),
           (CONV_BWD, SPEED)),
    Mutant("matmul_order", "the transpose of the columns left out of the product for dw",
           ((CONV_BWD, "dw = dout_mat.dot(cols.T)", "dw = dout_mat.dot(cols)"),),
           (CONV_BWD, SPEED, NET, TRAINED)),
    Mutant("reg_missing_loss", "the L2 term left out of the loss",
           ((NET, "        loss += 0.5 * self.reg * sum(np.sum(self.params[k] ** 2) for k in ('W1', 'W2', 'W3'))\n", ""),),
           (NET,)),
    Mutant("reg_missing_grads", "reg * W left out of the gradients",
           ((NET, "grads[k] = grads[k] + self.reg * self.params[k]", "grads[k] = grads[k]"),),
           (NET,)),
    Mutant("softmax_not_divided", "the softmax gradient not divided by N",
           ((NET, "        dscores /= N\n", ""),),
           (NET,)),
    Mutant("relu_mask_wrong", "both ReLU masks taken from the upstream gradient",
           ((NET, "dh1 = relu_backward(dr2, rcache2)", "dh1 = dr2 * (dr2 > 0)"),
            (NET, "dout1 = relu_backward(dr1, rcache1)", "dout1 = dr1 * (dr1 > 0)")),
           (NET, TRAINED)),
    Mutant("pool_dims", "W2 sized for the feature maps before the pool",
           ((NET, "(F * (H // 2) * (W // 2), hidden_dim)", "(F * H * W, hidden_dim)"),),
           (NET, TRAINED)),
)

# A "fast" convolution that loops over every output value: right, and slow.
LOOPED_FORWARD = """\
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param, None)
"""
LOOPED_BACKWARD = """\
    x, w, b, conv_param, _ = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros(x_pad.shape), np.zeros(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    columns = slice(j * stride, j * stride + WW)
                    dx_pad[n, :, rows, columns] += w[f] * dout[n, f, i, j]
                    dw[f] += x_pad[n, :, rows, columns] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
"""


def student_answers(release_nb: str | Path) -> dict[str, str]:
    """The release's answer cells with ``STUDENT_BODIES`` in place of their stubs."""
    return answers.student_answers(release_nb, STUDENT_BODIES)


def looped(release_nb: str | Path) -> dict[str, str]:
    """A correct submission whose fast convolution is the naive loops."""
    return answers.student_answers(release_nb, STUDENT_BODIES | {
        CONV_FWD: LOOPED_FORWARD, CONV_BWD: LOOPED_BACKWARD})


def synthetic_class(release_nb: Path) -> dict[str, Optional[dict[str, str]]]:
    """The demo's class: a correct student, one per mutant, loops for the fast layer, a
    blank release, and a model that was never trained (its initial weights)."""
    good = student_answers(release_nb)
    students: dict[str, Optional[dict[str, str]]] = {"correct": good}
    for m in MUTANTS:
        students[f"mistake_{m.name}"] = apply(m, good)
    students["looped_fast_conv"] = looped(release_nb)
    students["blank"] = None
    students["untrained"] = good | {TRAINED: "model = ThreeLayerConvNet(num_filters=12, "
                                              "filter_size=5, hidden_dim=80)\nsolver = None\n"}
    return students

