"""Shared fixtures: one real grading run of a whole synthetic class per test session.

The class is the demo's (correct, one student per mistake class, blank, syntax error,
exception, infinite loop) plus the adversarial corpus of ``adversarial.py``; grading them
together is also the check that attacks cost other students nothing.
"""
from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import demo  # noqa: E402
from autograder.assignments.conv_layers import mutants  # noqa: E402
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK  # noqa: E402

# The columns grades.csv has for each assignment <id>, besides "<id>/<task>" and "<id>".
PER_ASSIGNMENT = ("max_score", "status", "reasons", "notes", "feedback")


def read_grades(path: Path, assignment: str = ASSIGNMENT) -> dict[str, dict[str, str]]:
    """grades.csv's columns of one assignment, by student id: "student_id", each task, "total"
    and ``PER_ASSIGNMENT`` (students with no submission of it left out)."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for r in rows:
        if r[f"{assignment}/status"] == "not submitted":
            continue
        prefix = f"{assignment}/"
        mine = {k[len(prefix):]: v for k, v in r.items() if k.startswith(prefix)}
        out[r["student_id"]] = {"student_id": r["student_id"], "total": r[assignment]} | mine
    return out


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Headless chromium as it runs here: no background traffic (this machine's network is
# closed), a fresh profile each time.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("CI"),
                                    reason="chromium not installed (apt-get install -y chromium)")


def chromium(profile: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run headless chromium with ``args`` and a profile directory of its own."""
    return subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def sandbox_processes(students) -> list[str]:
    """Processes still running in the sandbox cgroup of any of ``students`` (cgroup names
    start with the student id), and the cgroups left behind."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            groups = (proc / "cgroup").read_text()
        except OSError:
            continue
        if any(f"/autograder/{s}-" in groups for s in students):
            found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes()[:80]!r}")
    for d in Path("/sys/fs/cgroup").glob("*/autograder/*"):
        if any(d.name.startswith(f"{s}-") for s in students):
            found.append(f"cgroup {d}")
    return found


class GradedClass:
    def __init__(self, course: Path, output: str):
        self.course = course
        self.output = output
        self.rows = read_grades(course / "grades.csv")

    def feedback(self, sid: str) -> str:
        return (self.course / "feedback" / sid / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()

    def score(self, sid: str, task: str) -> float:
        return float(self.rows[sid][task])


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory) -> GradedClass:
    from adversarial import ATTACKS, LISTENER_PORT, write_attack
    course = tmp_path_factory.mktemp("course")
    demo.make_course(course, {ASSIGNMENT: mutants.synthetic_class(
        REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")})
    release_nb = course / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for attack in ATTACKS:
        write_attack(attack, course, release_nb)
    # A listener on the host's loopback: sandboxed code must not reach it.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", LISTENER_PORT))
    listener.listen(8)
    listener.setblocking(False)
    try:
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course",
                               str(course), "--jobs", "2"], cwd=REPO, capture_output=True,
                              text=True, timeout=1500)
        try:
            listener.accept()
            reached = True
        except BlockingIOError:
            reached = False
    finally:
        listener.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    graded = GradedClass(course, proc.stdout + proc.stderr)
    graded.listener_reached = reached
    return graded
