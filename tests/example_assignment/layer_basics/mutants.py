"""A correct solution as a student writes it, the mistakes as edits to it, and the demo's
class: what the tests grade to prove that each mistake loses points and is named."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from autograder import answers
from autograder.answers import Mutant, apply

STUDENT_BODIES = {
    "affine_forward": """\
    x_flat = x.reshape(x.shape[0], -1)
    out = x_flat @ w + b
    cache = (x, w, b)
""",
    "relu_backward": """\
    x = cache
    dx = dout * (x > 0)
""",
}

MUTANTS = (
    Mutant("not_flattened", "x used as it is, without reshaping it to (N, D)",
           (("affine_forward", "x.reshape(x.shape[0], -1)", "x"),), ("affine_forward",)),
    Mutant("bias_missing", "b never added",
           (("affine_forward", "x_flat @ w + b", "x_flat @ w"),), ("affine_forward",)),
    Mutant("mask_from_dout", "the mask taken from dout",
           (("relu_backward", "dout * (x > 0)", "dout * (dout > 0)"),), ("relu_backward",)),
)


def synthetic_class(release_nb: Path) -> dict[str, Optional[dict[str, str]]]:
    """student id -> answers: a correct student, one per mutant, and a blank release."""
    good = answers.student_answers(release_nb, STUDENT_BODIES)
    return {"correct": good, **{f"mistake_{m.name}": apply(m, good) for m in MUTANTS},
            "blank": None}
