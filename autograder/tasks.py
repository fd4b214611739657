"""The four student tasks: names, points, and which arrays go in and come out.

This table is shared by case generation, the in-kernel harness's call conventions
(``harness.py`` keeps its own copy because it runs without this package), verification
and reporting, so a task is described once.
"""
from __future__ import annotations

from dataclasses import dataclass

ASSIGNMENT = "conv_layers"
NOTEBOOK = "conv_layers"


@dataclass(frozen=True)
class Task:
    name: str                 # the student's function, also the answer cell's grade_id
    points: float
    inputs: tuple[str, ...]   # arrays handed to the student's code
    outputs: tuple[str, ...]  # arrays the student's code must return

    @property
    def test_id(self) -> str:
        """grade_id of the hidden test cell."""
        return f"test_{self.name}"


TASKS: tuple[Task, ...] = (
    Task("conv_forward_naive", 30, ("x", "w", "b"), ("out",)),
    Task("conv_backward_naive", 30, ("x", "w", "b", "dout"), ("dx", "dw", "db")),
    Task("max_pool_forward_naive", 15, ("x",), ("out",)),
    Task("max_pool_backward_naive", 25, ("x", "dout"), ("dx",)),
)
TASK_BY_NAME = {t.name: t for t in TASKS}
TASK_BY_TEST_ID = {t.test_id: t for t in TASKS}
MAX_SCORE = float(sum(t.points for t in TASKS))
