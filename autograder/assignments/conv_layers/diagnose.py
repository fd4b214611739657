"""The mistakes of conv_layers and their recognizers (the assignment's ``Diagnosis``).

Output values are compared with the reference run on deliberately wrong variants of the
problem (no padding, stride 1, flipped kernel, ...), shapes with the sizes such variants
produce, and exceptions are read from their type, message and the student's source line.
The engine's ``settle`` then names the mistake from the evidence of all of a task's cases
(see ``autograder/verifying/evidence.py``). The messages name the mistake and where to
look, never the hidden values.
"""
from __future__ import annotations

import re
from itertools import permutations
from typing import Callable, Optional

import numpy as np

from ...assignment import Diagnosis
from ...verifying.evidence import (COMMON_MISTAKES, Evidence, Mistake, Raised, close, common_cause,
                                   evidence as _evidence, harness_return_error)
from . import reference as ref
from .cases import Case
from .variants import VARIANTS, Outputs, pool_reductions


# With the mistakes every numpy assignment shares (``COMMON_MISTAKES``).
MISTAKES = COMMON_MISTAKES | {m.id: m for m in (
    Mistake("param_key", "unknown parameter key: conv_param has only 'stride' and 'pad', "
            "pool_param has 'pool_height', 'pool_width' and 'stride'"),
    Mistake("output_none", "an output is None: the array you computed was assigned to another "
            "name than the one returned (the template starts with `out = None`), or never "
            "assigned"),
    Mistake("return_order", "outputs returned in the wrong order or form: the forward "
            "functions return (out, cache), conv_backward_naive returns (dx, dw, db) and "
            "max_pool_backward_naive returns dx"),
    Mistake("cache_mismatch", "cache mismatch: the backward unpacks the cache differently from "
            "what your forward returned (number, order or keys of its items)"),
    Mistake("padding_ignored", "padding ignored or misapplied: zero-pad only H and W, by `pad` "
            "on each side, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))), slide the "
            "filter over the padded input (in the backward pass too) and keep the gradient "
            "buffer padded"),
    Mistake("stride_ignored", "stride ignored or misapplied: the windows move by 1 (or by the "
            "pool size) instead of by `stride`; the window of output row i starts at input row "
            "i*stride"),
    Mistake("pool_mean", "mean instead of max: max pooling takes each window's maximum"),
    Mistake("tiling_assumed", "windows assumed to tile the input: (H + 2*pad - HH) % stride "
            "may be nonzero here (the rows and columns left over are not covered); do not "
            "assert or raise on it, and compute sizes with //"),
    Mistake("kernel_flipped", "kernel flipped: this is true convolution; the layer is "
            "cross-correlation, so do not flip w"),
    Mistake("kernel_transposed", "kernel transposed: w[f, c, i, j] multiplies the input at "
            "window row i, column j; check the order of the kernel axes (einsum subscripts, "
            "transpose, reshape)"),
    Mistake("kernel_hw_mixed", "kernel height and width mixed up: HH (pool_height) used where "
            "WW (pool_width) belongs, or the kernel's axes taken in the wrong order; square "
            "kernels and pools hide this"),
    Mistake("window_size", "window of the wrong size: the window of output (i, j) is "
            "x[..., i*stride:i*stride + HH, j*stride:j*stride + WW]"),
    Mistake("im2col_order", "im2col order mismatch: the columns and w.reshape(F, -1) flatten "
            "(C, HH, WW) in different orders; build each column channel first, as w.reshape does"),
    Mistake("bias_missing", "bias missing: add b[f] to every output of filter f"),
    Mistake("bias_wrong", "bias added wrongly: add b[f] exactly once to every output of filter "
            "f (not once per channel)"),
    Mistake("off_by_one", "off-by-one output size: use H' = 1 + (H + 2*pad - HH) // stride "
            "(and the same for W')"),
    Mistake("hw_swapped", "H and W swapped: a dimension of height is used where the width "
            "belongs (or the reverse); square inputs hide this"),
    Mistake("axes_scrambled", "axes scrambled by a reshape: reshape only regroups elements in "
            "memory order; transpose the axes into the output's order before reshaping"),
    Mistake("axis_dropped", "a size-1 axis dropped: an output lost an axis of size 1 (np.squeeze, "
            "or summing or indexing it away), e.g. db when F == 1 or out when N == 1; keep the "
            "documented shapes"),
    Mistake("float_sizes", "float sizes or indices: `/` gives a float; use `//` (or int()) for "
            "output sizes, range() bounds, indices and slice bounds"),
    Mistake("missing_axes", "missing broadcasting axes: numpy lines shapes up from the right, "
            "so an (N, C) array does not multiply an (N, C, ph, pw) window; add the axes, "
            "a[:, :, None, None]"),
    Mistake("dx_not_cropped", "dx not cropped: dx has the padded shape; remove the padding "
            "from the gradient before returning it"),
    Mistake("dx_empty_pad0", "dx empty when pad=0: slicing with `pad:-pad` selects nothing "
            "when pad=0; crop with `pad:pad+H` instead"),
    Mistake("dx_crop_wrong", "dx cropped by the wrong amount: remove exactly `pad` rows and "
            "columns on each side, dx_pad[:, :, pad:pad + H, pad:pad + W]"),
    Mistake("grad_overwrite", "gradient assigned instead of accumulated: every window position "
            "and every filter contribute to dw and to the same pixels of dx, so add (+=) each "
            "contribution"),
    Mistake("db_wrong", "db wrong: db[f] is the sum of dout[:, f] over N, H' and W'"),
    Mistake("normalized_by_n", "gradient divided by the batch size: the layer's gradients are "
            "sums over the batch, not means"),
    Mistake("batch_overwritten", "gradient not accumulated over the batch: one image's "
            "contribution replaces the others'; add (+=) the contribution of every image"),
    Mistake("pool_axes", "window reduced over the wrong axes: out[:, :, i, j] gets each window's "
            "own maximum, an (N, C) array, e.g. np.max(x[:, :, rows, cols], axis=(2, 3))"),
    Mistake("argmax_flat", "np.argmax gives a flat index: turn it into (row, column) with "
            "np.unravel_index(k, window.shape) or divmod(k, pool_width)"),
    Mistake("matmul_order", "matrix product of mismatched shapes: check the order of the "
            "operands and which needs a transpose, e.g. w.reshape(F, -1) @ column"),
    Mistake("max_init_zero", "the running maximum starts at 0: a window whose values are all "
            "negative gets 0; start from the window's first value or -inf (or use np.max)"),
    Mistake("pool_overwrite", "pool gradient overwritten instead of accumulated: where "
            "windows overlap, one input can be the max of several windows, so add (+=) "
            "each window's gradient"),
    Mistake("pool_spread", "pool gradient sent to the whole window: only the max element "
            "of each window receives the window's gradient"),
    Mistake("pool_offset_missing", "window offset missing: the argmax of window (i, j) is a "
            "position inside the window; in x it is row i*stride + r, column j*stride + s"),
)}


