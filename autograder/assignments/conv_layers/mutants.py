"""Mutation suite and synthetic class of conv_layers.

Each ``Mutant`` (see ``autograder/answers.py``) is one class of mistake that students
really make, written as exact textual edits to ``STUDENT_BODIES``, a correct solution as a
student writes it into the release's answer cells (:func:`student_answers`). Running the
hidden tests on a mutated notebook must take
points away from exactly the functions listed in ``broken``: this is how we
know the hidden tests catch each mistake class and do not blame innocent
functions.

How ``broken`` was decided. The hidden test of a backward function gets its
``cache`` from the student's *own* forward function (and builds ``dout`` from the
reference output shape). So a forward bug breaks the backward test too when the
forward raises on some graded case (no cache to pass on), but not when the
forward still returns the right cache, e.g. (x, w, b, conv_param): a wrong
``out`` alone does not affect the backward test. Every mutant was checked by
running the mutated functions against the solution on non-square inputs and
kernels, pad 0/1/2, stride 1/2/3, 1x1 kernels and overlapping pools, and on the
hidden cases of ``cases.py`` (40 seeds): each loses points in exactly
``broken`` for every seed, i.e. ``broken`` does not depend on the sizes drawn.

The edits are tied to ``STUDENT_BODIES``: if you edit it, run :func:`apply` on every
mutant (it raises ValueError on a stale edit).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ... import answers
from ...answers import Mutant, apply, insert_first_statement

CONV_FWD = "conv_forward_naive"
CONV_BWD = "conv_backward_naive"
POOL_FWD = "max_pool_forward_naive"
POOL_BWD = "max_pool_backward_naive"
FUNCTIONS = (CONV_FWD, CONV_BWD, POOL_FWD, POOL_BWD)


# Lines of the solution that the edits target (indentation included, so each
# occurs exactly once in its cell).
_H_OUT = "    H_out = 1 + (H + 2 * pad - HH) // stride"
_W_OUT = "    W_out = 1 + (W + 2 * pad - WW) // stride"
_PAD = "x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')"
_CROP = "dx = dx_pad[:, :, pad:pad + H, pad:pad + W]"
_ARGMAX = "a, b = np.unravel_index(np.argmax(window), window.shape)"
_ROUTE = "dx[n, c, hs + a, ws + b] += dout[n, c, i, j]"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "padding_ignored",
        "conv forward slides over the unpadded x (output size still counts pad).",
        ((CONV_FWD, _PAD, "x_pad = x"),),
        # With pad > 0 the last windows are cut short and `window * w[f]` raises
        # (shape mismatch), so the backward cases with pad > 0 get no cache.
        (CONV_FWD, CONV_BWD),
    ),
    Mutant(
        "stride_ignored",
        "conv forward moves windows by 1 (correct output size, stride unused in the loop).",
        ((CONV_FWD, "hs, ws = i * stride, j * stride", "hs, ws = i, j"),),
        # Never raises; the cache (x, w, b, conv_param) is still right.
        (CONV_FWD,),
    ),
    Mutant(
        "kernel_flipped",
        "conv forward computes a true convolution (w flipped) instead of cross-correlation.",
        ((CONV_FWD, "np.sum(window * w[f])", "np.sum(window * w[f, :, ::-1, ::-1])"),),
        # Only 1x1 / symmetric kernels pass; the cache is unaffected.
        (CONV_FWD,),
    ),
    Mutant(
        "bias_missing",
        "conv forward forgets to add b[f].",
        ((CONV_FWD, "np.sum(window * w[f]) + b[f]", "np.sum(window * w[f])"),),
        # db is computed from dout alone, so the backward is unaffected.
        (CONV_FWD,),
    ),
    Mutant(
        "off_by_one_size",
        "conv output size forgets the leading '1 +' (one row and column short).",
        (
            (CONV_FWD, _H_OUT, "    H_out = (H + 2 * pad - HH) // stride"),
            (CONV_FWD, _W_OUT, "    W_out = (W + 2 * pad - WW) // stride"),
        ),
        # Wrong shape but never raises; the cache is unaffected.
        (CONV_FWD,),
    ),
    Mutant(
        "hw_swapped",
        "H and W confused: conv forward computes H' from W, conv backward crops dx to W x H.",
        (
            (CONV_FWD, _H_OUT, "    H_out = 1 + (W + 2 * pad - HH) // stride"),
            (CONV_BWD, _CROP, "dx = dx_pad[:, :, pad:pad + W, pad:pad + H]"),
        ),
        # Square inputs pass everywhere. The backward edit is what makes the
        # backward test fail deterministically (dx has the wrong shape on every
        # non-square case): the forward edit alone breaks the backward test only
        # when some W > H case makes the forward raise, which depends on the
        # sizes the seed picks.
        (CONV_FWD, CONV_BWD),
    ),
    Mutant(
        "float_sizes",
        "conv output size uses '/' instead of '//', a float shape -> TypeError.",
        (
            (CONV_FWD, _H_OUT, "    H_out = 1 + (H + 2 * pad - HH) / stride"),
            (CONV_FWD, _W_OUT, "    W_out = 1 + (W + 2 * pad - WW) / stride"),
        ),
        # np.zeros raises on every case, so no backward case gets a cache.
        (CONV_FWD, CONV_BWD),
    ),
    Mutant(
        "dx_not_cropped",
        "conv backward returns the padded dx_pad (wrong shape whenever pad > 0).",
        ((CONV_BWD, _CROP, "dx = dx_pad"),),
        (CONV_BWD,),
    ),
    Mutant(
        "dx_empty_when_pad0",
        "conv backward crops with pad:-pad, an empty slice when pad == 0.",
        ((CONV_BWD, _CROP, "dx = dx_pad[:, :, pad:-pad, pad:-pad]"),),
        (CONV_BWD,),
    ),
    Mutant(
        "db_wrong",
        "conv backward sums dout over axis 0 only (db has shape (F, H', W')).",
        ((CONV_BWD, "db = np.sum(dout, axis=(0, 2, 3))", "db = np.sum(dout, axis=0)"),),
        (CONV_BWD,),
    ),
    Mutant(
        "stride_ignored_pool",
        "max pool forward assumes stride == pool size (in the output size and the loop).",
        (
            (POOL_FWD, "H_out = 1 + (H - ph) // stride", "H_out = 1 + (H - ph) // ph"),
            (POOL_FWD, "W_out = 1 + (W - pw) // stride", "W_out = 1 + (W - pw) // pw"),
            (POOL_FWD, "hs, ws = i * stride, j * stride", "hs, ws = i * ph, j * pw"),
        ),
        # Right whenever stride == pool size, wrong for overlapping pools; never
        # raises and the cache (x, pool_param) is unaffected.
        (POOL_FWD,),
    ),
    Mutant(
        "pool_overwrite",
        "max pool backward assigns (=) instead of accumulating (+=) into dx.",
        ((POOL_BWD, _ROUTE, "dx[n, c, hs + a, ws + b] = dout[n, c, i, j]"),),
        # Only overlapping pools where two windows share their maximum differ.
        (POOL_BWD,),
    ),
    Mutant(
        "pool_argmax_local",
        "max pool backward uses the argmax inside the window as an index into x (no offset).",
        ((POOL_BWD, _ROUTE, "dx[n, c, a, b] += dout[n, c, i, j]"),),
        (POOL_BWD,),
    ),
    Mutant(
        "input_modified",
        "max pool backward zeroes the non-max entries of a window view, i.e. of the caller's x.",
        ((POOL_BWD, _ARGMAX, "window[window < np.max(window)] = 0\n                    " + _ARGMAX),),
        # `window` is a view into the cached x, which is the caller's array: x
        # ends up modified, and dx goes wrong too (windows whose max is
        # negative, overlapping windows seeing zeroed entries).
        (POOL_BWD,),
    ),
)


# What a student writes in place of each stub (the release's "# YOUR CODE HERE" lines).
STUDENT_BODIES = {
    "conv_forward_naive": """\
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x_pad[n, :, hs:hs + HH, ws:ws + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
""",
    "conv_backward_naive": """\
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]
                    dw[f] += x_pad[n, :, hs:hs + HH, ws:ws + WW] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
