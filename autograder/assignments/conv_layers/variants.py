"""The reference run with the slips students make: wrong-but-plausible versions of each
task's outputs for one case (no padding, stride 1, a flipped kernel, ``=`` for ``+=``, ...),
against which ``diagnose`` compares a student's wrong outputs. Trusted side only.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import reference as ref
from .cases import Case

Outputs = dict[str, np.ndarray]


def _pool_windows(x: np.ndarray, kh: int, kw: int, steps: tuple[int, int],
                  out_hw: tuple[int, int],
                  reduce: Callable[..., np.ndarray] = np.max) -> Optional[np.ndarray]:
    """(N, C, H, W) -> (N, C) + out_hw: ``reduce`` over kh x kw windows ``steps`` (rows,
    columns) apart, cut off at the input's edge as slicing does; None if a window is empty
    (the student's code raised there)."""
    out = np.empty(x.shape[:2] + out_hw)
    sh, sw = steps
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            win = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            if win.size == 0:
                return None
            out[:, :, i, j] = reduce(win, axis=(2, 3))
    return out


def _pool_route(dout: np.ndarray, x: np.ndarray, ph: int, pw: int, stride: int, *,
                unravel: Optional[int] = None, swap: bool = False, step: Optional[int] = None,
                assign: bool = False) -> Optional[np.ndarray]:
    """max-pool backward as a loop that sends each window's gradient to its argmax, with a
    slip: the flat argmax unravelled with width ``unravel``, or into (column, row) (``swap``),
    window (i, j) taken to start at (i*step, j*step) instead of at the stride (0: no
    offset), or ``=`` for ``+=`` (later windows win). None if a gradient lands outside x
    (the student's code raised there)."""
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    width, start = unravel or pw, stride if step is None else step
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].reshape(n, c, -1)
            r, s = np.divmod(win.argmax(axis=2), width)
            r, s = ((s, r) if swap else (r, s))
            r, s = r + i * start, s + j * start
            if r.max() >= h or s.max() >= w:
                return None
            for nn in range(n):
                for cc in range(c):
                    g = dout[nn, cc, i, j] + (0.0 if assign else dx[nn, cc, r[nn, cc], s[nn, cc]])
                    dx[nn, cc, r[nn, cc], s[nn, cc]] = g
    return dx


def _pool_region(dout: np.ndarray, x: np.ndarray, ph: int, pw: int, stride: int, *,
                 mask: bool, assign: bool) -> np.ndarray:
    """max-pool backward writing each window's whole region: dout times the max mask (or
    times 1, spread), assigned (=) or added."""
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
            win = x[:, :, rows, cols]
            share = (win == win.max(axis=(2, 3), keepdims=True)) if mask else np.ones_like(win)
            part = share * dout[:, :, i:i + 1, j:j + 1]
            dx[:, :, rows, cols] = part if assign else dx[:, :, rows, cols] + part
    return dx


def _conv_dx_assigned(dout: np.ndarray, w: np.ndarray, xp_shape: tuple, stride: int,
                      pad: int) -> np.ndarray:
    """conv backward's dx when windows are assigned (=) instead of added: in the loop orders
    students use, the last filter's window written last wins at every pixel."""
    dxp = np.zeros(xp_shape)
    _, _, kh, kw = w.shape
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dxp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = \
                dout[:, -1, i, j][:, None, None, None] * w[-1]
    return dxp[:, :, pad:xp_shape[2] - pad, pad:xp_shape[3] - pad]


def _conv_dx_taps_assigned(dout: np.ndarray, w: np.ndarray, xp_shape: tuple, stride: int,
                           pad: int) -> np.ndarray:
    """conv backward's dx computed per kernel tap (i, j), each tap's strided slice assigned
    (=) instead of added: where taps overlap, the last tap wins."""
    dxp = np.zeros(xp_shape)
    _, _, kh, kw = w.shape
    ho, wo = dout.shape[2:]
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride] = \
                np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    return dxp[:, :, pad:xp_shape[2] - pad, pad:xp_shape[3] - pad]


