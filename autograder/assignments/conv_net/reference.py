"""Trusted reference for the ``conv_net`` assignment (NCHW, float64, pure numpy).

Fast convolution and max pooling, the affine / ReLU / softmax layers, and the forward
and backward pass of the three-layer convnet
``conv - relu - 2x2 max pool - affine - relu - affine - softmax``.

Every function is pure: inputs are never written to (they are read through
``np.asarray(..., dtype=np.float64)`` and never modified in place), and results are
fresh float64 arrays. Convolutions are cross-correlations with zero padding; windows
are taken at ``stride`` steps from the top-left corner, and rows/cols left over when
the windows do not tile the (padded) input are not used in the forward pass and so get
zero gradient.

How the convolution is fast (one thread, float64): almost all of its work is a few
large, contiguous matrix products.

- The padded input is laid out channels-first, ``(C, N, H+2p, W+2p)``, and unfolded
  ("im2col") with ``sliding_window_view`` into one contiguous matrix ``cols`` of shape
  ``(C*HH*WW, N*H'*W')`` whose row order ``(c, i, j)`` is ``w.reshape(F, -1)``'s column
  order. The forward pass is then ONE matrix product ``(F, C*HH*WW) @ cols``.
- ``dw`` is one product ``dout_mat (F, N*H'*W') @ cols.T``.
- ``dx``: with stride 1 (and ``pad <= HH-1, WW-1``) the gradient of a correlation is the
  correlation of ``dout``, zero-padded by ``HH-1-pad`` / ``WW-1-pad``, with the flipped,
  channel-transposed kernel, so it is the same unfold plus one product. Otherwise
  ``dcols = w_mat.T @ dout_mat`` is folded back ("col2im") by one strided ``+=`` per
  kernel tap, so that overlapping windows accumulate.

Measured alternatives (per-tap accumulation of ``(F, C) @ (C, N*H'*W')`` products on a
flattened padded input, a stacked variant of it, NHWC im2col with the transposed
product, ``tensordot`` on the window view, chunking over the batch) were all as fast or
slower on N=64, C=F=64, 16x16, 3x3, stride 1, pad 1; ``benchmarks/fast_conv.py`` measures
this layer against the machine's matrix-product peak.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# The same output sizes as the naive layers' reference (floor; windows need not tile).
from ..conv_layers.reference import output_size

__all__ = [
    "output_size",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "softmax_loss",
    "three_layer_convnet_loss",
]


# ----------------------------------------------------------------------------- checks


def _float(name: str, a, ndim: int | None = None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def _check_shape(name: str, a, expected: tuple) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != tuple(expected):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(expected)}")
    return a


# ------------------------------------------------------------------------ convolution

def _pad_channels_first(a: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """(N, C, H, W) -> new zero-padded (C, N, H+2ph, W+2pw) array (one copy)."""
    N, C, H, W = a.shape
    out = np.zeros((C, N, H + 2 * ph, W + 2 * pw))
    out[:, :, ph:ph + H, pw:pw + W] = a.transpose(1, 0, 2, 3)
    return out


def _im2col(xp: np.ndarray, HH: int, WW: int, stride: int, Ho: int, Wo: int) -> np.ndarray:
    """Padded (C, N, Hp, Wp) -> contiguous cols (C*HH*WW, N*Ho*Wo).

    ``cols[(c, i, j), (n, r, s)] = xp[c, n, r*stride + i, s*stride + j]``.
    """
    C, N = xp.shape[:2]
    win = sliding_window_view(xp, (HH, WW), axis=(2, 3))        # (C, N, Hp-HH+1, Wp-WW+1, HH, WW)
    win = win[:, :, :stride * (Ho - 1) + 1:stride, :stride * (Wo - 1) + 1:stride]
    return np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3)).reshape(C * HH * WW, N * Ho * Wo)


def _correlate_cf(xp: np.ndarray, w_mat: np.ndarray, HH: int, WW: int, stride: int) -> np.ndarray:
    """Padded (C, N, Hp, Wp) and w_mat (F, C*HH*WW) -> (F, N, Ho, Wo): im2col + one product."""
    _, N, Hp, Wp = xp.shape
    Ho, Wo = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    out = w_mat @ _im2col(xp, HH, WW, stride, Ho, Wo)
    return out.reshape(w_mat.shape[0], N, Ho, Wo)


def _conv_setup(x, w, stride: int, pad: int):
    x, w = _float("x", x, 4), _float("w", w, 4)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channel mismatch: x has C={x.shape[1]} but w has C={w.shape[1]}")
    stride, pad = int(stride), int(pad)
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = output_size(H, HH, stride, pad), output_size(W, WW, stride, pad)
    return x, w, stride, pad, (N, F, Ho, Wo)


def conv_forward_fast(x, w, b, stride: int, pad: int) -> np.ndarray:
    """Convolution layer forward (cross-correlation, zero padding).

    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride >= 1; pad >= 0.

    Returns out (N, F, H', W') with H' = 1 + (H + 2*pad - HH) // stride and
    W' = 1 + (W + 2*pad - WW) // stride:
    ``out[n, f, r, s] = sum(x_pad[n, :, r*stride:r*stride+HH, s*stride:s*stride+WW] * w[f]) + b[f]``.
    """
    x, w, stride, pad, out_shape = _conv_setup(x, w, stride, pad)
    F, C, HH, WW = w.shape
    b = _check_shape("b", b, (F,))
    out = _correlate_cf(_pad_channels_first(x, pad, pad), w.reshape(F, C * HH * WW), HH, WW, stride)
    out += b[:, None, None, None]
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3))


def conv_backward_fast(dout, x, w, stride: int, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution layer backward.

    - dout: (N, F, H', W') upstream gradient; x: (N, C, H, W); w: (F, C, HH, WW);
      stride and pad as in the forward pass.

    Returns (dx, dw, db) with shapes (N, C, H, W), (F, C, HH, WW), (F,). Input rows/cols
    that no window covers (windows that do not tile) get zero gradient.
    """
    x, w, stride, pad, out_shape = _conv_setup(x, w, stride, pad)
    dout = _check_shape("dout", dout, out_shape)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = out_shape[2:]

    dout_cf = np.ascontiguousarray(dout.transpose(1, 0, 2, 3))   # (F, N, Ho, Wo)
    dout_mat = dout_cf.reshape(F, N * Ho * Wo)
    db = dout_mat.sum(axis=1)
    cols = _im2col(_pad_channels_first(x, pad, pad), HH, WW, stride, Ho, Wo)
    dw = (dout_mat @ cols.T).reshape(F, C, HH, WW)
    del cols

    if stride == 1 and pad <= HH - 1 and pad <= WW - 1:
        # d/dx of a stride-1 correlation: correlate dout, padded by HH-1-pad (WW-1-pad),
        # with the kernel flipped in space and with its two channel axes swapped.
        w_flip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, F * HH * WW)
        dp = np.zeros((F, N, Ho + 2 * (HH - 1 - pad), Wo + 2 * (WW - 1 - pad)))
        dp[:, :, HH - 1 - pad:HH - 1 - pad + Ho, WW - 1 - pad:WW - 1 - pad + Wo] = dout_cf
        dx_cf = _correlate_cf(dp, w_flip, HH, WW, 1)              # (C, N, H, W)
    else:
        # col2im: kernel tap (i, j) of window (r, s) read padded pixel
        # (r*stride + i, s*stride + j); scatter each tap back on that strided grid.
        dcols = (w.reshape(F, C * HH * WW).T @ dout_mat).reshape(C, HH, WW, N, Ho, Wo)
        dxp = np.zeros((C, N, H + 2 * pad, W + 2 * pad))
        for i in range(HH):
            for j in range(WW):
                dxp[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride] += dcols[:, i, j]
        # Explicit end index: dxp[..., pad:-pad] would be empty when pad == 0.
        dx_cf = dxp[:, :, pad:pad + H, pad:pad + W]
    dx = np.ascontiguousarray(dx_cf.transpose(1, 0, 2, 3))
    return dx, dw, db


