"""Grade a whole course: prepare once, grade submissions in parallel, record each result.

``prepare`` does the start-up work that is safe to share (the release, the gradebook
template, the fingerprint of everything that affects grades); ``grade_course`` fans the
submissions out to a local process pool (``jobs``) or a Dask cluster (``scheduler``) and
records each result as it arrives, through the single writer in ``records``.
"""
from __future__ import annotations

import copy
import fcntl
import hashlib
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from nbgrader.api import Gradebook
from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory

from .intake import read_submitted
from .records import ResultStore
from .sandbox import can_isolate, die_with_parent, missing_protections, sweep_stale
from .settings import Grading
from .tasks import ASSIGNMENT
from .worker import NOT_GRADED, Bundle, Job, Result, capturing_log, grade, load_config, one_line

log = logging.getLogger("autograder")
PACKAGE = Path(__file__).resolve().parent
# The modules whose code decides a grade: a change to any of them regrades everything.
GRADING_MODULES = ("cases", "diagnose", "execute", "feedback", "harness", "inert", "intake",
                   "leaks", "reference", "sandbox", "settings", "submission", "tampering", "tasks",
                   "variants", "verifier", "verify", "wire", "worker", "zygote")


LOCK_FILE = ".autograder.lock"   # held by the one grading run of a course


class CourseError(Exception):
    """The course directory cannot be graded as it is; the message says what to fix."""


def _read_tree(root: Path, skip_dirs=(".ipynb_checkpoints", "__pycache__")) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not set(p.relative_to(root).parts) & set(skip_dirs)}


def db_url_for(course: Path, config) -> str:
    return CourseDirectory(config=config, root=str(course)).db_url


def _generate(course: Path, config, release_dir: Path, db_url: str) -> None:
    config = copy.deepcopy(config)
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.release_directory = str(release_dir)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = ASSIGNMENT
    config.GenerateAssignment.force = True
    config.GenerateAssignment.create_assignment = True
    coursedir = CourseDirectory(config=config)
    nblog, messages = capturing_log("generate_assignment")
    try:
        GenerateAssignment(coursedir=coursedir, config=config, log=nblog).start()
    except Exception as exc:
        detail = [m for m in messages if m.startswith(("ERROR", "CRITICAL"))]
        raise CourseError(f"nbgrader generate_assignment failed for {course}: "
                          + "\n".join(detail[:-1] or [str(exc)])) from None


def empty_gradebook() -> bytes:
    """An empty SQLite gradebook made by nbgrader, cached per machine and nbgrader version:
    nbgrader spends seconds (an alembic subprocess) on every new database."""
    import nbgrader
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autograder"
    path = cache / f"empty-gradebook-nbgrader-{nbgrader.__version__}.db"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        Gradebook(f"sqlite:///{tmp}").close()
        os.replace(tmp, path)
    return path.read_bytes()


