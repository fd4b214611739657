"""Style: loops over output positions with np.tensordot over (C, HH, WW); the pooling
loops over positions and builds a boolean mask of each window's maximum."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, p = conv_param['stride'], conv_param['pad']
    Hout = (H + 2 * p - HH) // s + 1
    Wout = (W + 2 * p - WW) // s + 1
    xpad = np.pad(x, ((0,), (0,), (p,), (p,)), 'constant')
    out = np.zeros((N, F, Hout, Wout))
    for r in range(Hout):
        for c in range(Wout):
            block = xpad[:, :, r * s:r * s + HH, c * s:c * s + WW]
            out[:, :, r, c] = np.tensordot(block, w, axes=([1, 2, 3], [1, 2, 3])) + b
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, _, conv_param = cache
    s, p = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    HH, WW = w.shape[2], w.shape[3]
    Hout, Wout = dout.shape[-2:]
    xpad = np.pad(x, ((0,), (0,), (p,), (p,)), 'constant')
    dxpad = np.zeros_like(xpad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for r in range(Hout):
        for c in range(Wout):
            block = xpad[:, :, r * s:r * s + HH, c * s:c * s + WW]
            dw += np.tensordot(dout[:, :, r, c], block, axes=([0], [0]))
            dxpad[:, :, r * s:r * s + HH, c * s:c * s + WW] += np.tensordot(
                dout[:, :, r, c], w, axes=([1], [0]))
    dx = dxpad[:, :, p:p + H, p:p + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    HH, WW, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    Hout = (H - HH) // s + 1
    Wout = (W - WW) // s + 1
    out = np.zeros((N, C, Hout, Wout))
    for r in range(Hout):
        for c in range(Wout):
            out[:, :, r, c] = np.amax(x[:, :, r * s:r * s + HH, c * s:c * s + WW], axis=(-1, -2))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    HH, WW, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    Hout, Wout = dout.shape[-2:]
    dx = np.zeros_like(x)
    for r in range(Hout):
        for c in range(Wout):
            block = x[:, :, r * s:r * s + HH, c * s:c * s + WW]
            biggest = np.amax(block, axis=(-1, -2), keepdims=True)
            dx[:, :, r * s:r * s + HH, c * s:c * s + WW] += \
                (block == biggest) * dout[:, :, r, c][:, :, None, None]
    return dx
