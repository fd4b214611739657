"""Style: everything element by element: padding by copying x into a zero array, seven
nested loops in the conv forward, running maxima tracked by hand in the pooling."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    S = conv_param['stride']
    P = conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Hp, Wp = H + 2 * P, W + 2 * P
    xp = np.zeros((N, C, Hp, Wp))
    xp[:, :, P:P + H, P:P + W] = x
    Ho = (Hp - HH) // S + 1
    Wo = (Wp - WW) // S + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for oh in range(Ho):
                for ow in range(Wo):
                    acc = b[f]
                    for c in range(C):
                        for kh in range(HH):
                            for kw in range(WW):
                                acc += xp[n, c, oh * S + kh, ow * S + kw] * w[f, c, kh, kw]
                    out[n, f, oh, ow] = acc
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    S = conv_param['stride']
    P = conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    xp = np.zeros((N, C, H + 2 * P, W + 2 * P))
    xp[:, :, P:P + H, P:P + W] = x
    dxp = np.zeros(xp.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for oh in range(Ho):
                for ow in range(Wo):
                    g = dout[n, f, oh, ow]
                    db[f] += g
                    for c in range(C):
                        for kh in range(HH):
                            for kw in range(WW):
                                dw[f, c, kh, kw] += g * xp[n, c, oh * S + kh, ow * S + kw]
                                dxp[n, c, oh * S + kh, ow * S + kw] += g * w[f, c, kh, kw]
    dx = dxp[:, :, P:P + H, P:P + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    PH = pool_param['pool_height']
    PW = pool_param['pool_width']
    S = pool_param['stride']
    N, C, H, W = x.shape
    Ho = (H - PH) // S + 1
    Wo = (W - PW) // S + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    best = x[n, c, oh * S, ow * S]
                    for kh in range(PH):
                        for kw in range(PW):
                            if x[n, c, oh * S + kh, ow * S + kw] > best:
                                best = x[n, c, oh * S + kh, ow * S + kw]
                    out[n, c, oh, ow] = best
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    PH = pool_param['pool_height']
    PW = pool_param['pool_width']
    S = pool_param['stride']
    N, C, Ho, Wo = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    bi, bj = oh * S, ow * S
                    for kh in range(PH):
                        for kw in range(PW):
                            if x[n, c, oh * S + kh, ow * S + kw] > x[n, c, bi, bj]:
                                bi, bj = oh * S + kh, ow * S + kw
                    dx[n, c, bi, bj] += dout[n, c, oh, ow]
    return dx
