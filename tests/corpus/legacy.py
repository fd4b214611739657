"""Style: Python 2 habits kept alive: the xrange fallback, `from __future__ import
division` with int() sizes, a list as the cache, np.dot on flattened windows."""
from __future__ import division
import numpy as np

try:
    xrange
except NameError:
    xrange = range


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, C, HH, WW = w.shape
    S, P = conv_param['stride'], conv_param['pad']
    Hn = int(1 + (H + 2 * P - HH) / S)
    Wn = int(1 + (W + 2 * P - WW) / S)
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), 'constant', constant_values=0.0)
    wf = w.reshape(F, -1)
    out = np.zeros((N, F, Hn, Wn))
    for n in xrange(N):
        for hi in xrange(Hn):
            for wi in xrange(Wn):
                col = xp[n, :, hi * S:hi * S + HH, wi * S:wi * S + WW].reshape(-1)
                out[n, :, hi, wi] = np.dot(wf, col) + b
    cache = [x, w, b, conv_param]
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, C, HH, WW = w.shape
    S, P = conv_param['stride'], conv_param['pad']
    Hn, Wn = dout.shape[2], dout.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), 'constant', constant_values=0.0)
    dxp = np.zeros(xp.shape)
    wf = w.reshape(F, -1)
    dwf = np.zeros(wf.shape)
    for n in xrange(N):
        for hi in xrange(Hn):
            for wi in xrange(Wn):
                col = xp[n, :, hi * S:hi * S + HH, wi * S:wi * S + WW].reshape(-1)
                dwf += np.outer(dout[n, :, hi, wi], col)
                dcol = np.dot(wf.T, dout[n, :, hi, wi])
                dxp[n, :, hi * S:hi * S + HH, wi * S:wi * S + WW] += dcol.reshape(C, HH, WW)
    dw = dwf.reshape(w.shape)
    db = np.sum(np.sum(np.sum(dout, axis=0), axis=1), axis=1)
    dx = dxp[:, :, P:P + H, P:P + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    PH, PW, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    Hn = int(1 + (H - PH) / S)
    Wn = int(1 + (W - PW) / S)
    out = np.zeros((N, C, Hn, Wn))
    for n in xrange(N):
        for ch in xrange(C):
            for hi in xrange(Hn):
                for wi in xrange(Wn):
                    out[n, ch, hi, wi] = float(np.amax(x[n, ch, hi * S:hi * S + PH,
                                                         wi * S:wi * S + PW]))
    cache = [x, pool_param]
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    N, C, H, W = x.shape
    PH, PW, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    Hn, Wn = dout.shape[2], dout.shape[3]
    dx = np.zeros(x.shape)
    for n in xrange(N):
        for ch in xrange(C):
            for hi in xrange(Hn):
                for wi in xrange(Wn):
                    patch = x[n, ch, hi * S:hi * S + PH, wi * S:wi * S + PW]
                    idx = np.unravel_index(patch.argmax(), patch.shape)
                    dx[n, ch, hi * S + idx[0], wi * S + idx[1]] += dout[n, ch, hi, wi]
    return dx
