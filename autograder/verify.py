"""Score a task from the outputs the student's code produced, in the trusted process.

The in-kernel harness only runs the student's functions on the hidden inputs and reports
what came back (arrays and exceptions). Everything that decides a score lives here:
comparison with the reference, per-case points, and the messages the student sees.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field, asdict
from typing import Optional

import numpy as np

from .cases import Case, CaseSet
from .diagnose import MISTAKES, close, diagnose_error, diagnose_outputs, diagnose_pattern
from .tasks import Task

# A report larger than this is not read (the hidden inputs and outputs are a few kB).
MAX_REPORT_BYTES = 16 * 2**20


@dataclass
class CaseResult:
    index: int
    description: str
    passed: bool
    points: float
    message: str = ""
    mistake: Optional[str] = None


@dataclass
class TaskVerdict:
    task: str
    max_points: float
    cases: list[CaseResult] = field(default_factory=list)
    problem: str = ""           # why no case could be checked, if so

    @property
    def points(self) -> float:
        # From the count, not the sum of rounded shares, so it never exceeds max_points.
        passed = sum(c.passed for c in self.cases)
        if not self.cases:
            return 0.0
        return min(self.max_points, round(self.max_points * passed / len(self.cases), 4))

    def lines(self) -> list[str]:
        """The student-facing text: one line per case, parameters and likely mistake."""
        passed = sum(c.passed for c in self.cases)
        head = (f"{self.task}: {passed}/{len(self.cases)} hidden cases passed, "
                f"{self.points:g} / {self.max_points:g} points")
        out = [head] + ([f"  {self.problem}"] if self.problem else [])
        messages = {c.message for c in self.cases}
        if not passed and len(messages) == 1 and len(self.cases) > 1:
            return out + [f"  every case failed: {messages.pop()}"]
        for c in self.cases:
            status = "passed" if c.passed else f"FAILED: {c.message}"
            out.append(f"  case {c.index} ({c.description}): {status}")
        return out

    def to_dict(self) -> dict:
        return asdict(self) | {"points": self.points}

    @classmethod
    def from_dict(cls, d: dict) -> "TaskVerdict":
        return cls(d["task"], d["max_points"], [CaseResult(**c) for c in d["cases"]],
                   d.get("problem", ""))


def load_report_arrays(payload: bytes) -> dict[str, np.ndarray]:
    """Read the harness's npz without ever unpickling (allow_pickle=False)."""
    if len(payload) > MAX_REPORT_BYTES:
        raise ValueError(f"report of {len(payload)} bytes exceeds {MAX_REPORT_BYTES}")
    try:
        loaded = np.load(io.BytesIO(payload), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"unreadable report: {exc}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("unreadable report: not an npz archive")
    try:
        with loaded:
            return {k: loaded[k] for k in loaded.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"unreadable report: {exc}") from None


def _check_case(case: Case, caseset: CaseSet, meta: Optional[dict],
                arrays: dict[str, np.ndarray], task: Task) -> tuple[bool, str, Optional[str]]:
    key = (case.task, case.index)
    inputs, expected = caseset.inputs[key], caseset.expected[key]
    if not isinstance(meta, dict):
        return False, "no result was reported for this case", None
    if meta.get("status") == "error":
        etype, emsg = str(meta.get("error_type", "Exception")), str(meta.get("error", ""))[:300]
        mistake = diagnose_error(case, etype, emsg)
        where = str(meta.get("where") or "")[:80]
        where = f" in {where}" if where.isidentifier() and where != "<module>" else ""
        return False, f"raised {etype}{where}" + (f": {emsg}" if emsg else ""), mistake
    got: dict[str, np.ndarray] = {}
    for name, want in expected.items():
        outputs = meta.get("outputs")
        info = outputs.get(name) if isinstance(outputs, dict) else None
        arr = arrays.get(f"{case.index}/out/{name}")
        if not isinstance(info, dict) or arr is None:
            kind = info.get("type", "nothing") if isinstance(info, dict) else "nothing"
            return False, f"`{name}` is {kind}, expected an array of shape {want.shape}", None
        if arr.dtype.kind not in "fiu":
            return False, f"`{name}` has dtype {arr.dtype}, expected float", None
        got[name] = arr.astype(np.float64)
    for name in task.inputs:
        after = arrays.get(f"{case.index}/after/{name}")
        if after is None or after.shape != inputs[name].shape or not np.array_equal(after, inputs[name]):
            return False, f"input `{name}` was modified in place", "input_modified"
    wrong = [n for n in expected if not close(got[n], expected[n])]
    if not wrong:
        return True, "", None
    mistake = diagnose_outputs(case, inputs, got, expected)
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
    return False, "; ".join(details), mistake


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
    # Failures no single case explains may be explained by which cases failed.
    pattern = diagnose_pattern(cases, [not passed for passed, _, _ in checks])
    for case, (passed, message, mistake) in zip(cases, checks):
        mistake = mistake or (None if passed else pattern)
        if mistake:
            message = f"{message}. Likely mistake: {MISTAKES[mistake].message}"
        verdict.cases.append(CaseResult(case.index, case.describe(), passed,
                                        round(share, 4) if passed else 0.0, message, mistake))
    return verdict