def _kernel(c: Case) -> tuple[int, int]:
    return (c.params["HH"], c.params["WW"]) if c.conv else (c.params["ph"], c.params["pw"])


def _untiled(c: Case) -> bool:
    p, (kh, kw) = c.params, _kernel(c)
    pad = p.get("pad", 0)
    return bool((p["H"] + 2 * pad - kh) % p["stride"] or (p["W"] + 2 * pad - kw) % p["stride"])


# The cases a mistake shows on (see ``settle``), and the mistakes named when exactly the
# cases with their feature raise or have wrong shapes.
_PATTERNS = ("padding_ignored", "stride_ignored", "hw_swapped", "tiling_assumed",
             "kernel_hw_mixed")
_FEATURES: dict[str, Callable[[Case], bool]] = {
    "padding_ignored": lambda c: c.params.get("pad", 0) > 0,
    "stride_ignored": lambda c: c.params["stride"] > 1 if c.conv
    else not c.params["stride"] == c.params["ph"] == c.params["pw"],
    "pool_overwrite": lambda c: c.task == "max_pool_backward_naive"
    and c.params["stride"] < max(_kernel(c)),
    "hw_swapped": lambda c: c.params["H"] != c.params["W"],
    "tiling_assumed": _untiled,
    "kernel_hw_mixed": lambda c: _kernel(c)[0] != _kernel(c)[1],
}


# --------------------------------------------------------------------------- exceptions

_SHAPE = re.compile(r"\((\d+(?:,\s*\d+)*),?\)|\(\)")
_REMAPPED = re.compile(r"\(([\d,]*)\)->\(([\w,]*)\)")
_INDEX_ERROR = re.compile(r"index (\d+) is out of bounds for axis \d+ with size (\d+)")


