"""Recognize the likely mistake behind a failed case from the student's result.

Each recognizer looks at what the student's code returned or raised for one case and
compares it with the reference run on deliberately wrong variants of the problem (no
padding, stride 1, flipped kernel, ...). Only the trusted process runs this; the messages
name the mistake and where to look, never the hidden values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import reference as ref
from .cases import Case


@dataclass(frozen=True)
class Mistake:
    id: str
    message: str


MISTAKES = {m.id: m for m in (
    Mistake("not_implemented", "not implemented yet: the function still raises NotImplementedError"),
    Mistake("padding_ignored", "padding ignored: the result is what you get with pad=0; "
            "zero-pad H and W by `pad` on each side (np.pad) before sliding the filter"),
    Mistake("stride_ignored", "stride ignored: the windows move by 1 instead of by `stride`; "
            "the window starting at output row i is at input row i*stride"),
    Mistake("kernel_flipped", "kernel flipped: this is true convolution; the layer is "
            "cross-correlation, so do not flip w"),
    Mistake("bias_missing", "bias missing: add b[f] to every output of filter f"),
    Mistake("off_by_one", "off-by-one output size: use H' = 1 + (H + 2*pad - HH) // stride "
            "(and the same for W')"),
    Mistake("hw_swapped", "H and W swapped: a dimension of height is used where the width "
            "belongs (or the reverse); square inputs hide this"),
    Mistake("float_sizes", "float sizes: `/` gives a float; use `//` for output sizes and "
            "indices"),
    Mistake("dx_not_cropped", "dx not cropped: dx has the padded shape; remove the padding "
            "from the gradient before returning it"),
    Mistake("dx_empty_pad0", "dx empty when pad=0: slicing with `pad:-pad` selects nothing "
            "when pad=0; crop with `pad:pad+H` instead"),
    Mistake("db_wrong", "db wrong: db[f] is the sum of dout[:, f] over N, H' and W'"),
    Mistake("pool_overwrite", "pool gradient overwritten instead of accumulated: where "
            "windows overlap, one input can be the max of several windows, so add (+=) "
            "each window's gradient"),
    Mistake("pool_spread", "pool gradient sent to the whole window: only the max element "
            "of each window receives the window's gradient"),
    Mistake("input_modified", "input modified in place: your code changes an array passed "
            "to it (or kept in the cache); work on a copy"),
)}

Outputs = dict[str, np.ndarray]


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and values within float64 round-off of a loop-based computation."""
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale))


def _pool_overwrite(dout, x, ph, pw, stride):
    """max-pool backward as a loop that assigns instead of adding: later windows win."""
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].reshape(n, c, -1)
            arg = win.argmax(axis=2)
            for nn in range(n):
                for cc in range(c):
                    r, s = divmod(int(arg[nn, cc]), pw)
                    dx[nn, cc, i * stride + r, j * stride + s] = dout[nn, cc, i, j]
    return dx


def _pool_spread(dout, x, ph, pw, stride):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += \
                dout[:, :, i:i + 1, j:j + 1]
    return dx


Variant = Optional[tuple[str, Callable[[], Outputs]]]


def _variants(case: Case, inputs: Outputs) -> list[Variant]:
    """Wrong-but-plausible versions of the reference for this case (None where a variant
    equals the right answer for these parameters), most specific first."""
    p, x = case.params, inputs["x"]
    s = p["stride"]
    if case.task == "conv_forward_naive":
        w, b, pad = inputs["w"], inputs["b"], p["pad"]
        fwd = lambda w_=w, b_=b, s_=s, pad_=pad: {"out": ref.conv_forward(x, w_, b_, s_, pad_)}
        ho, wo = (ref.output_size(p["H"], p["HH"], s, pad), ref.output_size(p["W"], p["WW"], s, pad))
        return [("padding_ignored", lambda: fwd(pad_=0)) if pad else None,
                # Right output size, but the windows move by 1.
                ("stride_ignored", lambda: {"out": fwd(s_=1)["out"][:, :, :ho, :wo]})
                if s > 1 else None,
                ("kernel_flipped", lambda: fwd(w_=w[:, :, ::-1, ::-1])),
                ("bias_missing", lambda: fwd(b_=np.zeros_like(b)))]
    if case.task == "conv_backward_naive":
        w, dout, pad = inputs["w"], inputs["dout"], p["pad"]

        def bwd(**kw):
            args = dict(dout=dout, x=x, w=w, stride=s, pad=pad) | kw
            return dict(zip(("dx", "dw", "db"), ref.conv_backward(**args)))
        return [("kernel_flipped", lambda: {**bwd(w=w[:, :, ::-1, ::-1]),
                                            "dw": bwd()["dw"][:, :, ::-1, ::-1]})]
    if case.task == "max_pool_forward_naive":
        ph, pw = p["ph"], p["pw"]
        return [("stride_ignored", lambda: {"out": ref.max_pool_forward(x, ph, pw, ph)})
                if s != ph else None,
                ("stride_ignored", lambda: {"out": ref.max_pool_forward(x, ph, pw, 1)})
                if s != 1 else None,
                ("hw_swapped", lambda: {"out": ref.max_pool_forward(x, pw, ph, s)})
                if ph != pw else None]
    dout, ph, pw = inputs["dout"], p["ph"], p["pw"]
    return [("pool_overwrite", lambda: {"dx": _pool_overwrite(dout, x, ph, pw, s)}),
            ("pool_spread", lambda: {"dx": _pool_spread(dout, x, ph, pw, s)})]


