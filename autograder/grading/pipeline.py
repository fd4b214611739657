"""Grade a whole course: prepare once, grade submissions in parallel, record each result.

``prepare`` does the start-up work that is safe to share (the release, the gradebook
template, the fingerprint of everything that affects grades); ``grade_course`` fans the
submissions out to local worker processes (``jobs``) or a Dask cluster (``scheduler``) and
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

from ..assignment import Assignment, AssignmentError, load
from ..running.launcher import die_with_parent
from ..running.sandbox import can_isolate, missing_protections, sweep_stale
from .intake import read_submitted
from .order import expected_seconds
from .records import ResultStore
from .settings import Grading
from .worker import NOT_GRADED, Bundle, Job, Result, capturing_log, grade, load_config, one_line

log = logging.getLogger("autograder")
ENGINE = Path(__file__).resolve().parent.parent
# The engine's modules whose code decides a grade: a change to any of them (or to any file
# of an assignment's grading folder) regrades that assignment.
GRADING_MODULES = ("assignment", "grading/intake", "grading/settings", "grading/submission",
                   "grading/worker", "reporting/feedback", "reporting/inert", "running/execute",
                   "running/harness", "running/launcher", "running/sandbox", "running/zygote",
                   "grading/scratch_gradebook", "verifying/cases",
                   "verifying/evidence", "verifying/leaks", "verifying/scoring",
                   "verifying/tampering", "verifying/verifier", "verifying/wire")


LOCK_FILE = ".autograder.lock"   # held by the one grading run of a course


class CourseError(Exception):
    """The course directory cannot be graded as it is; the message says what to fix."""


def _read_tree(root: Path, skip_dirs=(".ipynb_checkpoints", "__pycache__")) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not set(p.relative_to(root).parts) & set(skip_dirs)}


def db_url_for(course: Path, config) -> str:
    return CourseDirectory(config=config, root=str(course)).db_url


def _generate(course: Path, config, assignment: str, release_dir: Path, db_url: str) -> None:
    config = copy.deepcopy(config)
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.release_directory = str(release_dir)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = assignment
    config.GenerateAssignment.force = True
    config.GenerateAssignment.create_assignment = True
    coursedir = CourseDirectory(config=config)
    nblog, messages = capturing_log("generate_assignment")
    try:
        GenerateAssignment(coursedir=coursedir, config=config, log=nblog).start()
    except Exception as exc:
        detail = [m for m in messages if m.startswith(("ERROR", "CRITICAL"))]
        raise CourseError(f"nbgrader generate_assignment failed for {assignment} in {course}: "
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


def seed_gradebook(db_url: str) -> None:
    """Start a course's SQLite gradebook that does not exist yet from ``empty_gradebook``."""
    path = Path(db_url[len("sqlite:///"):]) if db_url.startswith("sqlite:///") else None
    if path is not None and not path.exists():
        path.write_bytes(empty_gradebook())


def _course_config(course: Path):
    config_path = course / "nbgrader_config.py"
    if not config_path.exists():
        raise CourseError(f"{config_path} not found: is {course} a course directory?")
    return config_path.read_text()


def assignment_dirs(course: Path, config) -> list[Path]:
    """Where the course's own grading folders are (``c.Grading.assignment_dirs``)."""
    return [course / d for d in Grading(config=config).assignment_dirs]


def plugin_for(course: Path, config, assignment_id: str) -> Assignment:
    """The grading folder's ``Assignment`` of ``assignment_id``, or a CourseError."""
    try:
        return load(assignment_id, assignment_dirs(course, config))
    except AssignmentError as exc:
        raise CourseError(str(exc)) from None


def source_assignments(course: Path) -> list[str]:
    """The ids of the assignments with a master notebook in source/<id>/."""
    source = course / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
        if source.is_dir() else []


def has_submissions(course: Path, assignment_id: str) -> bool:
    submitted = course / "submitted"
    return submitted.is_dir() and any(os.path.lexists(p / assignment_id)
                                      for p in submitted.iterdir() if not p.name.startswith("."))


