"""The five tasks of conv_net: names, points, and which arrays go in and come out."""
from __future__ import annotations

from ...assignment import Task

ASSIGNMENT = "conv_net"
NOTEBOOK = "conv_net"
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
GRADS = tuple("d" + k for k in PARAMS)

TASKS: tuple[Task, ...] = (
    Task("conv_forward_fast", 20, ("x", "w", "b"), ("out",)),
    Task("conv_backward_fast", 20, ("x", "w", "b", "dout"), ("dx", "dw", "db")),
    # Scored from the hidden cell's wall time, taken outside the kernel (see judges.py); its
    # review comments go beside the backward pass, whose cell the speed depends on too.
    Task("conv_speed", 10, ("x", "w", "b", "dout"), ("out", "dx", "dw", "db"),
         cell="conv_backward_fast", timed=True),
    Task("ThreeLayerConvNet", 30, ("X", "y") + PARAMS,
         ("scores", "loss") + PARAMS + GRADS + tuple("num_" + g for g in GRADS)),
    Task("trained_model", 20, (), PARAMS),
)
TASK_BY_NAME = {t.name: t for t in TASKS}
MAX_SCORE = float(sum(t.points for t in TASKS))
