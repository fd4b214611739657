"""Grading a class at scale: parallel runs equal serial ones, a run killed half-way
resumes without losing or repeating work, and a Dask cluster or a PostgreSQL gradebook
give the same grades. Each test grades a small class with the real pipeline."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import demo
from autograder.assignments.conv_layers import mutants
from autograder.running.sandbox import ZYGOTE_PREFIX
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK, TASKS
from conftest import REPO, free_port, read_grades, sandbox_processes

STUDENTS = ("correct", "blank", "exception", "mistake_pool_overwrite", "mistake_bias_missing",
            "mistake_dx_not_cropped")
COLUMNS = [t.name for t in TASKS] + ["total", "status"]


def small_course(path: Path, extra_config: str = "") -> Path:
    synthetic = mutants.synthetic_class(REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    demo.make_course(path, {ASSIGNMENT: {s: synthetic[s] for s in STUDENTS}})
    broken = path / "submitted" / "damaged" / ASSIGNMENT
    broken.mkdir(parents=True)
    (broken / f"{NOTEBOOK}.ipynb").write_text('{"cells": [')
    if extra_config:
        with open(path / "nbgrader_config.py", "a") as fh:
            fh.write("\n" + extra_config + "\n")
    return path


def grade(course: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def grades(course: Path) -> dict[str, tuple]:
    return {sid: tuple(r[c] for c in COLUMNS) for sid, r in read_grades(course / "grades.csv").items()}




@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict[str, tuple]:
    course = small_course(tmp_path_factory.mktemp("serial"))
    grade(course, "--jobs", "1")
    result = grades(course)
    assert result["correct"][-2:] == ("100", "ok")
    assert result["damaged"][-1] == "not graded"
    return result


def test_parallel_grades_equal_serial(serial, tmp_path):
    course = small_course(tmp_path)
    grade(course, "--jobs", "2")
    assert grades(course) == serial


def test_rerun_on_unchanged_submissions_gives_identical_grades(serial, tmp_path):
    course = small_course(tmp_path)
    grade(course, "--jobs", "2")
    proc = grade(course, "--jobs", "2", "--force")
    assert f"graded {len(STUDENTS) + 1} submissions" in proc.stdout
    assert grades(course) == serial


def test_slowest_submissions_are_graded_first_by_their_last_duration():
    from autograder.grading.pipeline import longest_first
    from autograder.grading.worker import Job
    jobs = [Job(sid, {}, "d") for sid in ("a", "b", "new", "c", "d")]
    previous = {"a": {"seconds": 3.0}, "b": {"seconds": 64.0}, "c": {"seconds": 2.0},
                "d": {"seconds": 4.0}, "gone": {"seconds": 999.0}}
    # Never graded counts as the median of the others (3.5 s): after "d" (4 s), before "a".
    assert [j.student_id for j in longest_first(jobs, previous)] == ["b", "d", "new", "a", "c"]
    assert [j.student_id for j in longest_first(jobs, {})] == ["a", "b", "new", "c", "d"]


def _recorded(course: Path) -> dict[str, str]:
    try:
        db = sqlite3.connect(course / "gradebook.db", timeout=30)
        return dict(db.execute("select student_id, graded_at from autograder_results"))
    except sqlite3.OperationalError:
        return {}


def _processes_mentioning(texts: list[str]) -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(t in cmdline for t in texts):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def test_run_killed_half_way_resumes_without_loss_or_repeats(serial, tmp_path):
    course = small_course(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "--course",
                             str(course), "--jobs", "2"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(_recorded(course)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    templates = [f"{tempfile.gettempdir()}/{ZYGOTE_PREFIX}{w}-" for w in workers]
    os.killpg(proc.pid, signal.SIGKILL)     # like a power cut: coordinator and workers
    proc.wait()
    # The sandboxes (kernels run in sessions of their own) and the workers' kernel
    # templates must die with their workers.
    deadline = time.monotonic() + 10
    while (sandbox_processes(STUDENTS) or _processes_mentioning(templates)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in sandbox_processes(STUDENTS) if not p.startswith("cgroup")]
    assert _processes_mentioning(templates) == []
    before = _recorded(course)
    assert 3 <= len(before) < len(STUDENTS) + 1, "the kill must land half-way"
    rerun = grade(course, "--jobs", "2")
    after = _recorded(course)
    assert set(after) == set(serial)
    assert {s: after[s] for s in before} == before, "recorded results were graded again"
    assert f"graded {len(serial) - len(before)} submissions ({len(before)} unchanged)" in rerun.stdout
    assert grades(course) == serial
    assert sandbox_processes(STUDENTS) == []    # the re-run swept the stale cgroups
    assert not [d for t in templates for d in glob.glob(t + "*")]     # and template dirs


def test_dask_cluster_gives_the_same_grades(serial, tmp_path):
    """The scheduler and workers started as the README says: the `dask` command, in another
    directory, with only PYTHONPATH pointing at the checkout (nothing of this test's
    sys.path)."""
    pytest.importorskip("distributed")
    port = free_port()
    dask = [str(Path(sys.executable).with_name("dask"))]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(REPO)
    elsewhere = tmp_path / "cluster"
    elsewhere.mkdir()
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--no-dashboard"], cwd=elsewhere, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs += [subprocess.Popen(dask + ["worker", f"tcp://127.0.0.1:{port}", "--nthreads",
                                           "1", "--nworkers", "2", "--no-dashboard"],
                                   cwd=elsewhere, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        from distributed import Client
        with Client(f"tcp://127.0.0.1:{port}", timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        course = small_course(tmp_path)
        grade(course, "--scheduler", f"tcp://127.0.0.1:{port}")
        assert grades(course) == serial
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


@pytest.fixture
def postgres(tmp_path):
    """A private PostgreSQL server on loopback, started for the test and stopped after."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (.ci/install installs it)")
        pytest.skip("PostgreSQL not installed")
    # The server runs as the postgres user, which cannot enter pytest's private tmp_path.
    bindir, data, port = bins[-1], Path(tempfile.mkdtemp(prefix="pg-")), free_port()
    shutil.chown(data, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U",
                            "postgres"], check=True, capture_output=True)
    subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                            str(data / "log"), "-o", f"-p {port} -k {data} -h 127.0.0.1",
                            "start"], check=True, capture_output=True)
    try:
        subprocess.run(as_pg + [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                                "gradebook"], check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_postgresql_gradebook_gives_the_same_grades(serial, tmp_path, postgres):
    course = small_course(tmp_path, f"c.CourseDirectory.db_url = {postgres!r}")
    grade(course, "--jobs", "2")
    assert not (course / "gradebook.db").exists()
    assert grades(course) == serial
    from nbgrader.api import Gradebook
    with Gradebook(postgres) as gb:
        assert gb.find_submission(ASSIGNMENT, "correct").score == 100


def test_a_second_run_on_the_same_course_stops_at_once(serial, tmp_path):
    import fcntl
    from autograder.grading.pipeline import LOCK_FILE
    course = small_course(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "--course",
                              str(course), "--jobs", "2"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lock, deadline = course / LOCK_FILE, time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        try:
            with open(lock) as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
        except FileNotFoundError:
            pass
        except BlockingIOError:
            break                                   # the first run holds it
        time.sleep(0.1)
    second = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course",
                             str(course), "--jobs", "2"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err[-3000:]
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1].startswith(
        f"error: another run of the autograder (grade or collect) is working on {course} (pid {first.pid} on ")
    assert f"graded {len(STUDENTS) + 1} submissions (0 unchanged)" in out
    assert grades(course) == serial
    # The lock file a finished (or killed) run leaves is taken over by the next run.
    assert lock.exists()
    assert "graded 0 submissions" in grade(course, "--jobs", "2").stdout


def peak_mib(course: Path) -> float:
    """Peak resident memory of a `grade` run's processes (GNU time: the largest of them)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "autograder",
                           "grade", "--course", str(course), "--jobs", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def test_extra_files_do_not_grow_the_coordinators_memory(tmp_path):
    """100 MB of extra files per student (sparse: no disk) are listed, never read."""
    synthetic = mutants.synthetic_class(REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    plain, heavy = tmp_path / "plain", tmp_path / "heavy"
    for course in (plain, heavy):
        demo.make_course(course, {ASSIGNMENT: {s: synthetic["blank"] for s in ("a", "b", "c")}})
    for s in ("a", "b", "c"):
        with open(heavy / "submitted" / s / ASSIGNMENT / "dataset.npy", "wb") as fh:
            fh.truncate(100 * 2**20)
    plain_mib, heavy_mib = peak_mib(plain), peak_mib(heavy)
    assert heavy_mib < plain_mib + 50, (plain_mib, heavy_mib)
    with open(heavy / "grades.csv") as fh:
        assert "dataset.npy (100.0 MiB)" in fh.read()


def test_a_report_declaring_gigabytes_does_not_grow_the_grading_process(tmp_path):
    from adversarial import ATTACKS, GOOD
    bomb = next(a for a in ATTACKS if a.sid == "report_bomb")
    honest, attacked = tmp_path / "honest", tmp_path / "attacked"
    demo.make_course(honest, {ASSIGNMENT: {"s": GOOD}})
    demo.make_course(attacked, {ASSIGNMENT: {"s": bomb.answers}})
    honest_mib, attacked_mib = peak_mib(honest), peak_mib(attacked)
    assert attacked_mib < honest_mib + 200, (honest_mib, attacked_mib)
    row = grades(attacked)["s"]
    assert row[-2:] == ("100", "flagged")
    recorded = dict(sqlite3.connect(attacked / "gradebook.db").execute(
        "select student_id, seconds from autograder_results"))
    assert recorded["s"] < 240          # c.Grading.submission_seconds