def _swapped_sizes(case: Case, name: str) -> tuple[int, int]:
    """The (H, W) sizes of output ``name`` when height and width are mixed up."""
    p = case.params
    if name == "dx":
        return p["W"], p["H"]
    kh, kw = (p["HH"], p["WW"]) if case.conv else (p["ph"], p["pw"])
    pad = p.get("pad", 0)
    return (ref.output_size(p["W"], kh, p["stride"], pad) if p["W"] + 2 * pad >= kh else -1,
            ref.output_size(p["H"], kw, p["stride"], pad) if p["H"] + 2 * pad >= kw else -1)


def _unstrided_sizes(case: Case) -> list[tuple[int, int]]:
    """Output (H', W') when the stride is taken as 1, or (pooling) as the pool size."""
    p = case.params
    kh, kw = (p["HH"], p["WW"]) if case.conv else (p["ph"], p["pw"])
    pad = p.get("pad", 0)
    strides = [(1, 1)] + ([] if case.conv else [(kh, kw)])
    return [(ref.output_size(p["H"], kh, sh, pad), ref.output_size(p["W"], kw, sw, pad))
            for sh, sw in strides if (sh, sw) != (p["stride"], p["stride"])]


def _shape_mistake(case: Case, name: str, got: tuple, want: tuple) -> Optional[str]:
    p = case.params
    if name == "db":
        return "db_wrong"
    if len(got) != len(want) or got[:2] != want[:2]:
        return None
    if case.task == "conv_backward_naive" and name == "dx":
        pad = p["pad"]
        if pad and got == (want[0], want[1], want[2] + 2 * pad, want[3] + 2 * pad):
            return "dx_not_cropped"
        if pad == 0 and 0 in got[2:]:
            return "dx_empty_pad0"
    if name != "dx" and got[2:] in _unstrided_sizes(case):
        return "stride_ignored"
    if p["H"] != p["W"]:
        swapped = _swapped_sizes(case, name)
        wrong = [(g, s) for g, s, w in zip(got[2:], swapped, want[2:]) if g != w]
        if wrong and all(g == s for g, s in wrong):
            return "hw_swapped"
    if name != "dx" and all(abs(g - w) <= 1 for g, w in zip(got[2:], want[2:])):
        return "off_by_one"
    return None


def diagnose_error(case: Case, error_type: str, message: str) -> Optional[str]:
    """Mistake id for an exception the student's code raised on this case, if recognized."""
    if error_type == "NotImplementedError":
        return "not_implemented"
    if error_type == "TypeError" and "float" in message:
        return "float_sizes"
    return None


# Case features whose failing together (and only together) points at a mistake.
_FEATURES: tuple[tuple[str, Callable[[Case], bool]], ...] = (
    ("padding_ignored", lambda c: c.params.get("pad", 0) > 0),
    ("stride_ignored", lambda c: c.params["stride"] > 1 if c.conv
     else c.params["stride"] not in (c.params["ph"],) or c.params["ph"] != c.params["pw"]),
    ("pool_overwrite", lambda c: c.task == "max_pool_backward_naive"
     and c.params["stride"] < max(c.params["ph"], c.params["pw"])),
    ("hw_swapped", lambda c: c.params["H"] != c.params["W"]),
)


def diagnose_pattern(cases: list[Case], failed: list[bool]) -> Optional[str]:
    """Mistake id when the failed cases are exactly those with one feature (padding,
    stride, overlap, non-square input), e.g. every case with pad > 0 and no other."""
    if not any(failed) or all(failed):
        return None
    for mistake, has in _FEATURES:
        if all(has(c) == f for c, f in zip(cases, failed)):
            return mistake
    return None


def diagnose_outputs(case: Case, inputs: Outputs, got: Outputs,
                     expected: Outputs) -> Optional[str]:
    """Mistake id for wrong outputs (all present and numeric), if recognized."""
    for name, want in expected.items():
        if got[name].shape != want.shape:
            return _shape_mistake(case, name, got[name].shape, want.shape)
    for item in _variants(case, inputs):
        if item is None:
            continue
        mistake, compute = item
        variant = compute()
        wrong = [n for n in expected if not close(got[n], expected[n])]
        if wrong and all(close(got[n], variant[n]) for n in wrong):
            return mistake
    if case.task == "conv_backward_naive":
        wrong = {n for n in expected if not close(got[n], expected[n])}
        if wrong == {"db"}:
            return "db_wrong"
    return None
