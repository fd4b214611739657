"""The four tasks of conv_layers: names, points, and which arrays go in and come out."""
from __future__ import annotations

from ...assignment import Task

ASSIGNMENT = "conv_layers"
NOTEBOOK = "conv_layers"

TASKS: tuple[Task, ...] = (
    Task("conv_forward_naive", 30, ("x", "w", "b"), ("out",)),
    Task("conv_backward_naive", 30, ("x", "w", "b", "dout"), ("dx", "dw", "db")),
    Task("max_pool_forward_naive", 15, ("x",), ("out",)),
    Task("max_pool_backward_naive", 25, ("x", "dout"), ("dx",)),
)
TASK_BY_NAME = {t.name: t for t in TASKS}
TASK_BY_TEST_ID = {t.test_id: t for t in TASKS}
MAX_SCORE = float(sum(t.points for t in TASKS))
