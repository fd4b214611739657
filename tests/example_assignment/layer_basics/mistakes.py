"""The mistakes students make here, and how each is recognized from a failed case."""
from __future__ import annotations

from autograder.assignment import Diagnosis
from autograder.verifying.evidence import (COMMON_MISTAKES, Evidence, Mistake, Raised, close,
                                           common_cause, evidence)

MISTAKES = COMMON_MISTAKES | {m.id: m for m in (
    Mistake("not_flattened", "input not flattened: x has more than one axis per example; "
            "reshape it to (N, D) with x.reshape(x.shape[0], -1) before the product"),
    Mistake("bias_missing", "bias missing: add b to every row of x @ w"),
    Mistake("mask_from_dout", "ReLU mask taken from the wrong array: the gradient passes "
            "where the forward input x was positive, dout * (x > 0), whatever the sign of dout"),
    Mistake("not_masked", "gradient not masked: the ReLU passes dout only where x > 0"),
)}


def error(case, raised: Raised) -> Evidence:
    named = common_cause(raised)
    if named:
        return evidence("error", [named])
    # A product of (N, d1, ..., dk) by (D, M): numpy names the mismatched sizes.
    mismatched = raised.type == "ValueError" and ("matmul" in raised.message
                                                  or "not aligned" in raised.message)
    return evidence("error", weak=["not_flattened"] if mismatched else [])


def missing(case, inputs, info: dict) -> Evidence:
    return evidence("missing")


def output(case, inputs, got, expected) -> Evidence:
    if case.task == "affine_forward":
        x = inputs["x"].reshape(inputs["x"].shape[0], -1)
        return evidence("values", ["bias_missing"] if close(got["out"], x @ inputs["w"]) else [])
    slips = {"mask_from_dout": inputs["dout"] * (inputs["dout"] > 0), "not_masked": inputs["dout"]}
    return evidence("values", [m for m, v in slips.items() if close(got["dx"], v)])


DIAGNOSIS = Diagnosis(
    MISTAKES, error, missing, output,
    # Only the cases whose x has more than one axis per example show this one.
    features={"not_flattened": lambda c: c.task == "affine_forward" and len(c.params["D"]) > 1},
    patterns=("not_flattened",))