def course_assignments(course: Path, config, wanted: Iterable[str] = ()) -> tuple[list[Assignment], list[str]]:
    """The assignments to grade (those named, else every assignment of source/ that has a
    grading folder) and warnings about the assignments left out."""
    wanted = list(dict.fromkeys(wanted))
    if wanted:
        missing = [a for a in wanted if a not in source_assignments(course)]
        if missing:
            raise CourseError(f"no assignment {', '.join(missing)} in {course}/source (it "
                              "holds " + (", ".join(source_assignments(course)) or "none") + ")")
        return [plugin_for(course, config, a) for a in wanted], []
    found, warnings = [], []
    for a in source_assignments(course):
        try:
            found.append(plugin_for(course, config, a))
        except CourseError as exc:
            if has_submissions(course, a):
                warnings.append(f"{a} has submissions but is not graded: {exc}")
    return found, warnings


def prepare(course: Path, assignment_id: str) -> tuple[Bundle, object]:
    """Generate the release of one assignment (into the course if it has none), register it
    in the course gradebook, and build the bundle every worker shares."""
    config_text = _course_config(course)
    config = load_config(config_text)
    plugin = plugin_for(course, config, assignment_id)
    source_dir = course / "source" / assignment_id
    if not (source_dir / f"{plugin.notebook}.ipynb").exists():
        raise CourseError(f"no source notebook {source_dir}/{plugin.notebook}.ipynb")
    tmp = Path(tempfile.mkdtemp(prefix="ag-prepare-"))
    db_url = db_url_for(course, config)
    seed_gradebook(db_url)
    try:
        shutil.copytree(source_dir, tmp / "source" / assignment_id)
        (tmp / "gradebook.db").write_bytes(empty_gradebook())
        _generate(tmp, config, assignment_id, tmp / "release", f"sqlite:///{tmp}/gradebook.db")
        release = _read_tree(tmp / "release" / assignment_id)
        template = (tmp / "gradebook.db").read_bytes()
        _generate(course, config, assignment_id, tmp / "release-main", db_url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    release_dir = course / CourseDirectory(config=config).release_directory / assignment_id
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
    code = {f"{m}.py": (ENGINE / f"{m}.py").read_bytes() for m in GRADING_MODULES}
    code |= {f"{assignment_id}/{rel}": data for rel, data in plugin.code_files().items()}
    for name, data in sorted(source.items()) + sorted(code.items()):
        digest.update(name.encode() + b"\0" + data)
    return Bundle(config_text, source, release, template, digest.hexdigest()[:16],
                  assignment_id, str(plugin.folder)), config


def discover(course: Path, assignment_id: str, max_bytes: int, fingerprint: str) -> list[Job]:
    """One job per student with a submitted/<student>/<assignment> entry, read without
    following links; only the files grading uses are read (a notebook at most
    ``max_bytes + 1`` bytes, enough for the worker to report it as too large)."""
    jobs = []
    for sid, listing in read_submitted(course, assignment_id, max_bytes + 1):
        timestamp = listing.files.get("timestamp.txt", b"")[:200].decode("utf-8", "replace").strip()
        digest = hashlib.sha256(fingerprint.encode() + listing.problem.encode())
        for rel, data in listing.files.items():
            digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        for rel, what in sorted(listing.others.items()) + sorted(listing.refused.items()):
            digest.update(f"{rel}\0{what}\0".encode())
        jobs.append(Job(sid, listing.files, digest.hexdigest()[:24], timestamp or None,
                        listing.others, listing.refused, listing.problem))
    return jobs


def _seconds(jobs: list[Job], previous: dict[str, dict], notebook: str = "",
             cell_timeout: float = 0.0) -> list[float]:
    """How long each job is expected to take (see ``order``)."""
    saved = [job.files.get(f"{notebook}.ipynb") or next(
        (data for name, data in job.files.items() if name.endswith(".ipynb")), b"") for job in jobs]
    return expected_seconds([j.student_id for j in jobs], saved, previous, cell_timeout)


def longest_first(jobs: list[Job], previous: dict[str, dict], notebook: str = "",
                  cell_timeout: float = 0.0) -> list[Job]:
    """``jobs`` ordered by how long each is expected to take, longest first: a slow
    submission started last would keep one worker busy alone at the end of the run."""
    seconds = _seconds(jobs, previous, notebook, cell_timeout)
    return [j for _, j in sorted(zip(seconds, jobs), key=lambda p: -p[0])]


Work = list[tuple[Job, Bundle]]


def _init_worker(coordinator: int) -> None:
    # A grading process stopped with its coordinator (SIGTERM, kill -9) would go on grading
    # for no one and keep its sandboxes running.
    die_with_parent(coordinator)
    logging.getLogger("autograder.nbgrader").setLevel(logging.CRITICAL)
    from ..running import execute  # noqa: F401  (imports, once per worker process)


def _warm_up(kernel_preload: tuple[str, ...]) -> None:
    """Submitting it starts a worker process (its imports and its kernel template) early."""
    from ..running.execute import start_kernel_template
    if can_isolate():
        start_kernel_template(kernel_preload)


def start_workers(n: int, kernel_preload: tuple[str, ...]) -> ProcessPoolExecutor:
    """``n`` grading processes, started now so their start-up overlaps ``prepare``."""
    workers = ProcessPoolExecutor(max_workers=n, initializer=_init_worker, initargs=(os.getpid(),))
    for _ in range(n):
        workers.submit(_warm_up, kernel_preload)
    return workers


def _kernel_preload(course: Path) -> tuple[str, ...]:
    config = course / "nbgrader_config.py"
    return tuple(Grading(config=load_config(config.read_text()) if config.exists() else None).kernel_preload)


def _failed(job: Job, bundle: Bundle, what: str, exc: Exception) -> Result:
    return Result(job.student_id, job.digest, NOT_GRADED,
                  [one_line(f"the {what} failed: {type(exc).__name__}: {exc}")], final=False,
                  assignment=bundle.assignment)


def run_local(work: Work, workers: ProcessPoolExecutor) -> Iterator[Result]:
    with workers:
        futures = {workers.submit(grade, job, bundle): (job, bundle) for job, bundle in work}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:  # a worker process died: only this student is affected
                yield _failed(*futures[fut], "grading worker", exc)


def run_dask(work: Work, address: str) -> Iterator[Result]:
    from distributed import Client, as_completed as dask_completed
    with Client(address) as client:
        shared = {id(b): client.scatter(b, broadcast=True) for b in {id(b): b for _, b in work}.values()}
        futures = {client.submit(grade, job, shared[id(bundle)], pure=False,
                                 key=f"grade-{bundle.assignment}-{job.student_id}-{job.digest}"):
                   (job, bundle) for job, bundle in work}
        for fut in dask_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:
                yield _failed(*futures[fut], "Dask worker", exc)


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
                              f"({result.assignment}) "
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
                 force: bool = False, students: Iterable[str] = (),
                 assignments: Iterable[str] = ()) -> RunSummary:
    """Grade the submissions of ``assignments`` (default: every assignment of the course
    that has a grading folder), of the students named (default: all)."""
    course = course.resolve()
    if not course.is_dir():
        raise CourseError(f"{course} is not a directory")
    with course_lock(course):
        return _grade_course(course, jobs, scheduler, force, set(students), assignments)


