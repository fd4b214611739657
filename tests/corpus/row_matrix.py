"""Style: one image at a time, its windows stacked as rows by a list comprehension and
multiplied with w.reshape(F, -1).T; the pooling stacks window rows the same way."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    out_h = (H + 2 * pad - HH) // stride + 1
    out_w = (W + 2 * pad - WW) // stride + 1
    w_rows = w.reshape(F, -1)
    out = np.zeros((N, F, out_h, out_w))
    for n in range(N):
        img = np.pad(x[n], ((0, 0), (pad, pad), (pad, pad)), 'constant')
        rows = np.array([img[:, i * stride:i * stride + HH, j * stride:j * stride + WW].ravel()
                         for i in range(out_h) for j in range(out_w)])
        out[n] = (rows @ w_rows.T + b).T.reshape(F, out_h, out_w)
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    out_h, out_w = dout.shape[2], dout.shape[3]
    w_rows = w.reshape(F, -1)
    dx = np.zeros(x.shape)
    dw_rows = np.zeros(w_rows.shape)
    for n in range(N):
        img = np.pad(x[n], ((0, 0), (pad, pad), (pad, pad)), 'constant')
        rows = np.array([img[:, i * stride:i * stride + HH, j * stride:j * stride + WW].ravel()
                         for i in range(out_h) for j in range(out_w)])
        g = dout[n].reshape(F, -1)
        dw_rows += g @ rows
        drows = g.T @ w_rows
        dimg = np.zeros(img.shape)
        for k in range(out_h * out_w):
            i, j = divmod(k, out_w)
            dimg[:, i * stride:i * stride + HH, j * stride:j * stride + WW] += \
                drows[k].reshape(C, HH, WW)
        dx[n] = dimg[:, pad:pad + H, pad:pad + W]
    dw = dw_rows.reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    out_h = (H - ph) // stride + 1
    out_w = (W - pw) // stride + 1
    out = np.array([[[[x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw].max()
                       for j in range(out_w)] for i in range(out_h)]
                     for c in range(C)] for n in range(N)])
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    N, C, H, W = x.shape
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    out_h, out_w = dout.shape[2], dout.shape[3]
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            rows = np.array([x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw].ravel()
                             for i in range(out_h) for j in range(out_w)])
            for k, best in enumerate(rows.argmax(axis=1)):
                i, j = divmod(k, out_w)
                dx[n, c, i * stride + best // pw, j * stride + best % pw] += dout[n, c, i, j]
    return dx
