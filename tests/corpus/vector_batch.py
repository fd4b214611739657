"""Style: the batch handled by broadcasting: loops over filters and output positions, each
step works on all N images at once (axis=(1, 2, 3) sums, [:, None, None, None])."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    N = x.shape[0]
    F, C, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), 'constant')
    H_out = 1 + (x_pad.shape[2] - HH) // stride
    W_out = 1 + (x_pad.shape[3] - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for f in range(F):
        for i in range(H_out):
            for j in range(W_out):
                x_win = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[:, f, i, j] = np.sum(x_win * w[f], axis=(1, 2, 3)) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    F, C, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    H, W = x.shape[2], x.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), 'constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for f in range(F):
        db[f] = np.sum(dout[:, f, :, :])
        for i in range(H_out):
            for j in range(W_out):
                x_win = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                g = dout[:, f, i, j][:, None, None, None]
                dw[f] += np.sum(x_win * g, axis=0)
                dx_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += g * w[f]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    HP, WP = pool_param['pool_height'], pool_param['pool_width']
    S = pool_param['stride']
    H_out = 1 + (H - HP) // S
    W_out = 1 + (W - WP) // S
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = np.max(x[:, :, i * S:i * S + HP, j * S:j * S + WP], axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    HP, WP = pool_param['pool_height'], pool_param['pool_width']
    S = pool_param['stride']
    H_out, W_out = dout.shape[2], dout.shape[3]
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            x_win = x[:, :, i * S:i * S + HP, j * S:j * S + WP]
            is_max = x_win == np.max(x_win, axis=(2, 3), keepdims=True)
            dx[:, :, i * S:i * S + HP, j * S:j * S + WP] += is_max * dout[:, :, i:i + 1, j:j + 1]
    return dx
