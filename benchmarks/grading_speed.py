"""Benchmark: plain serial `nbgrader autograde` against `python -m autograder grade` with
1 and N jobs, on one generated class, in one run. Prints seconds per submission, the
ratios, and the floor (kernel start plus the notebook's own execution).

    python benchmarks/grading_speed.py [--students 40] [--jobs 2]

The class is mostly correct submissions, some with mistakes, and one that loops forever
(whose notebook shows the cell its student interrupted, as a real one would).
The graded runs are first runs on fresh courses; a last run regrades the --jobs N course
with --force, when the durations of its first run order the work (longest first).
Plain nbgrader runs the same hidden cases in the kernel (benchmarks/plain_harness.py), with
the same per-cell timeout, so both do the same test work; only the grader adds the sandbox,
the trusted verifier, feedback and the reports.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import demo  # noqa: E402

from autograder.assignments.conv_layers import mutants  # noqa: E402
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK  # noqa: E402


def make_class(n: int) -> dict:
    synthetic = mutants.synthetic_class(REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    students = {"loops_forever": synthetic["infinite_loop"]}
    wrong = [f"mistake_{m.name}" for m in mutants.MUTANTS][: max(1, n // 5)]
    for name in wrong:
        students[name] = synthetic[name]
    for i in range(n - len(students)):
        students[f"correct_{i:03d}"] = synthetic["correct"]
    return students


def save_interrupt(course: Path) -> None:
    """What the looping student saved: the first cell that calls the looping function,
    interrupted (the evidence a first run orders by)."""
    path = course / "submitted" / "loops_forever" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "check_max_pool_forward_naive_1")
    cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="",
                                           traceback=["KeyboardInterrupt: "])]
    nbformat.write(nb, str(path))


def phases(course: Path) -> dict[str, float]:
    """Median seconds per phase of the course's correct submissions (recorded by ``grade``),
    with "total" the whole grading of one submission in its worker; "cell <id>" phases are
    the notebook's cells one by one."""
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute("SELECT phases, seconds FROM autograder_results "
                          "WHERE student_id LIKE 'correct_%'").fetchall()
    found: dict[str, list[float]] = {}
    for text, seconds in rows:
        for name, value in (json.loads(text) | {"total": seconds}).items():
            found.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in found.items()}


def longest(course: Path) -> tuple[str, float]:
    """The submission that took longest in its worker, and its seconds."""
    with sqlite3.connect(course / "gradebook.db") as db:
        return db.execute("SELECT student_id, seconds FROM autograder_results "
                          "ORDER BY seconds DESC LIMIT 1").fetchone()


def seed() -> int:
    return int(re.search(r"c\.Grading\.seed = (\d+)", (REPO / "nbgrader_config.py").read_text()).group(1))


def plain_course(base: Path, students: dict) -> tuple[Path, dict]:
    """A course that plain nbgrader grades with in-kernel hidden tests."""
    course = base / "plain"
    demo.make_course(course, {ASSIGNMENT: students})
    save_interrupt(course)
    shutil.copy(REPO / "benchmarks" / "plain_harness.py",
                course / "source" / ASSIGNMENT / "autograder_harness.py")
    timeout = re.search(r"c\.Execute\.timeout = (\d+)", (REPO / "nbgrader_config.py").read_text()).group(1)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.release_directory = 'assignments'\n"
        f"c.Execute.timeout = {timeout}\n")
    env = dict(os.environ, AUTOGRADER_REPO=str(REPO), AUTOGRADER_SEED=str(seed()))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT,
                    "--force"], cwd=course, env=env, check=True, capture_output=True)
    return course, env


def timed(cmd: list[str], cwd: Path, env=None) -> tuple[float, str]:
    """Wall seconds of ``cmd``, and what it logged."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):    # nbgrader exits 1 when a student failed
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return elapsed, proc.stderr


def coordinator(log: str) -> str:
    """The coordinating process's own phases, as ``grade`` logged them."""
    found = re.search(r"coordinator: (.*)", log)
    return found.group(1) if found else "(not logged)"


def preprocessors(course: Path, students: int = 3) -> dict[str, float]:
    """Seconds per submission in each preprocessor's ``preprocess`` (and in Autograde's own
    set-up), from grading ``students`` correct submissions in this process under cProfile:
    inflated by the profiler, so for the shares."""
    import cProfile
    import pstats
    from autograder.grading import pipeline, worker
    bundle, _ = pipeline.prepare(course, ASSIGNMENT)
    jobs = [j for j in pipeline.discover(course, ASSIGNMENT, 10 ** 8, bundle.fingerprint)
            if j.student_id.startswith("correct")][:students + 1]
    profile = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # nbgrader's SQLAlchemy warnings, said elsewhere
        worker.grade(jobs[0], bundle)     # the process's imports and kernel template
        profile.runcall(lambda: [worker.grade(j, bundle) for j in jobs[1:]])
    costs: dict[str, float] = {}
    for (path, _, name), (_, _, _, cumulative, _) in pstats.Stats(profile).stats.items():
        where = Path(path)
        if name == "preprocess" and "nbconvert" in where.parts and where.stem == "execute":
            continue      # inside the sandboxed execute step, counted there
        if name == "preprocess" and "nbconvert" in where.parts and where.stem == "base":
            label = "the preprocessors that go cell by cell (ClearOutput, LimitOutput, ...)"
        elif name == "preprocess" and ("preprocessors" in where.parts or REPO in where.parents):
            label = f"{where.relative_to(REPO) if REPO in where.parents else where.name}: preprocess"
        elif name == "init_assignment" and where.name == "autograde.py":
            label = "Autograde.init_assignment (the gradebook's student and submission)"
        else:
            continue
        costs[label] = costs.get(label, 0.0) + cumulative / students
    return dict(sorted(costs.items(), key=lambda kv: -kv[1]))


