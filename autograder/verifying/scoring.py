"""Score a task from the outputs the student's code produced, in the trusted process.

The in-kernel harness only runs the student's functions on the hidden inputs and reports
what came back (arrays and exceptions). Everything that decides a score lives here:
comparison with the reference, per-case points, and the messages the student sees.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, asdict
from typing import Callable, Optional

import numpy as np

from ..assignment import Case, Diagnosis, Judgement, Task
from .cases import CaseSet
from .evidence import Evidence, Raised, close, settle

log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    index: int
    description: str
    passed: bool
    points: float
    message: str = ""
    mistake: Optional[str] = None
    hint: str = ""               # the mistake's message
    credit: Optional[float] = None   # share of the case's points if partial (else by passed)
    measure: Optional[list] = None   # [what, value] the class report plots (a Judgement's)

    @property
    def share(self) -> float:
        return float(self.passed) if self.credit is None else self.credit


@dataclass
class TaskVerdict:
    task: str
    max_points: float
    cases: list[CaseResult] = field(default_factory=list)
    problem: str = ""           # why no case could be checked, if so

    @property
    def points(self) -> float:
        # From the shares, not the sum of rounded points, so it never exceeds max_points.
        if not self.cases:
            return 0.0
        earned = sum(c.share for c in self.cases)
        return min(self.max_points, round(self.max_points * earned / len(self.cases), 4))

    def lines(self) -> list[str]:
        """The student-facing text: one line per case, parameters and likely mistake."""
        passed = sum(c.passed for c in self.cases)
        head = (f"{self.task}: {passed}/{len(self.cases)} hidden cases passed, "
                f"{self.points:g} / {self.max_points:g} points")
        out = [head] + ([f"  {self.problem}"] if self.problem else [])
        shown = [_shown(c) for c in self.cases]
        if not passed and len(set(shown)) == 1 and len(self.cases) > 1:
            return out + [f"  every case failed: {shown[0]}"]
        for c, text in zip(self.cases, shown):
            if c.passed:
                status = f"passed: {text}" if text else "passed"
            elif c.share > 0:
                status = f"partly passed ({c.share:.0%} of its points): {text}"
            else:
                status = f"FAILED: {text}"
            out.append(f"  case {c.index} ({c.description}): {status}")
        return out

    def to_dict(self) -> dict:
        return asdict(self) | {"points": self.points}

    @classmethod
    def from_dict(cls, d: dict) -> "TaskVerdict":
        return cls(d["task"], d["max_points"], [CaseResult(**c) for c in d["cases"]],
                   d.get("problem", ""))


def _shown(case: CaseResult) -> str:
    """A failed case's message with its likely mistake (which it usually holds already)."""
    hint = case.hint
    return f"{case.message}. Likely mistake: {hint}" if hint and hint not in case.message \
        else case.message


def _text(meta: dict, key: str, limit: int) -> str:
    value = meta.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _raised(meta: dict) -> tuple[Raised, str]:
    """The report's account of an exception (untrusted: types checked, lengths clipped),
    and the student-facing description of it."""
    etype = _text(meta, "error_type", 80) or "Exception"
    raised = Raised(etype, _text(meta, "error", 300), _text(meta, "where", 80),
                    _text(meta, "source", 200))
    line = meta.get("line")
    named = raised.function.isidentifier() and raised.function != "<module>"
    at = f" in {raised.function}" if named else ""
    if at and type(line) is int and 0 < line < 10**6:
        at += f" (line {line})"
    return raised, f"raised {etype}{at}" + (f": {raised.message}" if raised.message else "")


def _evidence(kind: str, recognize: Callable[..., Evidence], *args) -> Evidence:
    """The recognizers' evidence, or none if they fail: naming a mistake never costs a score."""
    try:
        return recognize(*args)
    except Exception:  # noqa: BLE001 - a recognizer's bug must not stop the scoring
        log.exception("diagnosis failed on %s", args[0])
        return Evidence(kind)