def _conv_dw_assigned(dout: np.ndarray, xp: np.ndarray, kh: int, kw: int,
                      stride: int) -> list[np.ndarray]:
    """conv backward's dw when it is assigned (=) at every output position: the last
    position's contribution, of every image (a loop over positions) or of the last image
    (a loop over images, then positions)."""
    i, j = dout.shape[2] - 1, dout.shape[3] - 1
    last = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
    every = np.einsum("nf,nchw->fchw", dout[:, :, i, j], last)
    return [every, np.einsum("nf,nchw->fchw", dout[-1:, :, i, j], last[-1:])]


def _unpadded_windows(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int,
                      out_hw: tuple[int, int]) -> Optional[np.ndarray]:
    """The conv forward of the padded output size slid over the unpadded x: the windows past
    its edge are cut short, and broadcast against the kernel where a cut leaves size 1.
    None if a cut window does not broadcast (the student's code raised there)."""
    _, _, kh, kw = w.shape
    out = np.empty((x.shape[0], w.shape[0]) + out_hw)
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            win = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            if any(size not in (1, k) for size, k in zip(win.shape[2:], (kh, kw))):
                return None
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", np.broadcast_to(
                win, win.shape[:2] + (kh, kw)), w) + b
    return out


Variant = tuple[str, Callable[[], Optional[Outputs]]]


def _conv_forward_variants(case: Case, inputs: Outputs) -> list[Variant]:
    p, x, w, b = case.params, inputs["x"], inputs["w"], inputs["b"]
    s, pad, (f, c, kh, kw) = p["stride"], p["pad"], w.shape
    fwd = lambda w_=w, b_=b, s_=s, pad_=pad: {"out": ref.conv_forward(x, w_, b_, s_, pad_)}
    ho, wo = (ref.output_size(p["H"], kh, s, pad), ref.output_size(p["W"], kw, s, pad))
    variants: list[Variant] = [("kernel_flipped", lambda: fwd(w_=w[:, :, ::-1, ::-1])),
                               ("bias_missing", lambda: fwd(b_=np.zeros_like(b)))]
    if pad:
        variants += [("padding_ignored", lambda: fwd(pad_=0)),
                     ("padding_ignored", lambda: {"out": _unpadded_windows(x, w, b, s, (ho, wo))})]
    if s > 1:   # right output size, but the windows move by 1
        variants.append(("stride_ignored", lambda: {"out": fwd(s_=1)["out"][:, :, :ho, :wo]}))
    if kh == kw > 1:
        variants.append(("kernel_transposed", lambda: fwd(w_=w.transpose(0, 1, 3, 2))))
    if c > 1 and kh * kw > 1:   # the two ways columns and w.reshape can disagree
        variants += [
            ("im2col_order", lambda: fwd(w_=w.reshape(f, kh, kw, c).transpose(0, 3, 1, 2))),
            ("im2col_order", lambda: fwd(w_=w.transpose(0, 2, 3, 1).reshape(f, c, kh, kw)))]
    if kh == kw == 1:   # a window slice one short is empty: only the bias is left
        variants.append(("window_size", lambda: fwd(w_=np.zeros_like(w))))
    return variants


def _conv_backward_variants(case: Case, inputs: Outputs) -> list[Variant]:
    p, x, w, dout = case.params, inputs["x"], inputs["w"], inputs["dout"]
    s, pad, n = p["stride"], p["pad"], x.shape[0]

    def bwd(**kw) -> Outputs:
        args = dict(dout=dout, x=x, w=w, stride=s, pad=pad) | kw
        return dict(zip(("dx", "dw", "db"), ref.conv_backward(**args)))

    def unstrided() -> Outputs:
        """The backward of windows that move by 1: dout placed on the stride-1 output."""
        ho, wo = (ref.output_size(p["H"], p["HH"], 1, pad),
                  ref.output_size(p["W"], p["WW"], 1, pad))
        dout1 = np.zeros(dout.shape[:2] + (ho, wo))
        dout1[:, :, :dout.shape[2], :dout.shape[3]] = dout
        grads = bwd(dout=dout1, stride=1)
        return {"dx": grads["dx"], "dw": grads["dw"]}

    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    variants: list[Variant] = [
        ("kernel_flipped", lambda: {**bwd(w=w[:, :, ::-1, ::-1]),
                                    "dw": bwd()["dw"][:, :, ::-1, ::-1]}),
        ("grad_overwrite", lambda: {"dx": _conv_dx_assigned(dout, w, xp.shape, s, pad)})]
    variants += [("grad_overwrite", lambda dw=dw: {"dw": dw})
                 for dw in _conv_dw_assigned(dout, xp, p["HH"], p["WW"], s)]
    variants.append(("grad_overwrite",
                     lambda: {"dx": _conv_dx_taps_assigned(dout, w, xp.shape, s, pad)}))
    if s > 1:
        variants.append(("stride_ignored", unstrided))
    if n > 1:
        variants += [("normalized_by_n", lambda: {k: v / n for k, v in bwd().items()}),
                     ("batch_overwritten", lambda: {k: v for k, v in bwd(dout=dout[-1:],
                                                                         x=x[-1:]).items()
                                                    if k != "dx"})]
    return variants


