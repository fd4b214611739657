"""Style: small helper functions (sizes, padding, window slices) shared by the four
functions, and the caches as dictionaries."""
import numpy as np


def output_dim(size, field, stride, pad=0):
    return (size + 2 * pad - field) // stride + 1


def zero_pad(a, pad):
    return np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant', constant_values=0)


def window(i, j, height, width, stride):
    """Index of the window at output position (i, j) on the last two axes."""
    top, left = i * stride, j * stride
    return (Ellipsis, slice(top, top + height), slice(left, left + width))


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param['stride'], conv_param['pad']
    n_images = x.shape[0]
    n_filters, _, fh, fw = w.shape
    out_h = output_dim(x.shape[2], fh, stride, pad)
    out_w = output_dim(x.shape[3], fw, stride, pad)
    xp = zero_pad(x, pad)
    out = np.zeros((n_images, n_filters, out_h, out_w))
    for n in range(n_images):
        for i in range(out_h):
            for j in range(out_w):
                region = xp[n][window(i, j, fh, fw, stride)]
                for f in range(n_filters):
                    out[n, f, i, j] = np.sum(region * w[f]) + b[f]
    cache = {'x': x, 'w': w, 'b': b, 'conv_param': conv_param}
    return out, cache


def conv_backward_naive(dout, cache):
    x, w = cache['x'], cache['w']
    stride, pad = cache['conv_param']['stride'], cache['conv_param']['pad']
    n_images, n_filters, out_h, out_w = dout.shape
    _, _, fh, fw = w.shape
    xp = zero_pad(x, pad)
    dxp = np.zeros(xp.shape)
    dw = np.zeros(w.shape)
    for n in range(n_images):
        for i in range(out_h):
            for j in range(out_w):
                idx = window(i, j, fh, fw, stride)
                for f in range(n_filters):
                    dw[f] += xp[n][idx] * dout[n, f, i, j]
                    dxp[n][idx] += w[f] * dout[n, f, i, j]
    db = dout.sum(axis=3).sum(axis=2).sum(axis=0)
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    out_h = output_dim(x.shape[2], ph, stride)
    out_w = output_dim(x.shape[3], pw, stride)
    out = np.zeros(x.shape[:2] + (out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = x[window(i, j, ph, pw, stride)].max(axis=(2, 3))
    cache = {'x': x, 'pool_param': pool_param}
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache['x'], cache['pool_param']
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    idx = window(i, j, ph, pw, stride)
                    region = x[n, c][idx]
                    dx[n, c][idx] += (region == region.max()) * dout[n, c, i, j]
    return dx
