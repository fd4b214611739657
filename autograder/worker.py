"""Grade one submission in a private course directory with the real nbgrader pipeline.

A worker gets a self-contained ``Job`` (the student's files) and the run's shared
``Bundle`` (config, source, release, a gradebook template), so the same function runs in
a local process pool or on a Dask worker on another machine. It never touches the course's
gradebook: it returns a ``Result`` and the coordinator records it.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import nbformat
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from . import submission as subm
from .settings import Grading
from .tampering import LIBRARY, TAMPERING, TamperingScan
from .tasks import ASSIGNMENT, NOTEBOOK, TASKS
from .verify import TaskVerdict

OK, FLAGGED, NOT_GRADED = "ok", "flagged", "not graded"


@dataclass
class Bundle:
    """What every submission of a run shares: built once by the coordinator."""
    config_text: str
    source: dict[str, bytes]
    release: dict[str, bytes]
    gradebook_template: bytes
    fingerprint: str          # changes when anything that affects grades changes


@dataclass
class Job:
    student_id: str
    files: dict[str, bytes]   # the student's submitted assignment directory
    digest: str
    timestamp: Optional[str] = None


@dataclass
class Result:
    student_id: str
    digest: str
    status: str
    reasons: list[str] = field(default_factory=list)   # why flagged / not graded
    notes: list[str] = field(default_factory=list)     # repairs and other information
    scores: dict[str, float] = field(default_factory=dict)      # verified, per task
    in_kernel: dict[str, float] = field(default_factory=dict)   # what the notebook showed
    verdicts: dict[str, dict] = field(default_factory=dict)
    autograded: Optional[bytes] = None
    feedback: Optional[bytes] = None
    seconds: float = 0.0
    timestamp: Optional[str] = None
    # A "not graded" caused by the submission itself (damaged file, no notebook): grading it
    # again gives the same answer. Otherwise (an infrastructure failure) a re-run retries.
    final: bool = True
    log: str = ""      # details of an internal error, for the grading log only

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 4)


def load_config(config_text: str) -> Config:
    """The Config of an nbgrader_config.py's text (a config file is Python, loaded from a file)."""
    with tempfile.TemporaryDirectory(prefix="ag-config-") as root:
        (Path(root) / "nbgrader_config.py").write_text(config_text)
        return PyFileConfigLoader("nbgrader_config.py", path=root).load_config()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_scores(db_url: str, student_id: str, scores: dict[str, float]) -> None:
    """Put verified scores into a gradebook's hidden test grades (submission must exist)."""
    with Gradebook(db_url) as gb:
        for task in TASKS:
            grade = gb.find_grade(task.test_id, NOTEBOOK, ASSIGNMENT, student_id)
            grade.auto_score = scores.get(task.name, 0.0)
            grade.needs_manual_grade = False
        gb.db.commit()


def capturing_log(name: str) -> tuple[logging.Logger, list[str]]:
    """A logger for nbgrader's converters that keeps what they say (``name``: whose)."""
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(f"{record.levelname} {record.getMessage()}")
    log = logging.getLogger(f"autograder.nbgrader.{name}")
    log.handlers = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, messages