def _shapes(text: str) -> list[tuple[int, ...]]:
    """Every shape written like numpy writes them, "(2,3,4)" or "()", in order."""
    return [tuple(int(d) for d in m.group(1).split(",")) if m.group(1) else ()
            for m in _SHAPE.finditer(text)]


def _sizes(case: Case) -> tuple[tuple[int, int], ...]:
    """(height, width) pairs of the arrays a student's code indexes: the input, the padded
    input and the output."""
    p, (kh, kw) = case.params, _kernel(case)
    pad = p.get("pad", 0)
    return ((p["H"], p["W"]), (p["H"] + 2 * pad, p["W"] + 2 * pad),
            (ref.output_size(p["H"], kh, p["stride"], pad),
             ref.output_size(p["W"], kw, p["stride"], pad)))


def _index_swapped(case: Case, message: str) -> bool:
    """"index i is out of bounds ... with size s" where s is a height and i fits the width
    (or the reverse): a loop over one dimension's range indexes the other."""
    m = _INDEX_ERROR.search(message)
    if not m or case.params["H"] == case.params["W"]:
        return False
    index, size = int(m.group(1)), int(m.group(2))
    return any((size == h and index < w) or (size == w and index < h) for h, w in _sizes(case))


def _index_in_padding(case: Case, message: str) -> bool:
    """"index i is out of bounds ... with size s" where s is the input's height or width and
    i lies in the padding after it: the padded input indexed in the unpadded one."""
    m = _INDEX_ERROR.search(message)
    pad = case.params.get("pad", 0)
    if not m or not pad:
        return False
    index, size = int(m.group(1)), int(m.group(2))
    return size in (case.params["H"], case.params["W"]) and index < size + 2 * pad


def _window_clues(case: Case, shapes: list[tuple[int, ...]]) -> list[str]:
    """A window slice broadcast against the kernel: the mistakes its size points at."""
    if len(shapes) < 2 or len(shapes[0]) < 2 or len(shapes[0]) != len(shapes[1]) \
            or shapes[0][:-2] != shapes[1][:-2]:
        return []
    kh, kw = _kernel(case)
    pair = {shapes[0][-2:], shapes[1][-2:]}
    if (kh, kw) not in pair or len(pair) != 2:
        return []
    window = next(iter(pair - {(kh, kw)}))
    # Wider or taller than the kernel: not a window cut short at the input's edge.
    if kh != kw and window in ((kh, kh), (kw, kw)) and (window[0] > kh or window[1] > kw):
        return ["kernel_hw_mixed"]
    if window == (kh - 1, kw - 1):
        return ["window_size"]
    if window[0] <= kh and window[1] <= kw:
        # Cut short: the windows run past the input, which these slips all make them do.
        return [m for m in ("padding_ignored", "stride_ignored", "hw_swapped")
                if _FEATURES[m](case)]
    return []


def _empty_window_slips(case: Case) -> list[str]:
    """The pooling slips that start a window past the input's edge on this case (its max
    then raises): windows stepping by the pool size, or output sizes from the other
    dimension."""
    p = case.params
    H, W, ph, pw, s = p["H"], p["W"], p["ph"], p["pw"], p["stride"]
    ho, wo = ref.output_size(H, ph, s), ref.output_size(W, pw, s)
    past = lambda rows, cols, sh, sw: (rows - 1) * sh >= H or (cols - 1) * sw >= W
    slips = []
    # Windows stepping by the pool size, or output sizes counted with that step.
    if past(ho, wo, ph, pw) or past(ref.output_size(H, ph, ph), ref.output_size(W, pw, pw), s, s):
        slips.append("stride_ignored")
    swapped = [(r, c) for r in {ho, ref.output_size(W, ph, s) if W >= ph else ho}
               for c in {wo, ref.output_size(H, pw, s) if H >= pw else wo} if (r, c) != (ho, wo)]
    if any(past(r, c, s, s) for r, c in swapped):
        slips.append("hw_swapped")
    return slips


def _bias_vector(case: Case, message: str, source: str) -> bool:
    """The whole bias vector added where one filter's output goes: the line adds `b`
    unindexed and numpy complains about an (F,) array or a sequence."""
    adds_b = re.search(r"\+\s*b\b(?!\s*\[)", source)
    return bool(case.conv and adds_b and (message.startswith("setting an array element with a")
                                           or (case.params["F"],) in _shapes(message)))