def prepare(course: Path) -> tuple[Bundle, object]:
    """Generate the release (into the course if it has none), register the assignment in
    the course gradebook, and build the bundle every worker shares."""
    config_path = course / "nbgrader_config.py"
    if not config_path.exists():
        raise CourseError(f"{config_path} not found: is {course} a course directory?")
    source_dir = course / "source" / ASSIGNMENT
    if not (source_dir / f"{ASSIGNMENT}.ipynb").exists():
        raise CourseError(f"no source notebook {source_dir}/{ASSIGNMENT}.ipynb")
    config_text = config_path.read_text()
    config = load_config(config_text)
    tmp = Path(tempfile.mkdtemp(prefix="ag-prepare-"))
    db_url = db_url_for(course, config)
    main_db = Path(db_url[len("sqlite:///"):]) if db_url.startswith("sqlite:///") else None
    if main_db is not None and not main_db.exists():
        main_db.write_bytes(empty_gradebook())
    try:
        shutil.copytree(source_dir, tmp / "source" / ASSIGNMENT)
        (tmp / "gradebook.db").write_bytes(empty_gradebook())
        _generate(tmp, config, tmp / "release", f"sqlite:///{tmp}/gradebook.db")
        release = _read_tree(tmp / "release" / ASSIGNMENT)
        template = (tmp / "gradebook.db").read_bytes()
        _generate(course, config, tmp / "release-main", db_url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    release_dir = course / CourseDirectory(config=config).release_directory / ASSIGNMENT
    if not release_dir.exists():
        for rel, data in release.items():
            (release_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (release_dir / rel).write_bytes(data)
        log.info("generated the student release in %s", release_dir)
    elif _read_tree(release_dir) != release:
        log.warning("the release in %s differs from what source/ generates now; grading "
                    "uses the current source (regenerate and re-release if that is wrong)",
                    release_dir)
    source = _read_tree(source_dir)
    digest = hashlib.sha256(config_text.encode())
    code = {f"{m}.py": (PACKAGE / f"{m}.py").read_bytes() for m in GRADING_MODULES}
    for name, data in sorted(source.items()) + sorted(code.items()):
        digest.update(name.encode() + b"\0" + data)
    return Bundle(config_text, source, release, template, digest.hexdigest()[:16]), config


def discover(course: Path, max_bytes: int, fingerprint: str) -> list[Job]:
    """One job per student directory in submitted/, read without following links; only
    the files grading uses are read (a notebook at most ``max_bytes + 1`` bytes, enough
    for the worker to report it as too large)."""
    jobs = []
    for sid, listing in read_submitted(course, ASSIGNMENT, max_bytes + 1):
        timestamp = listing.files.get("timestamp.txt", b"")[:200].decode("utf-8", "replace").strip()
        digest = hashlib.sha256(fingerprint.encode() + listing.problem.encode())
        for rel, data in listing.files.items():
            digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        for rel, what in sorted(listing.others.items()) + sorted(listing.refused.items()):
            digest.update(f"{rel}\0{what}\0".encode())
        jobs.append(Job(sid, listing.files, digest.hexdigest()[:24], timestamp or None,
                        listing.others, listing.refused, listing.problem))
    return jobs


def longest_first(jobs: list[Job], previous: dict[str, dict]) -> list[Job]:
    """``jobs`` ordered by how long each student's submission took to grade last time,
    longest first (a submission never graded counts as the median): a slow submission
    started last would keep one worker busy alone at the end of the run."""
    known = [previous[j.student_id]["seconds"] for j in jobs if j.student_id in previous]
    typical = statistics.median(known) if known else 0.0
    return sorted(jobs, key=lambda j: -previous[j.student_id]["seconds"]
                  if j.student_id in previous else -typical)


def _init_worker(coordinator: int) -> None:
    # A grading process stopped with its coordinator (SIGTERM, kill -9) would go on grading
    # for no one and keep its sandboxes running.
    die_with_parent(coordinator)
    logging.getLogger("autograder.nbgrader").setLevel(logging.CRITICAL)
    from . import execute  # noqa: F401  (imports, once per worker process)


def _warm_up(kernel_preload: tuple[str, ...]) -> None:
    """Submitting it starts a worker process (its imports and its kernel template) early."""
    from .execute import start_kernel_template
    if can_isolate():
        start_kernel_template(kernel_preload)


def start_pool(n: int, kernel_preload: tuple[str, ...]) -> ProcessPoolExecutor:
    """A pool of ``n`` grading processes, started now so their start-up overlaps ``prepare``."""
    pool = ProcessPoolExecutor(max_workers=n, initializer=_init_worker, initargs=(os.getpid(),))
    for _ in range(n):
        pool.submit(_warm_up, kernel_preload)
    return pool


def _kernel_preload(course: Path) -> tuple[str, ...]:
    config = course / "nbgrader_config.py"
    return tuple(Grading(config=load_config(config.read_text()) if config.exists() else None).kernel_preload)


def run_local(jobs: list[Job], bundle: Bundle, pool: ProcessPoolExecutor) -> Iterator[Result]:
    with pool:
        futures = {pool.submit(grade, job, bundle): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:  # a worker process died: only this student is affected
                yield Result(job.student_id, job.digest, NOT_GRADED,
                             [one_line(f"the grading worker failed: {type(exc).__name__}: {exc}")],
                             final=False)


def run_dask(jobs: list[Job], bundle: Bundle, address: str) -> Iterator[Result]:
    from distributed import Client, as_completed as dask_completed
    with Client(address) as client:
        shared = client.scatter(bundle, broadcast=True)
        futures = {client.submit(grade, job, shared, pure=False,
                                 key=f"grade-{job.student_id}-{job.digest}"): job for job in jobs}
        for fut in dask_completed(futures):
            job = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:
                yield Result(job.student_id, job.digest, NOT_GRADED,
                             [one_line(f"the Dask worker failed: {type(exc).__name__}: {exc}")],
                             final=False)


class Progress:
    """A progress bar on a terminal; plain log lines otherwise."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.failed = total, 0, 0
        self.stream, self.start = stream, time.monotonic()
        self.tty = stream.isatty()

    def update(self, result: Result) -> None:
        self.done += 1
        self.failed += result.status == NOT_GRADED
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        if self.tty:
            bar = "#" * int(30 * self.done / self.total)
            self.stream.write(f"\r[{bar:<30}] {self.done}/{self.total} graded, "
                              f"{self.failed} not graded, ETA {eta:4.0f}s")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"graded {self.done}/{self.total}: {result.student_id} "
                              f"{result.status} {result.total:g} ({result.seconds:.1f}s); "
                              f"{self.failed} not graded; ETA {eta:.0f}s\n")
        self.stream.flush()


@dataclass
class RunSummary:
    graded: int
    skipped: int
    seconds: float
    warnings: list[str]


@contextmanager
def course_lock(course: Path) -> Iterator[None]:
    """Hold the course's lock for one ``grade`` run, or raise CourseError at once if another
    run holds it. An flock is released by the kernel when its holder dies (``kill -9``
    included), so a lock file left by a killed run is simply taken over."""
    fd = os.open(course / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise CourseError(f"another run of the autograder (grade or collect) is working on {course} ({holder}); "
                              "wait for it to finish, then run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)


def grade_course(course: Path, jobs: int = 0, scheduler: Optional[str] = None,
                 force: bool = False, students: Iterable[str] = ()) -> RunSummary:
    course = course.resolve()
    if not course.is_dir():
        raise CourseError(f"{course} is not a directory")
    with course_lock(course):
        return _grade_course(course, jobs, scheduler, force, students)


def _grade_course(course: Path, jobs: int, scheduler: Optional[str], force: bool,
                  students: Iterable[str]) -> RunSummary:
    start = time.monotonic()
    warnings = missing_protections()
    for w in warnings:
        log.warning("sandbox: %s", w)
    for stale in sweep_stale():
        log.info("removed %s, left by a grading run that was killed", stale)
    pool = None if scheduler else start_pool(jobs or os.cpu_count() or 1, _kernel_preload(course))
    try:
        bundle, config = prepare(course)
        settings = Grading(config=config)
        todo = discover(course, settings.max_notebook_bytes, bundle.fingerprint)
        wanted = set(students)
        if wanted:
            todo = [j for j in todo if j.student_id in wanted]
        with ResultStore(db_url_for(course, config), course) as store:
            previous = store.rows()
            skipped = [j for j in todo if not force and j.student_id in previous
                       and previous[j.student_id]["digest"] == j.digest
                       and previous[j.student_id]["final"]]
            todo = longest_first([j for j in todo if j not in skipped], previous)
            if skipped:
                log.info("%d submissions unchanged since they were graded (use --force to "
                         "regrade them)", len(skipped))
            progress = Progress(len(todo))
            results = run_dask(todo, bundle, scheduler) if scheduler else run_local(todo, bundle, pool)
            for result in results if todo else ():
                store.record(result)
                if result.log:
                    log.error("grading %s: %s", result.student_id, result.log.rstrip())
                progress.update(result)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    write_reports(course)
    return RunSummary(len(todo), len(skipped), time.monotonic() - start, warnings)


def write_reports(course: Path) -> list[Path]:
    """grades.csv, lms_grades.csv and the HTML class report, from the gradebook, without
    regrading."""
    from .class_report import write_class_report
    from .report import collect, write_grades_csv, write_lms_csv
    course = course.resolve()
    config = load_config((course / "nbgrader_config.py").read_text())
    rows = collect(course, db_url_for(course, config))
    write_grades_csv(rows, course / "grades.csv")
    write_lms_csv(rows, course / "lms_grades.csv")
    return [course / "grades.csv", course / "lms_grades.csv"] + write_class_report(course, rows)
