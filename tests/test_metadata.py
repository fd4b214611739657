"""The grader's CheckCellMetadata judges every notebook as nbgrader's does: the same
notebooks pass, and the others fail with nbgrader's error."""
from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from autograder.grading.metadata import CheckCellMetadata, _Validator
from conftest import REPO

MASTER = REPO / "source" / "conv_layers" / "conv_layers.ipynb"


def outcome(validator, nb) -> str:
    try:
        validator().validate_nb(nb)
        return "ok"
    except Exception as exc:   # the comparison is the point: whatever nbgrader raises
        return f"{type(exc).__name__}: {exc}"


def grade_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.parametrize("key, value", [
    (None, None), ("points", "x"), ("grade", "yes"), ("schema_version", 2),
    ("schema_version", 9), ("extra", 1), ("grade_id", 5), ("grade_id", ""), ("locked", None),
    ("points", None)])
def test_the_same_verdict_as_nbgraders(key, value):
    nb = nbformat.read(str(MASTER), as_version=4)
    if key is not None:
        meta = grade_cell(nb).metadata.nbgrader
        if value is None and key == "points":
            del meta[key]
        else:
            meta[key] = value
    ours, theirs = outcome(_Validator, copy.deepcopy(nb)), outcome(MetadataValidator, nb)
    assert ours == theirs
    assert (ours == "ok") == (key is None)


def test_a_duplicate_grade_id_fails_the_preprocessor():
    nb = nbformat.read(str(MASTER), as_version=4)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    cells[1].metadata.nbgrader["grade_id"] = cells[0].metadata.nbgrader["grade_id"]
    with pytest.raises(Exception, match="metadata may be corrupted"):
        CheckCellMetadata().preprocess(nb, {})