def _reduced_wrong(case: Case, message: str, source: str) -> bool:
    """A pooled value of the wrong shape put where one output goes: into out[:, :, i, j]
    (an (N, C) slot) or into one element (a sequence)."""
    if case.conv:
        return False
    shapes, slot = _shapes(message), (case.params["N"], case.params["C"])
    into_slot = message.startswith("could not broadcast input array") and len(shapes) == 2 \
        and shapes[1] == slot
    return into_slot or (message.startswith("setting an array element with a") and "max" in source)


def _matmul_mismatch(case: Case, message: str) -> bool:
    """A matrix product whose sizes are the filters and the window's C*HH*WW, mismatched."""
    p = case.params
    sizes = {int(n) for n in re.findall(r"\d+", message)}
    product = "not aligned" in message or message.startswith("matmul:")
    return case.conv and product and {p["F"], p["C"] * p["HH"] * p["WW"]} <= sizes


def _transposed_einsum(case: Case, message: str) -> bool:
    """An einsum whose operands disagree on the kernel's axes: (HH, WW) against (WW, HH)."""
    kh, kw = _kernel(case)
    remapped = [tuple(a for a in new.split(",") if a != "newaxis") for _, new in
                _REMAPPED.findall(message)]
    tails = {r[-2:] for r in remapped if len(r) >= 2}
    return kh != kw and tails == {(str(kh), str(kw)), (str(kw), str(kh))}


def _crop_broadcast(case: Case, shapes: list[tuple[int, ...]]) -> Optional[str]:
    """"could not broadcast input array from shape S into shape T" with T the input's
    (H, W): the crop of the padded gradient went wrong."""
    if case.task != "conv_backward_naive" or len(shapes) != 2 or len(shapes[1]) < 2:
        return None
    p, (source, target) = case.params, shapes
    if target[-2:] != (p["H"], p["W"]) or len(source) != len(target):
        return None
    if p["pad"] == 0 and 0 in source[-2:]:
        return "dx_empty_pad0"
    if p["pad"] and source[-2:] == (p["H"] + 2 * p["pad"], p["W"] + 2 * p["pad"]):
        return "dx_not_cropped"
    return None


def _broadcast_evidence(case: Case, message: str) -> Evidence:
    if "remapped shapes" in message:
        transposed = _transposed_einsum(case, message)
        return _evidence("error", weak=["kernel_transposed"] if transposed else [])
    shapes = _shapes(message)
    if message.startswith("could not broadcast input array"):
        crop = _crop_broadcast(case, shapes)
        return _evidence("error", [crop] if crop else [])
    a, b = (shapes + [(), ()])[:2]
    # (N, C, ph, pw) against (N, C): aligned from the left, as numpy does not.
    if len(b) >= 2 and len(a) >= len(b) + 2 and a[:len(b)] == b:
        return _evidence("error", ["missing_axes"])
    return _evidence("error", weak=_window_clues(case, shapes))


def _named_by_message(case: Case, raised: Raised) -> Optional[str]:
    """The mistake an exception's type, message and source line name on their own."""
    kind, msg, source = raised.type, raised.message, raised.source
    common = common_cause(raised)
    if common:
        return common
    if harness_return_error(raised):
        return "return_order"
    float_used = ("float" in msg and "integer" in msg) or msg.startswith("slice indices must be")
    # "only integers ... are valid indices": a float index, if the line divides with /.
    float_index = msg.startswith("only integers") and re.search(r"[^/]/[^/]", source)
    if (kind == "TypeError" and float_used) or (kind == "IndexError" and float_index):
        return "float_sizes"
    if kind == "KeyError":
        return "cache_mismatch" if "cache" in source else "param_key" if "param" in source else None
    if kind == "TypeError" and msg.startswith("cannot unpack non-iterable") and "argmax" in source:
        return "argmax_flat"
    if kind != "ValueError":
        return None
    if "values to unpack" in msg and re.search(r"=\s*cache\b", source):
        return "cache_mismatch"
    if _bias_vector(case, msg, source):
        return "bias_wrong"
    if _reduced_wrong(case, msg, source):
        return "pool_axes"
    return "matmul_order" if _matmul_mismatch(case, msg) else None