def _reported(case: Case, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every numeric output the report has for ``case``, as float64."""
    prefix = f"{case.index}/out/"
    return {k[len(prefix):]: a.astype(np.float64) for k, a in arrays.items()
            if k.startswith(prefix) and a.dtype.kind in "fiub"}


def _judged(judgement: Judgement) -> tuple[bool, str, Optional[Evidence], Judgement]:
    passed = judgement.credit >= 1
    found = None if passed else Evidence("values", frozenset({judgement.mistake} - {None}))
    return passed, judgement.message, found, judgement


def _check_case(case: Case, caseset: CaseSet, meta: Optional[dict],
                arrays: dict[str, np.ndarray], task: Task
                ) -> tuple[bool, str, Optional[Evidence], Optional[Judgement]]:
    """Whether the case passed, what went wrong, the evidence of why (None if passed), and
    the assignment's own judgement of it if it judges it (else None)."""
    diagnosis: Diagnosis = caseset.assignment.diagnosis
    key = (case.task, case.index)
    inputs, expected = caseset.inputs[key], caseset.expected[key]
    if not isinstance(meta, dict):
        return False, "no result was reported for this case", Evidence("other"), None
    if meta.get("status") == "error":
        raised, message = _raised(meta)
        return False, message, _evidence("error", diagnosis.error, case, raised), None
    got: dict[str, np.ndarray] = {}
    for name, want in expected.items():
        outputs = meta.get("outputs")
        info = outputs.get(name) if isinstance(outputs, dict) else None
        arr = arrays.get(f"{case.index}/out/{name}")
        if not isinstance(info, dict) or arr is None:
            kind = str(info.get("type", "nothing"))[:40] if isinstance(info, dict) else "nothing"
            evidence = (_evidence("missing", diagnosis.missing, case, inputs, info)
                        if isinstance(info, dict) else Evidence("other"))
            return False, f"`{name}` is {kind}, expected an array of shape {want.shape}", evidence, None
        if arr.dtype.kind not in "fiu":
            return False, f"`{name}` has dtype {arr.dtype}, expected float", Evidence("other"), None
        got[name] = arr.astype(np.float64)
    for name in inputs:
        after = arrays.get(f"{case.index}/after/{name}")
        if after is None or after.shape != inputs[name].shape or not np.array_equal(after, inputs[name]):
            return (False, f"input `{name}` was modified in place",
                    Evidence("other", frozenset({"input_modified"})), None)
    judge = caseset.assignment.judge
    verdict = judge(case, inputs, _reported(case, arrays), expected) if judge else None
    if verdict is not None:
        return _judged(verdict)
    wrong = [n for n in expected if not close(got[n], expected[n])]
    if not wrong:
        return True, "", None, None
    evidence = _evidence("values", diagnosis.output, case, inputs, got, expected)
    details = []
    for n in wrong:
        if got[n].shape != expected[n].shape:
            details.append(f"`{n}` has shape {got[n].shape}, expected {expected[n].shape}")
        elif not np.all(np.isfinite(got[n])):
            details.append(f"`{n}` contains NaN or inf")
        else:
            err = float(np.max(np.abs(got[n] - expected[n])
                               / np.maximum(1e-8, np.abs(got[n]) + np.abs(expected[n]))))
            details.append(f"`{n}` has wrong values (relative error {err:.1e})")
    return False, "; ".join(details), evidence, None


def verify_task(task: Task, caseset: CaseSet, header: Optional[dict],
                arrays: dict[str, np.ndarray], problem: str = "") -> TaskVerdict:
    """Score every case of ``task`` from the harness's report (header + arrays).

    A missing or malformed report scores 0 with ``problem`` saying why.
    """
    cases = caseset.cases[task.name]
    verdict = TaskVerdict(task.name, float(task.points), problem=problem)
    share = task.points / len(cases)
    reported = (header or {}).get("cases") if isinstance(header, dict) else None
    by_index = {}
    if isinstance(reported, list):
        by_index = {m["index"]: m for m in reported
                    if isinstance(m, dict) and isinstance(m.get("index"), int)}
    elif not problem:
        verdict.problem = "no results were reported"
    checks = [_check_case(case, caseset, by_index.get(case.index), arrays, task)
              for case in cases]
    # The mistake is named from the evidence of all the task's cases together.
    diagnosis = caseset.assignment.diagnosis
    mistakes = settle(cases, [evidence for _, _, evidence, _ in checks], diagnosis.features,
                      diagnosis.patterns)
    for case, (passed, message, evidence, judged), mistake in zip(cases, checks, mistakes):
        result = CaseResult(case.index, case.describe(), passed, 0.0, message)
        _name(result, caseset, mistake, evidence is not None and evidence.kind == "missing")
        if judged is not None:
            _apply(result, judged, share)
        elif passed:
            result.points = round(share, 4)
        verdict.cases.append(result)
    return verdict


def _name(result: CaseResult, caseset: CaseSet, mistake: Optional[str], quiet: bool = False) -> None:
    """Name ``mistake`` on a failed case (in its message too, unless ``quiet``: a missing
    output's message says it all, and ``lines()`` still shows the hint)."""
    known = caseset.assignment.mistakes
    result.mistake = mistake
    result.hint = known[mistake].message if mistake in known else ""
    if result.hint and not quiet:
        result.message = f"{result.message}. Likely mistake: {result.hint}"


def _apply(result: CaseResult, judged: Judgement, share: float) -> None:
    result.passed = judged.credit >= 1
    result.credit = None if result.passed else max(0.0, min(1.0, float(judged.credit)))
    result.points = round(share * result.share, 4)
    result.measure = [judged.measure[0], float(judged.measure[1])] if judged.measure else None


def time_verdict(verdict: TaskVerdict, caseset: CaseSet, seconds: float) -> TaskVerdict:
    """The verdict of a timed task once its hidden cell's wall time (``seconds``, taken
    outside the kernel) is known: each case whose outputs were right is judged by the time;
    a case with wrong outputs keeps its 0."""
    judge = caseset.assignment.judge_time
    share = verdict.max_points / max(1, len(verdict.cases))
    for result in verdict.cases:
        if not result.passed:
            continue
        case = caseset.case(verdict.task, result.index)
        judged = judge(case, caseset.inputs[(case.task, case.index)], seconds)
        result.message = judged.message
        _apply(result, judged, share)
        if not result.passed:
            _name(result, caseset, judged.mistake)
    return verdict
