"""Style: loops over window start positions, range(0, H_pad - HH + 1, stride), with
enumerate giving the output index; the padded input travels in the cache."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param['stride']
    pad = conv_param['pad']
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    N, C, Hp, Wp = x_pad.shape
    F, _, HH, WW = w.shape
    h_starts = range(0, Hp - HH + 1, stride)
    w_starts = range(0, Wp - WW + 1, stride)
    out = np.zeros((N, F, len(h_starts), len(w_starts)))
    for n in range(N):
        for oi, hs in enumerate(h_starts):
            for oj, ws in enumerate(w_starts):
                field = x_pad[n, :, hs:hs + HH, ws:ws + WW]
                out[n, :, oi, oj] = np.sum(field[None] * w, axis=(1, 2, 3)) + b
    cache = (x, x_pad, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, x_pad, w, b, conv_param = cache
    stride = conv_param['stride']
    pad = conv_param['pad']
    N, C, Hp, Wp = x_pad.shape
    F, _, HH, WW = w.shape
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for oi, hs in enumerate(range(0, Hp - HH + 1, stride)):
            for oj, ws in enumerate(range(0, Wp - WW + 1, stride)):
                g = dout[n, :, oi, oj]
                dw += g[:, None, None, None] * x_pad[n, :, hs:hs + HH, ws:ws + WW][None]
                dx_pad[n, :, hs:hs + HH, ws:ws + WW] += np.sum(g[:, None, None, None] * w, axis=0)
    dx = dx_pad[:, :, pad:Hp - pad, pad:Wp - pad]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H, W = x.shape
    h_starts = range(0, H - ph + 1, stride)
    w_starts = range(0, W - pw + 1, stride)
    out = np.zeros((N, C, len(h_starts), len(w_starts)))
    for oi, hs in enumerate(h_starts):
        for oj, ws in enumerate(w_starts):
            out[:, :, oi, oj] = x[:, :, hs:hs + ph, ws:ws + pw].max(axis=3).max(axis=2)
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H, W = x.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for oi, hs in enumerate(range(0, H - ph + 1, stride)):
                for oj, ws in enumerate(range(0, W - pw + 1, stride)):
                    flat_max = np.argmax(x[n, c, hs:hs + ph, ws:ws + pw])
                    dx[n, c, hs + flat_max // pw, ws + flat_max % pw] += dout[n, c, oi, oj]
    return dx