def _weak_clues(case: Case, raised: Raised) -> list[str]:
    """Mistakes an exception points at that only the other failed cases can confirm."""
    kind, msg, source = raised.type, raised.message, raised.source
    own_check = kind == "AssertionError" or source.startswith("raise ") \
        or msg.startswith("cannot reshape array")
    if own_check and _untiled(case):
        return ["tiling_assumed"]
    if kind == "IndexError":
        return [m for m, fits in (("hw_swapped", _index_swapped),
                                  ("padding_ignored", _index_in_padding)) if fits(case, msg)]
    if kind == "ValueError" and msg.startswith("zero-size array to reduction") and not case.conv:
        return _empty_window_slips(case)
    return []


def error_evidence(case: Case, raised: Raised) -> Evidence:
    """Evidence from an exception raised while running the case."""
    named = _named_by_message(case, raised)
    if named:
        return _evidence("error", [named])
    if raised.type == "ValueError" and "broadcast" in raised.message:
        return _broadcast_evidence(case, raised.message)
    return _evidence("error", weak=_weak_clues(case, raised))


def missing_evidence(case: Case, inputs: Outputs, info: dict) -> Evidence:
    """Evidence from an output that is not an array; ``info`` is the report's description of
    it (untrusted): its type, and for a tuple or list its items' shapes."""
    if info.get("type") == "NoneType":
        return _evidence("missing", ["output_none"])
    items = info.get("items") if isinstance(info.get("items"), list) else []
    shapes = [i.get("shape") for i in items if isinstance(i, dict)]
    # A forward's cache holds x: the outputs came back as (cache, out).
    if list(inputs["x"].shape) in shapes:
        return _evidence("missing", ["return_order"])
    return _evidence("missing")


# --------------------------------------------------------------------------- wrong outputs

def _swapped_sizes(case: Case, name: str) -> tuple[int, int]:
    """The (H, W) sizes of output ``name`` when height and width are mixed up."""
    p = case.params
    if name == "dx":
        return p["W"], p["H"]
    kh, kw = _kernel(case)
    pad = p.get("pad", 0)
    return (ref.output_size(p["W"], kh, p["stride"], pad) if p["W"] + 2 * pad >= kh else -1,
            ref.output_size(p["H"], kw, p["stride"], pad) if p["H"] + 2 * pad >= kw else -1)


def _unstrided_sizes(case: Case) -> list[tuple[int, int]]:
    """Output (H', W') when the stride is taken as 1, or (pooling) as the pool size."""
    p, (kh, kw) = case.params, _kernel(case)
    pad = p.get("pad", 0)
    strides = [(1, 1)] + ([] if case.conv else [(kh, kw)])
    return [(ref.output_size(p["H"], kh, sh, pad), ref.output_size(p["W"], kw, sw, pad))
            for sh, sw in strides if (sh, sw) != (p["stride"], p["stride"])]


def _dropped_axes(got: tuple, want: tuple) -> bool:
    """``got`` is ``want`` with some of its size-1 axes left out."""
    if len(got) >= len(want):
        return False
    kept = 0
    for size in want:
        if kept < len(got) and got[kept] == size:
            kept += 1
        elif size != 1:
            return False
    return kept == len(got)