# ------------------------------------------------------------------------ max pooling

def _pool_setup(x, ph: int, pw: int, stride: int):
    x = _float("x", x, 4)
    ph, pw, stride = int(ph), int(pw), int(stride)
    N, C, H, W = x.shape
    return x, ph, pw, stride, (N, C, output_size(H, ph, stride), output_size(W, pw, stride))


def max_pool_forward_fast(x, ph: int, pw: int, stride: int) -> np.ndarray:
    """Max pooling forward, no padding.

    - x: (N, C, H, W); windows ph x pw at steps of ``stride`` (may overlap, need not tile).

    Returns out (N, C, H', W'), H' = 1 + (H - ph) // stride, W' = 1 + (W - pw) // stride.
    """
    x, ph, pw, stride, (N, C, Ho, Wo) = _pool_setup(x, ph, pw, stride)
    if ph == pw == stride:
        # Non-overlapping windows: crop what they do not reach, then one reshape.
        blocks = x[:, :, :Ho * ph, :Wo * pw].reshape(N, C, Ho, ph, Wo, pw)
        return blocks.max(axis=(3, 5))
    win = sliding_window_view(x, (ph, pw), axis=(2, 3))
    return win[:, :, :stride * (Ho - 1) + 1:stride, :stride * (Wo - 1) + 1:stride].max(axis=(4, 5))