def grade(job: Job, bundle: Bundle) -> Result:
    """Grade ``job``; never raises: failures come back as a ``not graded`` Result."""
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"grade-{job.student_id[:20]}-"))
    try:
        result = _grade(job, bundle, tmp)
    except Exception as exc:  # an unexpected failure costs only this student
        result = Result(job.student_id, job.digest, NOT_GRADED,
                        [f"internal grading error ({type(exc).__name__}); the details are in "
                         "the grading log"], final=False, log=traceback.format_exc())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # Reasons and notes are shown to students and TAs as single lines.
    result.reasons = [one_line(r) for r in result.reasons]
    result.notes = [one_line(n) for n in result.notes]
    result.seconds = round(time.monotonic() - start, 3)
    result.timestamp = job.timestamp
    return result


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _grade(job: Job, bundle: Bundle, tmp: Path) -> Result:
    course, work = tmp / "course", tmp / "work"
    course.mkdir()
    work.mkdir()
    config = load_config(bundle.config_text)
    settings = Grading(config=config)
    release_nb = nbformat.reads(bundle.release[f"{NOTEBOOK}.ipynb"].decode(), as_version=4)
    try:
        sub = subm.rebuild(subm.read_notebook(job.files, NOTEBOOK, settings.max_notebook_bytes),
                           release_nb)
        graded = nbformat.writes(sub.notebook)
    except subm.SubmissionError as exc:
        return Result(job.student_id, job.digest, NOT_GRADED, [str(exc)])
    except Exception:  # damage the checks of read_notebook do not know: the same every time
        return Result(job.student_id, job.digest, NOT_GRADED,
                      [f"{NOTEBOOK}.ipynb is damaged in a way the grader cannot repair; open "
                       "it in Jupyter, save it and resubmit"], log=traceback.format_exc())
    write_tree(course / "source" / ASSIGNMENT, bundle.source)
    write_tree(course / "assignments" / ASSIGNMENT, bundle.release)
    (course / "gradebook.db").write_bytes(bundle.gradebook_template)
    submitted = course / "submitted" / job.student_id / ASSIGNMENT
    submitted.mkdir(parents=True)
    (submitted / f"{NOTEBOOK}.ipynb").write_text(graded, encoding="utf-8")
    if job.timestamp:
        (submitted / "timestamp.txt").write_text(job.timestamp)

    db_url = f"sqlite:///{course}/gradebook.db"
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = ASSIGNMENT
    config.CourseDirectory.student_id = job.student_id
    config.SandboxedExecute.work_dir = str(work)
    log, messages = capturing_log(job.student_id)
    coursedir = CourseDirectory(config=config)
    try:
        Autograde(coursedir=coursedir, config=config, log=log).start()
    except Exception as exc:
        record = work / "verification.json"
        problem = json.loads(record.read_text())["problem"] if record.exists() else ""
        errors = [m for m in messages if m.startswith(("ERROR", "CRITICAL"))]
        detail = problem or (errors[-1][6:] if errors else str(exc))
        return Result(job.student_id, job.digest, NOT_GRADED,
                      [f"nbgrader autograde failed: {detail}"], sub.notes, final=False)
    record = json.loads((work / "verification.json").read_text())
    verdicts = {k: TaskVerdict.from_dict(v) for k, v in record["verdicts"].items()}
    scores = {t.name: verdicts[t.name].points if t.name in verdicts else 0.0 for t in TASKS}
    in_kernel = record["in_kernel"]

    reasons = []
    found = TamperingScan(config=config).scan(subm.student_cells(sub.notebook, release_nb),
                                              ASSIGNMENT)
    heads = {TAMPERING: "tampering", LIBRARY: "a library does the work"}
    reasons += [f"{heads[f.kind]}: {f}" for f in found]
    if record["problem"]:
        reasons.append(record["problem"])
    reasons += [e for e in record["events"] if e not in record["problem"]]
    reasons += record["timeouts"] + record["strays"] + record["disagreements"]
    for task in TASKS:
        if task.name not in verdicts and not record["problem"]:
            reasons.append(f"the hidden tests of {task.name} reported nothing although "
                           "the kernel was running (their cell did not run as written)")
    write_scores(db_url, job.student_id, scores)
    GenerateFeedback(coursedir=coursedir, config=config, log=log).start()
    autograded = submitted.parents[2] / "autograded" / job.student_id / ASSIGNMENT
    feedback = submitted.parents[2] / "feedback" / job.student_id / ASSIGNMENT
    return Result(job.student_id, job.digest, FLAGGED if reasons else OK, reasons, sub.notes,
                  scores, in_kernel, {k: v.to_dict() for k, v in verdicts.items()},
                  (autograded / f"{NOTEBOOK}.ipynb").read_bytes(),
                  (feedback / f"{NOTEBOOK}.html").read_bytes())
