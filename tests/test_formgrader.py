"""The review queue in nbgrader's own formgrader: a real jupyter server with nbgrader's
server extension, started by the test on a graded course, driven through its HTTP API as a
TA's browser does, and its submissions page rendered in headless chromium."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder import demo

from autograder.assignments.conv_layers import mutants
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK, TASKS
from conftest import REPO, chromium, free_port, needs_chromium, read_grades

RELEASE_NB = REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
SCREENSHOT = Path(tempfile.gettempdir()) / "formgrader-review-queue.png"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("review")
    good = mutants.student_answers(RELEASE_NB)
    demo.make_course(course, {ASSIGNMENT: {"correct": good, "tamperer": good}})
    nb_path = course / "submitted" / "tamperer" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import ctypes\nlibc = ctypes.CDLL(None)"))
    nbformat.write(nb, str(nb_path))
    damaged = course / "submitted" / "damaged" / ASSIGNMENT
    damaged.mkdir(parents=True)
    (damaged / f"{NOTEBOOK}.ipynb").write_text('{"cells": [')
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course),
                           "--jobs", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return course


@pytest.fixture(scope="module")
def formgrader(course):
    """A jupyter server serving the course, as an instructor runs it (`jupyter server` in
    the course directory, nbgrader's formgrader extension enabled by its install). On
    loopback and for this test only, without a token: a headless browser cannot log in."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser",
                             "--allow-root", f"--port={port}", "--ip=127.0.0.1",
                             "--ServerApp.token=", "--ServerApp.password=",
                             "--ServerApp.disable_check_xsrf=True",
                             f"--ServerApp.root_dir={course}"],
                            cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            api(base, "/api/status")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"jupyter server did not start: {proc.stderr.read()[-2000:]}")
            time.sleep(0.5)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def api(base: str, path: str, method: str = "GET", body: dict | None = None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def submissions(base: str) -> dict[str, dict]:
    return {s["student"]: s for s in api(base, f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{NOTEBOOK}")}


def test_the_formgrader_lists_flagged_and_ungraded_submissions_for_review(formgrader):
    subs = submissions(formgrader)
    assert subs["correct"]["needs_manual_grade"] is False and subs["correct"]["flagged"] is False
    for sid in ("tamperer", "damaged"):
        assert subs[sid]["needs_manual_grade"] is True and subs[sid]["flagged"] is True, sid


def test_the_reasons_are_shown_beside_the_answer_cells(formgrader):
    subs = submissions(formgrader)
    comments = {c["name"]: c["auto_comment"] for c in
                api(formgrader, f"/formgrader/api/comments?submission_id={subs['tamperer']['id']}")}
    first = comments[TASKS[0].name]
    assert first.startswith("Autograder: needs a human look.")
    assert "tampering: imports ctypes (own cell after max_pool_backward_naive, line 1" in first
    damaged = {c["name"]: c["auto_comment"] for c in
               api(formgrader, f"/formgrader/api/comments?submission_id={subs['damaged']['id']}")}
    assert "is not valid JSON" in damaged[TASKS[0].name]
    correct = api(formgrader, f"/formgrader/api/comments?submission_id={subs['correct']['id']}")
    assert all(c["auto_comment"] is None for c in correct)


@needs_chromium
def test_the_submissions_page_in_a_browser(formgrader, tmp_path):
    url = f"{formgrader}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK}"
    page = ("--virtual-time-budget=15000", "--window-size=1400,700")
    dom = chromium(tmp_path / "profile-dom", *page, "--dump-dom", url).stdout
    chromium(tmp_path / "profile-shot", *page, f"--screenshot={SCREENSHOT}", url)
    # The page lists submissions anonymously ("Submission #1"): three of them, two of which
    # (the flagged and the ungraded one) are marked for manual grading and flagged.
    assert [f"Submission #{i}" in dom for i in (1, 2, 3, 4)] == [True, True, True, False]
    assert dom.count('data-search="needs manual grade"') == 2
    assert dom.count('data-search="flagged"') == 2
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG") and SCREENSHOT.stat().st_size > 10_000


def test_a_review_saved_in_the_formgrader_is_what_report_writes(formgrader, course):
    subs = submissions(formgrader)
    grades = api(formgrader, f"/formgrader/api/grades?submission_id={subs['tamperer']['id']}")
    tasks = {g["name"]: g for g in grades if g["name"].startswith("test_")}
    assert all(g["needs_manual_grade"] for g in tasks.values())
    decided = {t.test_id: t.points - 1 for t in TASKS}       # the TA takes a point off each
    for name, grade in tasks.items():
        saved = api(formgrader, f"/formgrader/api/grade/{grade['id']}", "PUT",
                    {"manual_score": decided[name]})
        assert saved["needs_manual_grade"] is False
    assert submissions(formgrader)["tamperer"]["needs_manual_grade"] is False
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", "--course", str(course)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = read_grades(course / "grades.csv")
    row = rows["tamperer"]
    assert row["status"] == "reviewed"
    assert "reviewed in the formgrader (was flagged)" in row["notes"]
    assert "tampering: imports ctypes" in row["reasons"]      # the history stays
    assert {t.name: float(row[t.name]) for t in TASKS} == {t.name: t.points - 1 for t in TASKS}
    assert float(row["total"]) == 96
    assert rows["damaged"]["status"] == "not graded" and rows["correct"]["status"] == "ok"
    # A rerun grades nothing again and keeps the decision.
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "graded 0 submissions" in proc.stdout
    assert read_grades(course / "grades.csv")["tamperer"]["status"] == "reviewed"
