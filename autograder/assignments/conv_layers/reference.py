"""Trusted reference implementations of conv and max-pool layers (NCHW, float64).

Every function is pure: inputs are never written to, and results are fresh
float64 arrays. Windows are taken at ``stride`` steps from the top-left corner;
rows/cols left over when windows do not tile the (padded) input are ignored in
the forward pass and therefore receive zero gradient.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "output_size",
    "conv_forward",
    "conv_backward",
    "max_pool_forward",
    "max_pool_backward",
]


def output_size(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    """1 + (size + 2*pad - kernel) // stride  (floor, like PyTorch; windows need not tile)."""
    if stride < 1 or pad < 0 or kernel < 1:
        raise ValueError(f"need stride >= 1, pad >= 0, kernel >= 1; got {stride=}, {pad=}, {kernel=}")
    if kernel > size + 2 * pad:
        raise ValueError(f"kernel {kernel} is larger than the padded input size {size + 2 * pad}")
    return 1 + (size + 2 * pad - kernel) // stride


def _as_4d(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D, got shape {a.shape}")
    return a


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """(N,C,H,W) -> read-only view (N,C,H',W',kh,kw) of every stride-th window."""
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def _check_dout(dout, expected: tuple) -> np.ndarray:
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != expected:
        raise ValueError(f"dout has shape {dout.shape}, expected {expected}")
    return dout


def _conv_setup(x, w, stride: int, pad: int):
    x, w = _as_4d("x", x), _as_4d("w", w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channel mismatch: x has C={x.shape[1]} but w has C={w.shape[1]}")
    _, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = output_size(H, HH, stride, pad), output_size(W, WW, stride, pad)
    # np.pad always returns a new array, so x itself is never touched.
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return x, w, xp, (x.shape[0], F, Ho, Wo)


def conv_forward(x, w, b, stride: int, pad: int) -> np.ndarray:
    """x (N,C,H,W), w (F,C,HH,WW), b (F,) -> out (N,F,H',W'). Zero padding, cross-correlation (no kernel flip)."""
    x, w, xp, out_shape = _conv_setup(x, w, stride, pad)
    b = np.asarray(b, dtype=np.float64)
    if b.shape != (w.shape[0],):
        raise ValueError(f"b has shape {b.shape}, expected ({w.shape[0]},)")
    cols = _windows(xp, w.shape[2], w.shape[3], stride)
    out = np.einsum("nchwij,fcij->nfhw", cols, w, optimize=True)
    return out + b[None, :, None, None]


def conv_backward(dout, x, w, stride: int, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout (N,F,H',W') -> dx (N,C,H,W), dw (F,C,HH,WW), db (F,). Padded rows/cols that no window reaches get zero gradient; rows/cols of the input that no window covers (windows that do not tile) get zero gradient."""
    x, w, xp, out_shape = _conv_setup(x, w, stride, pad)
    dout = _check_dout(dout, out_shape)
    _, _, H, W = x.shape
    _, _, HH, WW = w.shape
    Ho, Wo = out_shape[2:]

    db = dout.sum(axis=(0, 2, 3))
    dw = np.einsum("nfhw,nchwij->fcij", dout, _windows(xp, HH, WW, stride), optimize=True)

    # Kernel tap (i, j) touched padded pixels i, i+stride, ..., so scatter each
    # tap's contribution onto that strided grid; overlaps accumulate via +=.
    dxp = np.zeros_like(xp)
    for i in range(HH):
        for j in range(WW):
            dxp[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride] += \
                np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    # Explicit end index: dxp[..., pad:-pad] would be empty when pad == 0.
    dx = dxp[:, :, pad:pad + H, pad:pad + W].copy()
    return dx, dw, db


def _pool_setup(x, pool_height: int, pool_width: int, stride: int):
    x = _as_4d("x", x)
    N, C, H, W = x.shape
    Ho, Wo = output_size(H, pool_height, stride), output_size(W, pool_width, stride)
    return x, (N, C, Ho, Wo)


def max_pool_forward(x, pool_height: int, pool_width: int, stride: int) -> np.ndarray:
    """x (N,C,H,W) -> out (N,C,H',W') with H' = output_size(H, pool_height, stride), W' likewise. No padding."""
    x, _ = _pool_setup(x, pool_height, pool_width, stride)
    return _windows(x, pool_height, pool_width, stride).max(axis=(4, 5))


def max_pool_backward(dout, x, pool_height: int, pool_width: int, stride: int) -> np.ndarray:
    """dout (N,C,H',W') -> dx (N,C,H,W). Each window routes its upstream gradient to its argmax (first max in row-major order within the window if tied); overlapping windows (stride < pool size) ACCUMULATE (+=) into dx."""
    x, out_shape = _pool_setup(x, pool_height, pool_width, stride)
    dout = _check_dout(dout, out_shape)
    N, C, Ho, Wo = out_shape

    # Flattening each window row-major makes argmax's first-hit rule the tie rule.
    flat = _windows(x, pool_height, pool_width, stride).reshape(N, C, Ho, Wo, -1)
    winner = flat.argmax(axis=-1)

    dx = np.zeros_like(x)
    for i in range(pool_height):
        for j in range(pool_width):
            routed = np.where(winner == i * pool_width + j, dout, 0.0)
            dx[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride] += routed
    return dx
