"""Style: loops over the kernel taps instead of the output positions: each tap multiplies
a strided slice of the padded input; the pooling takes maxima over taps the same way."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param['stride']
    pad = conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo)) + b.reshape(1, F, 1, 1)
    for di in range(HH):
        for dj in range(WW):
            tap = xp[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride]
            out += np.einsum('nchw,fc->nfhw', tap, w[:, :, di, dj])
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for di in range(HH):
        for dj in range(WW):
            hs = slice(di, di + stride * (Ho - 1) + 1, stride)
            ws = slice(dj, dj + stride * (Wo - 1) + 1, stride)
            dw[:, :, di, dj] = np.einsum('nfhw,nchw->fc', dout, xp[:, :, hs, ws])
            dxp[:, :, hs, ws] += np.einsum('nfhw,fc->nchw', dout, w[:, :, di, dj])
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H, W = x.shape
    Ho = (H - ph) // stride + 1
    Wo = (W - pw) // stride + 1
    out = np.full((N, C, Ho, Wo), -np.inf)
    for di in range(ph):
        for dj in range(pw):
            tap = x[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride]
            out = np.maximum(out, tap)
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, Ho, Wo = dout.shape
    taps = [x[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride]
            for di in range(ph) for dj in range(pw)]
    winner = np.argmax(np.stack(taps), axis=0)
    dx = np.zeros_like(x)
    for t in range(ph * pw):
        di, dj = divmod(t, pw)
        dx[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride] += \
            np.where(winner == t, dout, 0.0)
    return dx
