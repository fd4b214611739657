"""The order a run hands its submissions out in: the slowest first, so that no slow one
starts last and keeps one worker busy alone at the end of the run. Only the order: nothing
here ever touches a grade.

A submission graded before is expected to take as long as it took then. One never graded
is expected to take the typical time plus what the notebook itself shows of its slowness,
from what the student saved: the output of a cell that was interrupted or timed out (a
``KeyboardInterrupt`` or timeout traceback), a cell that started and never finished, and the
durations JupyterLab records in a cell's ``metadata.execution`` when its "record timing"
setting is on. The notebook is untrusted: anything unreadable is no evidence.
"""
from __future__ import annotations

import json
import statistics
from datetime import datetime
from typing import Optional

# Errors a cell shows when it ran until someone or something stopped it.
STOPPED = frozenset({"KeyboardInterrupt", "TimeoutError", "CellTimeoutError", "DeadKernelError"})
MAX_CELLS = 2000


def _time(value) -> Optional[datetime]:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _cell_seconds(cell: dict, cell_timeout: float) -> float:
    """What one saved code cell says of how long it will run (capped at the cell timeout)."""
    outputs = cell.get("outputs")
    stopped = isinstance(outputs, list) and any(
        isinstance(o, dict) and o.get("output_type") == "error" and o.get("ename") in STOPPED
        for o in outputs[:100])
    meta = cell.get("metadata")
    timing = meta.get("execution") if isinstance(meta, dict) else None
    started = ended = None
    if isinstance(timing, dict):
        started, ended = _time(timing.get("iopub.execute_input")), _time(timing.get("shell.execute_reply"))
    if stopped or (started and not ended):
        return cell_timeout
    if started and ended:
        try:
            return min(cell_timeout, max(0.0, (ended - started).total_seconds()))
        except TypeError:          # one with a time zone, one without
            return 0.0
    return 0.0


def evidence_seconds(notebook: bytes, cell_timeout: float) -> float:
    """The seconds the cells of a submitted notebook (its bytes) are expected to take beyond
    a typical submission's, from what it saved of its own runs; 0 without evidence."""
    try:
        nb = json.loads(notebook)
    except (ValueError, RecursionError):
        return 0.0
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return 0.0
    return sum(_cell_seconds(c, cell_timeout) for c in cells[:MAX_CELLS]
               if isinstance(c, dict) and c.get("cell_type") == "code")


def expected_seconds(students: list[str], notebooks: list[bytes], previous: dict[str, dict],
                     cell_timeout: float) -> list[float]:
    """How long each submission is expected to take to grade: its last run's time if it was
    graded before, else the median of those (0 if none) plus the notebook's evidence."""
    known = [previous[s]["seconds"] for s in students if s in previous]
    typical = statistics.median(known) if known else 0.0
    return [previous[s]["seconds"] if s in previous else typical + evidence_seconds(nb, cell_timeout)
            for s, nb in zip(students, notebooks)]