def max_pool_backward_fast(dout, x, ph: int, pw: int, stride: int) -> np.ndarray:
    """Max pooling backward.

    - dout: (N, C, H', W'); x: (N, C, H, W) the forward input; ph, pw, stride as forward.

    Returns dx (N, C, H, W): each window routes its upstream gradient to its maximum
    (the first one in row-major order within the window when tied); overlapping windows
    ACCUMULATE (+=); entries that no window covers get zero.
    """
    x, ph, pw, stride, out_shape = _pool_setup(x, ph, pw, stride)
    dout = _check_shape("dout", dout, out_shape)
    N, C, Ho, Wo = out_shape
    dx = np.zeros_like(x)
    if ph == pw == stride:
        # Windows are disjoint blocks: put each block's window axes last, argmax over
        # them (row-major, so ties go to the first), and write a one-hot back.
        blocks = x[:, :, :Ho * ph, :Wo * pw].reshape(N, C, Ho, ph, Wo, pw)
        flat = blocks.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, Ho, Wo, ph * pw)
        onehot = np.arange(ph * pw) == flat.argmax(axis=-1)[..., None]
        routed = (onehot * dout[..., None]).reshape(N, C, Ho, Wo, ph, pw)
        dx[:, :, :Ho * ph, :Wo * pw] = routed.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, Ho * ph, Wo * pw)
        return dx
    win = sliding_window_view(x, (ph, pw), axis=(2, 3))
    win = win[:, :, :stride * (Ho - 1) + 1:stride, :stride * (Wo - 1) + 1:stride]
    winner = win.reshape(N, C, Ho, Wo, ph * pw).argmax(axis=-1)
    for i in range(ph):
        for j in range(pw):
            routed = np.where(winner == i * pw + j, dout, 0.0)
            dx[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride] += routed
    return dx


# ----------------------------------------------------------- affine, ReLU and softmax

def affine_forward(x, w, b) -> np.ndarray:
    """x (N, d_1, ..., d_k) flattened row-major to (N, D), w (D, M), b (M,) -> out (N, M)."""
    x, w = _float("x", x), _float("w", w, 2)
    xm = x.reshape(x.shape[0], -1)
    if xm.shape[1] != w.shape[0]:
        raise ValueError(f"x flattens to {xm.shape} but w has shape {w.shape}")
    b = _check_shape("b", b, (w.shape[1],))
    return xm @ w + b


