"""Style: loops over output positions only, np.einsum for the sums over channels and the
window; the pooling is vectorized over N and C with a flattened window and argmax."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param['stride'], conv_param['pad']
    N, _, H, W = x.shape
    F, _, kh, kw = w.shape
    oh = 1 + (H + 2 * pad - kh) // stride
    ow = 1 + (W + 2 * pad - kw) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum('nchw,fchw->nf', patch, w)
    out += b[None, :, None, None]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    _, _, H, W = x.shape
    _, _, kh, kw = w.shape
    _, _, oh, ow = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(oh):
        for j in range(ow):
            rows = slice(i * stride, i * stride + kh)
            cols = slice(j * stride, j * stride + kw)
            dw += np.einsum('nf,nchw->fchw', dout[:, :, i, j], xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum('nf,fchw->nchw', dout[:, :, i, j], w)
    db = np.einsum('nfhw->f', dout)
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, H, W = x.shape
    oh = 1 + (H - ph) // stride
    ow = 1 + (W - pw) // stride
    out = np.empty((N, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = win.reshape(N, C, -1).max(axis=2)
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    N, C, oh, ow = dout.shape
    dx = np.zeros_like(x)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing='ij')
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            a, c = np.unravel_index(win.reshape(N, C, -1).argmax(axis=2), (ph, pw))
            dx[n_idx, c_idx, i * stride + a, j * stride + c] += dout[:, :, i, j]
    return dx