def _plan(course: Path, config, plugins: list[Assignment], students: set[str], force: bool,
          store: ResultStore) -> tuple[Work, int]:
    """What to grade, longest first over every assignment, and how many are unchanged."""
    settings = Grading(config=config)
    planned: list[tuple[float, Job, Bundle]] = []
    skipped = 0
    for plugin in plugins:
        bundle, _ = prepare(course, plugin.id)
        jobs = [j for j in discover(course, plugin.id, settings.max_notebook_bytes, bundle.fingerprint)
                if not students or j.student_id in students]
        previous = store.rows(plugin.id)
        todo = [j for j in jobs if force or j.student_id not in previous
                or previous[j.student_id]["digest"] != j.digest
                or not previous[j.student_id]["final"]]
        skipped += len(jobs) - len(todo)
        timeout = settings.cell_timeout.get(plugin.id, config.Execute.get("timeout", 30))
        planned += [(s, j, bundle) for s, j in
                    zip(_seconds(todo, previous, plugin.notebook, timeout), todo)]
    planned.sort(key=lambda p: -p[0])
    return [(j, b) for _, j, b in planned], skipped


def _grade_course(course: Path, jobs: int, scheduler: Optional[str], force: bool,
                  students: set[str], assignments: Iterable[str]) -> RunSummary:
    start = time.monotonic()
    warnings = missing_protections()
    for w in warnings:
        log.warning("sandbox: %s", w)
    for stale in sweep_stale():
        log.info("removed %s, left by a grading run that was killed", stale)
    config = load_config(_course_config(course))
    plugins, left_out = course_assignments(course, config, assignments)
    for w in left_out:
        log.warning("%s", w)
    workers = None if scheduler else start_workers(jobs or os.cpu_count() or 1,
                                                   _kernel_preload(course))
    try:
        db_url = db_url_for(course, config)
        seed_gradebook(db_url)
        with ResultStore(db_url, course) as store:
            planning = time.monotonic()
            work, skipped = _plan(course, config, plugins, students, force, store)
            planning = time.monotonic() - planning
            recording = 0.0
            if skipped:
                log.info("%d submissions unchanged since they were graded (use --force to "
                         "regrade them)", skipped)
            by_id = {p.id: p for p in plugins}
            progress = Progress(len(work))
            results = run_dask(work, scheduler) if scheduler else run_local(work, workers)
            for result in results if work else ():
                started = time.monotonic()
                store.record(result, by_id[result.assignment])
                recording += time.monotonic() - started
                if result.log:
                    log.error("grading %s of %s: %s", result.assignment, result.student_id,
                              result.log.rstrip())
                progress.update(result)
    finally:
        if workers is not None:
            workers.shutdown(cancel_futures=True)
    reporting = time.monotonic()
    write_reports(course)
    reporting = time.monotonic() - reporting
    log.info("coordinator: releases and discovery %.1f s, recording %.1f s (%.3f s per "
             "result), reports %.1f s", planning, recording, recording / max(len(work), 1),
             reporting)
    return RunSummary(len(work), skipped, time.monotonic() - start, warnings + left_out)


def report_assignments(course: Path, config) -> list[Assignment]:
    """The assignments the reports cover: every one registered in the gradebook (by
    ``grade``) whose grading folder is found, in the order of their ids."""
    with Gradebook(db_url_for(course, config)) as gb:
        ids = sorted(a.name for a in gb.assignments)
    found = []
    for a in ids:
        try:
            found.append(plugin_for(course, config, a))
        except CourseError as exc:
            log.warning("%s is left out of the reports: %s", a, exc)
    return found


def write_reports(course: Path) -> list[Path]:
    """grades.csv, lms_grades.csv and the HTML class report of every assignment, from the
    gradebook, without regrading."""
    from ..reporting.class_report import write_class_report
    from ..reporting.grades import collect, write_grades_csv, write_lms_csv
    course = course.resolve()
    config = load_config(_course_config(course))
    db_url = db_url_for(course, config)
    classes = {a: collect(course, db_url, a) for a in report_assignments(course, config)}
    write_grades_csv(classes, course / "grades.csv")
    write_lms_csv(classes, course / "lms_grades.csv")
    return [course / "grades.csv", course / "lms_grades.csv"] + write_class_report(course, classes)