def floor(course: Path, env: dict, runs: int = 3) -> float:
    """Kernel start plus executing the correct notebook, no grader around it."""
    nb_path = course / "submitted" / "correct_000" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    workdir = course / "source" / ASSIGNMENT
    os.environ.update(env)
    times = []
    for _ in range(runs):
        nb = nbformat.read(str(nb_path), as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=60, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    students = make_class(args.students)
    base = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    n = len(students)
    print(f"class: {n} submissions ({sum(k.startswith('correct') for k in students)} correct, "
          f"{sum(k.startswith('mistake') for k in students)} with mistakes, 1 infinite loop), "
          f"{os.cpu_count()} cores")

    course, env = plain_course(base, students)
    plain, _ = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], course, env)
    results = {"plain serial nbgrader autograde": plain}
    per_phase, coordinating = {}, {}
    for jobs in (1, args.jobs):
        ours = base / f"jobs{jobs}"
        demo.make_course(ours, {ASSIGNMENT: students})
        save_interrupt(ours)
        results[f"autograder grade --jobs {jobs}"], log = timed(
            [sys.executable, "-m", "autograder", "grade", "--course", str(ours), "--jobs",
             str(jobs)], REPO)
        per_phase[jobs], coordinating[jobs] = phases(ours), coordinator(log)
    slowest, slowest_seconds = longest(ours)
    # Regrading the same class: the durations of the first run order the work.
    regrade = f"  again with --force (--jobs {args.jobs})"
    results[regrade], _ = timed(
        [sys.executable, "-m", "autograder", "grade", "--course", str(ours), "--jobs",
         str(args.jobs), "--force"], REPO)
    fl = floor(course, env)
    by_preprocessor = preprocessors(base / "jobs1")

    print(f"\n{'run':<40}{'wall s':>9}{'s/submission':>14}")
    for name, secs in results.items():
        print(f"{name:<40}{secs:>9.1f}{secs / n:>14.2f}")
    print(f"{'floor (kernel + notebook, 1 run)':<40}{'':>9}{fl:>14.2f}")
    p, j1, jn = plain / n, results["autograder grade --jobs 1"] / n, results[f"autograder grade --jobs {args.jobs}"] / n
    print(f"\n--jobs {args.jobs} vs plain serial nbgrader: {jn / p:.2f} of the wall time per submission "
          f"(target <= 0.45)")
    print(f"--jobs {args.jobs} vs --jobs 1: {j1 / jn:.2f}x faster (target >= 1.8x)")
    # One submission is graded by one worker: no number of jobs makes a run shorter than it.
    print(f"the longest submission, {slowest}, took {slowest_seconds:.1f} s in its worker: "
          f"{slowest_seconds / plain:.2f} of plain's wall time, and at most "
          f"{results['autograder grade --jobs 1'] / slowest_seconds:.2f}x faster than --jobs 1 "
          "with any number of jobs")
    print("\nwhere a correct submission's time goes (median s, in its worker):")
    print(f"{'phase':<42}{'--jobs 1':>10}{f'--jobs {args.jobs}':>10}")
    for name in [n for n in per_phase[1] if not n.startswith("cell ")]:
        print(f"{name:<42}{per_phase[1][name]:>10.3f}{per_phase[args.jobs].get(name, 0):>10.3f}")
    print("\nthe notebook's cells, costliest first (median s; hidden test cells included):")
    cells = sorted((n for n in per_phase[1] if n.startswith("cell ")), key=lambda n: -per_phase[1][n])
    for name in cells[:12]:
        print(f"{name:<42}{per_phase[1][name]:>10.3f}{per_phase[args.jobs].get(name, 0):>10.3f}")
    print(f"{f'the other {len(cells[12:])} cells':<42}{sum(per_phase[1][n] for n in cells[12:]):>10.3f}"
          f"{sum(per_phase[args.jobs].get(n, 0) for n in cells[12:]):>10.3f}")
    print("\nnbgrader's steps in a correct submission's grading (s per submission, in-process "
          "under cProfile, which inflates them):")
    for name, secs in by_preprocessor.items():
        print(f"{name:<74}{secs:>8.3f}")
    for jobs, line in coordinating.items():
        print(f"the coordinating process, --jobs {jobs}: {line}")
    for jobs, got in per_phase.items():
        own = got["notebook cells"] + got["hidden test cells"]
        print(f"--jobs {jobs}: the notebook's own cells {own:.2f} s of {got['total']:.2f} s "
              f"({own / got['total']:.0%}); the engine's own cost {got['total'] - own:.2f} s "
              "(target <= 0.5 s)")
    again = results[regrade] / n
    print(f"regrading with --jobs {args.jobs}: {again / p:.2f} of plain, {j1 / again:.2f}x faster than "
          "--jobs 1 (first run)")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
