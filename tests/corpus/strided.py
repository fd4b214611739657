"""Style: a window view from np.lib.stride_tricks.as_strided, (N, C, H', W', HH, WW), then
tensordot/einsum on it; the gradients scatter back with one loop over kernel taps or
windows."""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def window_view(a, kh, kw, stride):
    """All kh x kw windows of a (N, C, H, W), every `stride` pixels: (N, C, H', W', kh, kw)."""
    N, C, H, W = a.shape
    out_h = (H - kh) // stride + 1
    out_w = (W - kw) // stride + 1
    sN, sC, sH, sW = a.strides
    return as_strided(a, shape=(N, C, out_h, out_w, kh, kw),
                      strides=(sN, sC, sH * stride, sW * stride, sH, sW), writeable=False)


def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param['stride']
    pad = conv_param['pad']
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    windows = window_view(x_pad, w.shape[2], w.shape[3], stride)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))   # (N, H', W', F)
    out = out.transpose(0, 3, 1, 2) + b.reshape(1, -1, 1, 1)
    cache = (x, w, b, conv_param)
    return np.ascontiguousarray(out), cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride = conv_param['stride']
    pad = conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    out_h, out_w = dout.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    windows = window_view(x_pad, HH, WW, stride)
    db = dout.sum(axis=(0, 2, 3))
    dw = np.einsum('nfhw,nchwpq->fcpq', dout, windows)
    dx_pad = np.zeros(x_pad.shape)
    for p in range(HH):
        for q in range(WW):
            rows = slice(p, p + stride * out_h, stride)
            cols = slice(q, q + stride * out_w, stride)
            dx_pad[:, :, rows, cols] += np.einsum('nfhw,fc->nchw', dout, w[:, :, p, q])
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    windows = window_view(x, ph, pw, stride)
    out = windows.max(axis=(4, 5))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, out_h, out_w = dout.shape
    windows = window_view(x, ph, pw, stride)
    flat = windows.reshape(N, C, out_h, out_w, ph * pw)
    winner = flat.argmax(axis=4)
    dx = np.zeros(x.shape)
    for i in range(out_h):
        for j in range(out_w):
            r, s = np.divmod(winner[:, :, i, j], pw)
            for n in range(N):
                for c in range(C):
                    dx[n, c, i * stride + r[n, c], j * stride + s[n, c]] += dout[n, c, i, j]
    return dx