def affine_backward(dout, x, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout (N, M), x (N, d_1, ..., d_k), w (D, M) -> dx (shaped like x), dw (D, M), db (M,)."""
    x, w = _float("x", x), _float("w", w, 2)
    dout = _check_shape("dout", dout, (x.shape[0], w.shape[1]))
    xm = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), xm.T @ dout, dout.sum(axis=0)


def relu_forward(x) -> np.ndarray:
    """x of any shape -> max(0, x), same shape."""
    return np.maximum(_float("x", x), 0.0)


def relu_backward(dout, x) -> np.ndarray:
    """dout and x of the same shape -> dx = dout where x > 0, else 0."""
    x = _float("x", x)
    dout = _check_shape("dout", dout, x.shape)
    return np.where(x > 0, dout, 0.0)


def softmax_loss(scores, y) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy.

    - scores: (N, K) class scores; y: (N,) integer labels in [0, K).

    Returns (loss, dscores): a float and the (N, K) gradient of the loss.
    """
    scores = _float("scores", scores, 2)
    y = np.asarray(y)
    N, K = scores.shape
    if y.shape != (N,):
        raise ValueError(f"y has shape {y.shape}, expected ({N},)")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if N and (y.min() < 0 or y.max() >= K):
        raise ValueError(f"labels must be in [0, {K}), got range [{y.min()}, {y.max()}]")
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(N), y].mean())
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1.0
    return loss, dscores / N


# ------------------------------------------------------------- the three-layer convnet

_PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def three_layer_convnet_loss(params: dict, X, y=None, reg: float = 0.0, filter_size: int | None = None):
    """Forward (and backward) pass of the three-layer convnet

        conv (stride 1, pad (filter_size-1)//2) - relu - 2x2 max pool (stride 2)
        - affine - relu - affine - softmax

    - params: dict with W1 (F, C, fs, fs), b1 (F,), W2 (F*(H//2)*(W//2), hidden), b2 (hidden,),
      W3 (hidden, classes), b3 (classes,) (the layout of CS231n's ThreeLayerConvNet; the
      pooled activations (N, F, H//2, W//2) are flattened row-major before the affine).
      With an odd filter size the conv keeps H x W.
    - X: (N, C, H, W) images; y: None or (N,) integer labels.
    - reg: L2 strength; the loss gets 0.5 * reg * sum(W**2) for W1, W2 and W3, and
      their gradients get reg * W (the biases are not regularized).
    - filter_size: defaults to W1.shape[2]; if given it must equal W1's (square) size.

    Returns scores (N, classes) if y is None, else (loss, grads) with grads a dict of the
    same keys and shapes as params.
    """
    missing = [k for k in _PARAMS if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    W1, b1, W2, b2, W3, b3 = (np.asarray(params[k], dtype=np.float64) for k in _PARAMS)
    fs = W1.shape[2] if filter_size is None else int(filter_size)
    if W1.ndim != 4 or W1.shape[2:] != (fs, fs):
        raise ValueError(f"W1 has shape {W1.shape}, expected (F, C, {fs}, {fs})")
    pad = (fs - 1) // 2
    X = _float("X", X, 4)

    conv = conv_forward_fast(X, W1, b1, 1, pad)
    a1 = relu_forward(conv)
    pooled = max_pool_forward_fast(a1, 2, 2, 2)
    h = affine_forward(pooled, W2, b2)
    a2 = relu_forward(h)
    scores = affine_forward(a2, W3, b3)
    if y is None:
        return scores

    data_loss, dscores = softmax_loss(scores, y)
    reg = float(reg)
    loss = data_loss + 0.5 * reg * float(np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))

    grads = {}
    da2, grads["W3"], grads["b3"] = affine_backward(dscores, a2, W3)
    dpooled, grads["W2"], grads["b2"] = affine_backward(relu_backward(da2, h), pooled, W2)
    da1 = max_pool_backward_fast(dpooled, a1, 2, 2, 2)
    _, grads["W1"], grads["b1"] = conv_backward_fast(relu_backward(da1, conv), X, W1, 1, pad)
    for k, Wk in (("W1", W1), ("W2", W2), ("W3", W3)):
        grads[k] = grads[k] + reg * Wk
    return loss, grads
