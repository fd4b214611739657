"""Style: the fast-layers trick done by hand: index arrays for im2col, one matrix product
for the conv, np.add.at for col2im; the pooling reuses the same columns."""
import numpy as np


def get_im2col_indices(C, HH, WW, H_out, W_out, stride):
    """Row k of the columns is channel c, kernel row p, kernel column q (C-order)."""
    i0 = np.tile(np.repeat(np.arange(HH), WW), C)
    i1 = stride * np.repeat(np.arange(H_out), W_out)
    j0 = np.tile(np.arange(WW), HH * C)
    j1 = stride * np.tile(np.arange(W_out), H_out)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(C), HH * WW).reshape(-1, 1)
    return k, i, j


def im2col(x_padded, HH, WW, H_out, W_out, stride):
    C = x_padded.shape[1]
    k, i, j = get_im2col_indices(C, HH, WW, H_out, W_out, stride)
    cols = x_padded[:, k, i, j]
    return cols.transpose(1, 2, 0).reshape(C * HH * WW, -1)


def col2im(cols, x_shape, HH, WW, H_out, W_out, stride):
    N, C, H, W = x_shape
    x_padded = np.zeros((N, C, H, W))
    k, i, j = get_im2col_indices(C, HH, WW, H_out, W_out, stride)
    cols_reshaped = cols.reshape(C * HH * WW, H_out * W_out, N).transpose(2, 0, 1)
    np.add.at(x_padded, (slice(None), k, i, j), cols_reshaped)
    return x_padded


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    num_filters, _, filter_height, filter_width = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    out_height = (H + 2 * pad - filter_height) // stride + 1
    out_width = (W + 2 * pad - filter_width) // stride + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    x_cols = im2col(x_padded, filter_height, filter_width, out_height, out_width, stride)
    res = w.reshape((num_filters, -1)).dot(x_cols) + b.reshape(-1, 1)
    out = res.reshape(num_filters, out_height, out_width, N).transpose(3, 0, 1, 2)
    cache = (x, w, b, conv_param, x_cols)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param, x_cols = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    num_filters, _, filter_height, filter_width = w.shape
    _, _, out_height, out_width = dout.shape
    db = np.sum(dout, axis=(0, 2, 3))
    dout_reshaped = dout.transpose(1, 2, 3, 0).reshape(num_filters, -1)
    dw = dout_reshaped.dot(x_cols.T).reshape(w.shape)
    dx_cols = w.reshape(num_filters, -1).T.dot(dout_reshaped)
    dx_padded = col2im(dx_cols, (N, C, H + 2 * pad, W + 2 * pad), filter_height,
                       filter_width, out_height, out_width, stride)
    dx = dx_padded[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    pool_height, pool_width = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    out_height = (H - pool_height) // stride + 1
    out_width = (W - pool_width) // stride + 1
    x_split = x.reshape(N * C, 1, H, W)
    x_cols = im2col(x_split, pool_height, pool_width, out_height, out_width, stride)
    x_cols_argmax = np.argmax(x_cols, axis=0)
    x_cols_max = x_cols[x_cols_argmax, np.arange(x_cols.shape[1])]
    out = x_cols_max.reshape(out_height, out_width, N, C).transpose(2, 3, 0, 1)
    cache = (x, x_cols, x_cols_argmax, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, x_cols, x_cols_argmax, pool_param = cache
    N, C, H, W = x.shape
    pool_height, pool_width = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    _, _, out_height, out_width = dout.shape
    dout_reshaped = dout.transpose(2, 3, 0, 1).flatten()
    dx_cols = np.zeros_like(x_cols)
    dx_cols[x_cols_argmax, np.arange(dx_cols.shape[1])] = dout_reshaped
    dx = col2im(dx_cols, (N * C, 1, H, W), pool_height, pool_width, out_height, out_width,
                stride)
    return dx.reshape(x.shape)
