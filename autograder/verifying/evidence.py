"""Naming the mistake behind a task's failed cases, from evidence.

Each failed case gives *evidence*: the mistakes that explain what the student's code
returned or raised there. An assignment's recognizers (its ``Diagnosis``) produce it; then
``settle`` names the mistake per case from the evidence of all the task's cases together,
because a wrong name is worse than none: a mistake is named only when the evidence for it
is specific, or when every failed case agrees with it. Only the trusted process runs this;
everything taken from the kernel's report (messages, source lines) only ever chooses a
name, never a score. The messages name the mistake and where to look, never hidden values.

This module also holds the mistakes of any numpy assignment (a stub left, a function not
defined, numpy names removed, Python 2 code, an input modified in place) and their
recognizer, so an assignment's own recognizers start from them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Optional

import numpy as np

if TYPE_CHECKING:
    from ..assignment import Case


@dataclass(frozen=True)
class Mistake:
    id: str
    message: str


@dataclass(frozen=True)
class Raised:
    """An exception from the student's run of a case, as the (untrusted) report has it."""
    type: str
    message: str
    function: str = ""   # innermost function of the student's code it went through; "" if none
    source: str = ""     # the text of that function's line it went through, if known


@dataclass(frozen=True)
class Evidence:
    """What one failed case says about the mistake behind it."""
    kind: str            # "error", "shape", "values", "missing" (not an array) or "other"
    strong: frozenset[str] = frozenset()     # mistakes that explain this case on their own
    weak: frozenset[str] = frozenset()       # named only if the other failed cases agree


def evidence(kind: str, strong: Iterable[str] = (), weak: Iterable[str] = ()) -> Evidence:
    return Evidence(kind, frozenset(strong), frozenset(weak))


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and values within float64 round-off of a loop-based computation."""
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale))


COMMON_MISTAKES = {m.id: m for m in (
    Mistake("not_implemented", "not implemented yet: the function still raises "
            "NotImplementedError"),
    Mistake("not_defined", "function not defined: its cell raised an error when it ran (a syntax "
            "error, a failing import) or the function has another name; run the cell and read "
            "its error"),
    Mistake("numpy_alias", "numpy name removed: np.int, np.float, np.mat, np.lib.pad, np.asscalar, "
            "np.product and similar aliases no longer exist (numpy 1.24 and 2.0); use int, float, "
            "np.asarray, np.pad, .item(), np.prod (the error message names the replacement)"),
    Mistake("python2", "Python 2 code: xrange, dict.iteritems and the like do not exist in "
            "Python 3; use range, dict.items()"),
    Mistake("no_return", "nothing returned: the function does not return its results (a "
            "missing `return`)"),
    Mistake("input_modified", "input modified in place: your code changes an array passed "
            "to it (or kept in the cache); work on a copy"),
)}

# Removed in numpy 1.24 (the scalar-type aliases) or 2.0 (the rest).
_REMOVED_NUMPY = frozenset((
    "int", "float", "bool", "object", "str", "long", "unicode", "complex", "int0", "uint0",
    "float_", "complex_", "string_", "unicode_", "Inf", "Infinity", "NaN", "NINF", "PINF",
    "NZERO", "PZERO", "infty", "mat", "asscalar", "product", "cumproduct", "sometrue",
    "alltrue", "asfarray", "msort", "round_", "find_common_type", "pad", "trapz", "in1d",
    "row_stack", "safe_eval", "who", "issubsctype", "cast", "deprecate"))
_NUMPY_ATTR = re.compile(r"module 'numpy[\w.]*' has no attribute '(\w+)'|`np\.(\w+)` was removed")
_PYTHON2 = frozenset(("xrange", "raw_input", "unicode", "basestring", "long", "unichr",
                      "iteritems", "itervalues", "iterkeys", "has_key", "izip", "imap"))
_PYTHON2_NAME = re.compile(r"name '(\w+)' is not defined|object has no attribute '(\w+)'")
# What the in-kernel harness raises itself (``function``: "") when a function is missing or
# returns something else than its task's API says.
_HARNESS_NOT_DEFINED = re.compile(r"function [\w, ]+ is not defined")


def harness_return_error(raised: Raised) -> bool:
    """The harness's own "<function> must return <what>, got <type>"."""
    return raised.function == "" and raised.type == "TypeError" and " must return " in raised.message


def common_cause(raised: Raised) -> Optional[str]:
    """The mistake of ``COMMON_MISTAKES`` that an exception names on its own, if any."""
    kind, msg = raised.type, raised.message
    if kind == "NotImplementedError":
        return "not_implemented"
    if raised.function == "" and kind == "NameError" and _HARNESS_NOT_DEFINED.fullmatch(msg):
        return "not_defined"
    if harness_return_error(raised) and msg.endswith("got NoneType"):
        return "no_return"
    numpy_attr = _NUMPY_ATTR.search(msg) if kind == "AttributeError" else None
    if numpy_attr and (numpy_attr.group(1) or numpy_attr.group(2)) in _REMOVED_NUMPY:
        return "numpy_alias"
    py2 = _PYTHON2_NAME.search(msg) if kind in ("NameError", "AttributeError") else None
    if py2 and (py2.group(1) or py2.group(2)) in _PYTHON2:
        return "python2"
    return None


def _agreement(cases: list[Case], found: list[Evidence], mistake: str,
               features: dict[str, Callable[[Case], bool]]) -> Optional[int]:
    """How many failed cases give ``mistake`` as strong evidence, if every failed case
    agrees with it: gives it as evidence, or (no evidence of its own) has the feature the
    mistake shows on. None if some failed case disagrees."""
    has = features.get(mistake, lambda c: False)
    strong = 0
    for case, ev in zip(cases, found):
        if mistake in ev.strong:
            strong += 1
        elif mistake not in ev.weak and (ev.strong or ev.weak or not has(case)):
            return None
    return strong


def settle(cases: list[Case], found: list[Optional[Evidence]],
           features: dict[str, Callable[[Case], bool]] = {},  # noqa: B006 - read only
           patterns: tuple[str, ...] = ()) -> list[Optional[str]]:
    """The mistake named on each case (None for passed cases and where unsure), from the
    evidence of the failed cases (None for a passed case). ``features``: per mistake, the
    cases it shows on; ``patterns``: the mistakes named when exactly the cases with their
    feature raise or have wrong shapes."""
    failed = [(c, e) for c, e in zip(cases, found) if e is not None]
    if not failed:
        return [None] * len(cases)
    fcases, fev = [c for c, _ in failed], [e for _, e in failed]
    # 1. One mistake every failed case agrees with; the most strongly supported wins.
    suspects = sorted(set().union(*(e.strong | e.weak for e in fev)))
    support = {m: _agreement(fcases, fev, m, features) for m in suspects}
    support = {m: s for m, s in support.items() if s is not None}
    best = [m for m, s in support.items() if s == max(support.values(), default=-1)]
    if len(best) == 1:
        return [best[0] if e is not None else None for e in found]
    # 2. Cases with one strong explanation keep it.
    named = [next(iter(e.strong)) if e is not None and len(e.strong) == 1 else None
             for e in found]
    # 3. Errors and wrong shapes with no explanation, failing exactly on the cases with one
    # feature (every case with pad > 0 and no other, ...), are explained by that feature.
    failing = [e is not None for e in found]
    if all(e.kind in ("error", "shape") and not e.strong for e in fev) and len(fev) < len(cases):
        fits = [m for m in patterns if [features[m](c) for c in cases] == failing]
        if len(fits) == 1:
            return [fits[0] if f else None for f in failing]
    return named
