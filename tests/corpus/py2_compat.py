"""Style: a layers.py from a Python 2/3 course year: the compatibility imports of the
CS231n starter code, true division with int() for the sizes, print() left in, and a
mask (window == max) in the pool backward."""
from __future__ import print_function, division
from builtins import range
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    out = None
    pad = conv_param['pad']
    stride = conv_param['stride']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_new = int((H + 2 * pad - HH) / stride) + 1
    W_new = int((W + 2 * pad - WW) / stride) + 1
    # print('conv_forward_naive: out will be', (N, F, H_new, W_new))
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode='constant',
                    constant_values=0)
    out = np.zeros((N, F, H_new, W_new))
    for f in range(F):
        for n in range(N):
            for r in range(H_new):
                for s in range(W_new):
                    patch = padded[n, :, r * stride:r * stride + HH, s * stride:s * stride + WW]
                    out[n, f, r, s] = (patch * w[f, :, :, :]).sum() + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    dx, dw, db = None, None, None
    x, w, b, conv_param = cache
    pad = conv_param['pad']
    stride = conv_param['stride']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_new, W_new = dout.shape[2], dout.shape[3]
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode='constant',
                    constant_values=0)
    dpadded = np.zeros(padded.shape)
    dw = np.zeros(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    for f in range(F):
        for n in range(N):
            for r in range(H_new):
                for s in range(W_new):
                    g = dout[n, f, r, s]
                    dw[f] += g * padded[n, :, r * stride:r * stride + HH, s * stride:s * stride + WW]
                    dpadded[n, :, r * stride:r * stride + HH, s * stride:s * stride + WW] += g * w[f]
    dx = dpadded[:, :, pad:pad + H, pad:pad + W]
    print('conv_backward_naive: dx', dx.shape, 'dw', dw.shape, 'db', db.shape)
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    out = None
    N, C, H, W = x.shape
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    H_new = int((H - ph) / stride) + 1
    W_new = int((W - pw) / stride) + 1
    out = np.zeros((N, C, H_new, W_new))
    for r in range(H_new):
        for s in range(W_new):
            region = x[:, :, r * stride:r * stride + ph, s * stride:s * stride + pw]
            out[:, :, r, s] = np.max(region, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    dx = None
    x, pool_param = cache
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H_new, W_new = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for r in range(H_new):
                for s in range(W_new):
                    region = x[n, c, r * stride:r * stride + ph, s * stride:s * stride + pw]
                    mask = (region == np.max(region))
                    dx[n, c, r * stride:r * stride + ph, s * stride:s * stride + pw] += \
                        mask * dout[n, c, r, s]
    return dx
