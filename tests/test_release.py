"""The committed student release: fresh, and free of solutions, hidden tests and the
reference."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat

from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK, TASKS
from conftest import REPO

RELEASE = REPO / "assignments" / ASSIGNMENT


def _cells(path):
    nb = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
             c["metadata"]) for c in nb["cells"]]


def test_committed_release_is_what_nbgrader_generates_from_source(tmp_path):
    shutil.copytree(REPO / "source", tmp_path / "source")
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT,
                           "--force"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = tmp_path / "assignments" / ASSIGNMENT
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in RELEASE.iterdir()), \
        "release files differ: run `nbgrader generate_assignment conv_layers --force`"
    assert _cells(fresh / f"{NOTEBOOK}.ipynb") == _cells(RELEASE / f"{NOTEBOOK}.ipynb"), \
        "the committed release is stale: run `nbgrader generate_assignment conv_layers --force`"
    for p in fresh.iterdir():
        if p.suffix != ".ipynb":
            assert p.read_bytes() == (RELEASE / p.name).read_bytes(), p.name


def test_release_has_no_hidden_tests_solutions_or_reference():
    text = "\n".join(p.read_text() for p in RELEASE.iterdir())
    for secret in ("BEGIN HIDDEN TESTS", "autograder_harness", "BEGIN SOLUTION",
                   "sliding_window_view", "dx[n, c, hs + a, ws + b] += dout", "Grading.seed"):
        assert secret not in text
    assert not any(p.suffix == ".py" and p.name != "conv_helpers.py" for p in RELEASE.iterdir())


def test_each_task_is_a_stub_that_raises_not_implemented():
    nb = nbformat.read(str(RELEASE / f"{NOTEBOOK}.ipynb"), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    assert set(answers) == {t.name for t in TASKS}
    for name, source in answers.items():
        assert source.startswith(f"def {name}(")
        assert "raise NotImplementedError()" in source
        ns = {}
        exec(source, ns)   # the stub parses and defines the function
        assert callable(ns[name])


def test_hidden_test_cells_carry_the_points():
    nb = nbformat.read(str(REPO / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    grade_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in grade_cells if "### BEGIN HIDDEN TESTS" in c.source}
    assert points == {t.test_id: t.points for t in TASKS}
    assert sum(points.values()) == 100
    # Every other grade cell is a public check worth 0 points: it can make `nbgrader
    # validate` fail, never move the score.
    checks = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in grade_cells if c.metadata["nbgrader"]["grade_id"] not in points}
    assert checks and all(gid.startswith("check_") and p == 0 for gid, p in checks.items())