""",
    "max_pool_forward_naive": """\
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, c, i, j] = np.max(x[n, c, hs:hs + ph, ws:ws + pw])
    cache = (x, pool_param)
""",
    "max_pool_backward_naive": """\
    x, pool_param = cache
    N, C, H, W = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x[n, c, hs:hs + ph, ws:ws + pw]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, hs + a, ws + b] += dout[n, c, i, j]
""",
}


def student_answers(release_nb: str | Path) -> dict[str, str]:
    """The release's answer cells (grade_id -> source) with ``STUDENT_BODIES`` written in
    place of their stubs: a correct submission, as a student hands it in."""
    return answers.student_answers(release_nb, STUDENT_BODIES)


def load_answer_sources(notebook: str | Path) -> dict[str, str]:
    """Answer-cell sources (grade_id -> source) of a notebook."""
    return answers.load_answer_sources(notebook, FUNCTIONS)


def synthetic_class(release_nb: Path) -> dict[str, Optional[dict[str, str]]]:
    """The demo's class: student id -> answer sources (None: the blank release). A correct
    student, one per mutant, a blank release, a syntax error, an exception and an infinite
    loop."""
    good = student_answers(release_nb)
    students: dict[str, Optional[dict[str, str]]] = {"correct": good}
    for m in MUTANTS:
        students[f"mistake_{m.name}"] = apply(m, good)
    students["blank"] = None
    students["syntax_error"] = good | {CONV_FWD: good[CONV_FWD].replace("):", ")", 1)}
    students["exception"] = good | {CONV_BWD: insert_first_statement(
        good[CONV_BWD], 'raise RuntimeError("half-finished refactoring")')}
    students["infinite_loop"] = good | {POOL_FWD: insert_first_statement(
        good[POOL_FWD], "while True:\n    pass")}
    return students