def _pool_forward_variants(case: Case, inputs: Outputs) -> list[Variant]:
    p, x = case.params, inputs["x"]
    ph, pw, s = p["ph"], p["pw"], p["stride"]
    out_hw = (ref.output_size(p["H"], ph, s), ref.output_size(p["W"], pw, s))
    windows = lambda kh, kw, steps=(s, s), reduce=np.max: {
        "out": _pool_windows(x, kh, kw, steps, out_hw, reduce)}
    variants: list[Variant] = [
        ("max_init_zero", lambda: {"out": np.maximum(ref.max_pool_forward(x, ph, pw, s), 0.0)}),
        ("pool_mean", lambda: windows(ph, pw, reduce=np.mean))]
    if s != ph:
        variants.append(("stride_ignored", lambda: {"out": ref.max_pool_forward(x, ph, pw, ph)}))
    if not s == ph == pw:   # right output size, windows stepping by the pool size
        variants.append(("stride_ignored", lambda: windows(ph, pw, (ph, pw))))
    if s != 1:
        variants.append(("stride_ignored", lambda: windows(ph, pw, (1, 1))))
    if ph != pw:
        variants += [("kernel_hw_mixed", lambda k=k: windows(*k))
                     for k in ((pw, ph), (ph, ph), (pw, pw))]
    return variants


def _pool_backward_variants(case: Case, inputs: Outputs) -> list[Variant]:
    p, x, dout = case.params, inputs["x"], inputs["dout"]
    ph, pw, s = p["ph"], p["pw"], p["stride"]
    route = lambda **kw: {"dx": _pool_route(dout, x, ph, pw, s, **kw)}
    region = lambda **kw: {"dx": _pool_region(dout, x, ph, pw, s, **kw)}
    variants: list[Variant] = [
        ("pool_overwrite", lambda: route(assign=True)),
        ("pool_overwrite", lambda: region(mask=True, assign=True)),
        ("pool_spread", lambda: region(mask=False, assign=False)),
        ("pool_spread", lambda: {"dx": region(mask=False, assign=False)["dx"] / (ph * pw)}),
        ("pool_offset_missing", lambda: route(step=0)),
        ("hw_swapped", lambda: route(swap=True))]
    if s > 1:
        variants.append(("stride_ignored", lambda: route(step=1)))
    if ph != pw:
        variants.append(("kernel_hw_mixed", lambda: route(unravel=ph)))
    return variants


VARIANTS = {"conv_forward_naive": _conv_forward_variants,
             "conv_backward_naive": _conv_backward_variants,
             "max_pool_forward_naive": _pool_forward_variants,
             "max_pool_backward_naive": _pool_backward_variants}


def pool_reductions(case: Case, x: np.ndarray) -> list[np.ndarray]:
    """Max pooling reduced over other axes than each window's own: pairs of the window view's
    (H', W', ph, pw) axes, or every axis of a window's slice x[:, :, rows, cols] at once."""
    p, s = case.params, case.params["stride"]
    view = sliding_window_view(x, (p["ph"], p["pw"]), axis=(2, 3))[:, :, ::s, ::s]
    pairs = [view.max(axis=axes) for axes in ((2, 3), (2, 4), (2, 5), (3, 4), (3, 5))]
    return pairs + [np.broadcast_to(view.max(axis=(0, 1, 4, 5)), view.shape[:4])]