def _shape_evidence(case: Case, name: str, got: tuple, want: tuple, alone: bool) -> Evidence:
    """Evidence from output ``name`` having the shape ``got`` instead of ``want``;
    ``alone``: every other output is right."""
    p, (kh, kw) = case.params, _kernel(case)
    pad, s = p.get("pad", 0), p["stride"]
    if _dropped_axes(got, want):
        # db of shape () also comes from summing dout over every axis.
        return _evidence("shape", ["axis_dropped"], ["db_wrong"] if name == "db" else [])
    if name == "db":
        return _evidence("shape", ["db_wrong"])
    if len(got) != len(want) or got[:2] != want[:2]:
        return _evidence("shape")
    if case.task == "conv_backward_naive" and name == "dx":
        dh, dw = got[2] - want[2], got[3] - want[3]
        if pad and (dh, dw) == (2 * pad, 2 * pad):
            return _evidence("shape", ["dx_not_cropped"])
        if pad == 0 and 0 in got[2:]:
            return _evidence("shape", ["dx_empty_pad0"])
        # Cropped to (W, H), as far as the padded gradient reaches.
        if p["H"] != p["W"] and got[2:] in {(p["W"], p["H"]),
                                            (min(p["W"], p["H"] + pad), min(p["H"], p["W"] + pad))}:
            return _evidence("shape", weak=["hw_swapped"])
        if alone:   # dw and db are right, so was the padding: the crop is not
            return _evidence("shape", ["dx_crop_wrong"])
        # The padding crop taken from a gradient buffer that was never padded.
        return _evidence("shape", weak=["padding_ignored"] if pad and dh == dw == -pad else [])
    found = set()
    if name != "dx" and got[2:] in _unstrided_sizes(case):
        found.add("stride_ignored")
    unpadded = (ref.output_size(p["H"], kh, s), ref.output_size(p["W"], kw, s)) if case.conv else ()
    if pad and got[2:] == unpadded:
        found.add("padding_ignored")
    if p["H"] != p["W"]:
        swapped = _swapped_sizes(case, name)
        wrong = [(g, sw) for g, sw, w in zip(got[2:], swapped, want[2:]) if g != w]
        if wrong and all(g == sw for g, sw in wrong):
            found.add("hw_swapped")
    if name != "dx" and kh != kw and got[2:] in [
            (ref.output_size(p["H"], a, s, pad), ref.output_size(p["W"], c, s, pad))
            for a, c in ((kw, kh), (kh, kh), (kw, kw))
            if min(p["H"], p["W"]) + 2 * pad >= max(a, c)]:
        found.add("kernel_hw_mixed")
    if name != "dx" and all(abs(g - w) <= 1 for g, w in zip(got[2:], want[2:])):
        found.add("off_by_one")
    # Small sizes agree by chance: a size slip is named only if every failed case shows it.
    return _evidence("shape", weak=found)


def _rearranged(got: np.ndarray, want: np.ndarray) -> Optional[str]:
    """The right values in another arrangement: the output's H and W axes swapped
    (hw_swapped) or its axes permuted before a reshape (axes_scrambled)."""
    if got.size != want.size or want.ndim != 4 or close(got.reshape(want.shape), want):
        return None
    for perm in permutations(range(4)):
        moved = want.transpose(perm)
        if perm != (0, 1, 2, 3) and close(got, moved.reshape(got.shape)):
            transposed = perm == (0, 1, 3, 2) and got.shape == moved.shape
            return "hw_swapped" if transposed else "axes_scrambled"
    return None


def _bias_wrong(case: Case, inputs: Outputs, got: np.ndarray) -> bool:
    """The sums over the windows are right; what is added to each output map is not b."""
    p = case.params
    residual = got - ref.conv_forward(inputs["x"], inputs["w"], np.zeros_like(inputs["b"]),
                                      p["stride"], p["pad"])
    per_map = residual.mean(axis=(2, 3), keepdims=True)
    return close(residual, np.broadcast_to(per_map, residual.shape)) \
        and not close(per_map[..., 0, 0], np.broadcast_to(inputs["b"], per_map.shape[:2]))


def output_evidence(case: Case, inputs: Outputs, got: Outputs, expected: Outputs) -> Evidence:
    """Evidence from outputs that are arrays but wrong."""
    wrong = [n for n in expected if not close(got[n], expected[n])]
    # Outputs in the wrong slots: each wrong one is another output's right value.
    if len(expected) > 1 and all(any(m != n and close(got[n], expected[m]) for m in expected)
                                 for n in wrong):
        return _evidence("values", ["return_order"])
    for name in wrong:
        arrangement = _rearranged(got[name], expected[name])
        if arrangement:
            return _evidence("values", [arrangement])
    if case.task == "max_pool_forward_naive" and any(
            close(got["out"], r) for r in pool_reductions(case, inputs["x"])):
        return _evidence("values", ["pool_axes"])
    for name in wrong:
        if got[name].shape != expected[name].shape:
            return _shape_evidence(case, name, got[name].shape, expected[name].shape,
                                   wrong == [name])
    found = set()
    for mistake, compute in VARIANTS[case.task](case, inputs):
        if mistake in found:
            continue
        variant = compute()   # None values: the slip raises on this case
        if all(v is not None for v in variant.values()) and all(
                close(got[n], variant.get(n, expected[n])) for n in wrong):
            found.add(mistake)
    if case.task == "conv_forward_naive" and not found and _bias_wrong(case, inputs, got["out"]):
        found.add("bias_wrong")
    if case.task == "conv_backward_naive" and wrong == ["db"]:
        found.add("db_wrong")
    return _evidence("values", found)


DIAGNOSIS = Diagnosis(MISTAKES, error_evidence, missing_evidence, output_evidence,
                      _FEATURES, _PATTERNS)
