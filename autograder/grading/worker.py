"""Grade one submission in a private course directory with the real nbgrader pipeline.

A worker gets a self-contained ``Job`` (the student's files) and the run's shared
``Bundle`` (config, source, release, a gradebook template), so the same function runs in
local worker processes or on a Dask worker on another machine. It never touches the course's
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

from ..assignment import Assignment, load_folder
from ..verifying import leaks
from ..verifying.scoring import TaskVerdict
from ..verifying.tampering import LIBRARY, TAMPERING, TamperingScan
from . import scratch_gradebook, submission as subm
from .settings import Grading

OK, FLAGGED, NOT_GRADED = "ok", "flagged", "not graded"


@dataclass
class Bundle:
    """What every submission of one assignment in a run shares: built once by the
    coordinator."""
    config_text: str
    source: dict[str, bytes]
    release: dict[str, bytes]
    gradebook_template: bytes
    fingerprint: str          # changes when anything that affects grades changes
    assignment: str = ""      # its id
    folder: str = ""          # its grading folder, at the same path on every worker

    def plugin(self) -> Assignment:
        return load_folder(Path(self.folder))


@dataclass
class Job:
    student_id: str
    files: dict[str, bytes]   # what grading reads of the submission (see intake.py)
    digest: str
    timestamp: Optional[str] = None
    others: dict[str, int] = field(default_factory=dict)    # other files: size, never read
    refused: dict[str, str] = field(default_factory=dict)   # links, pipes, ...: what they are
    problem: str = ""         # why the submission directory itself could not be read


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
    withheld: list[str] = field(default_factory=list)   # tasks whose score waits for a human
    assignment: str = ""
    phases: dict[str, float] = field(default_factory=dict)   # where the seconds went

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


def write_scores(db_url: str, plugin: Assignment, student_id: str,
                 scores: dict[str, float]) -> None:
    """Put verified scores into a gradebook's hidden test grades (submission must exist)."""
    with Gradebook(db_url) as gb:
        for task in plugin.tasks:
            grade = gb.find_grade(task.test_id, plugin.notebook, plugin.id, student_id)
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
    if result.status == NOT_GRADED and result.autograded is None:
        result.autograded = placeholder_notebook(bundle, result.reasons)
    result.seconds = round(time.monotonic() - start, 3)
    result.timestamp = job.timestamp
    result.assignment = bundle.assignment
    return result


def placeholder_notebook(bundle: Bundle, reasons: list[str]) -> bytes:
    """What the formgrader shows a TA for a submission that could not be graded (it lists
    only submissions with an autograded notebook): the release, headed by the reasons. They
    hold student-chosen text (file names), so they go in an indented code block, which
    every Markdown renderer shows escaped."""
    nb = nbformat.reads(bundle.release[f"{bundle.plugin().notebook}.ipynb"].decode(), as_version=4)
    lines = "\n".join(f"    {r}" for r in reasons)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(
        "**Not graded by the autograder.** This is the blank release, not the student's work; "
        f"the student's files are in `submitted/`. Why:\n\n{lines}\n"))
    return nbformat.writes(nb).encode()


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class _Clock:
    """Seconds spent per phase of one grading."""

    def __init__(self):
        self.phases: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._last
        self._last = now


def _grade(job: Job, bundle: Bundle, tmp: Path) -> Result:
    clock = _Clock()
    plugin = bundle.plugin()
    notebook = plugin.notebook
    course, work = tmp / "course", tmp / "work"
    course.mkdir()
    work.mkdir()
    config = load_config(bundle.config_text)
    settings = Grading(config=config)
    release_nb = nbformat.reads(bundle.release[f"{notebook}.ipynb"].decode(), as_version=4)
    try:
        if job.problem:
            raise subm.SubmissionError(job.problem)
        parsed = subm.read_notebook(job.files, notebook, settings.max_notebook_bytes,
                                    job.others, job.refused)
        sub = subm.rebuild(parsed, release_nb)
        graded = nbformat.writes(sub.notebook)
        clock.lap("read and rebuild")
    except subm.SubmissionError as exc:
        return Result(job.student_id, job.digest, NOT_GRADED, [str(exc)])
    except Exception:  # damage the checks of read_notebook do not know: the same every time
        return Result(job.student_id, job.digest, NOT_GRADED,
                      [f"{notebook}.ipynb is damaged in a way the grader cannot repair; open "
                       "it in Jupyter, save it and resubmit"], log=traceback.format_exc())
    write_tree(course / "source" / plugin.id, bundle.source)
    write_tree(course / "assignments" / plugin.id, bundle.release)
    (course / "gradebook.db").write_bytes(bundle.gradebook_template)
    submitted = course / "submitted" / job.student_id / plugin.id
    submitted.mkdir(parents=True)
    (submitted / f"{notebook}.ipynb").write_text(graded, encoding="utf-8")
    if job.timestamp:
        (submitted / "timestamp.txt").write_text(job.timestamp)

    db_url = scratch_gradebook.url(f"{course}/gradebook.db")
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = plugin.id
    config.CourseDirectory.student_id = job.student_id
    config.SandboxedExecute.work_dir = str(work)
    config.SandboxedExecute.assignment_folder = bundle.folder
    log, messages = capturing_log(job.student_id)
    coursedir = CourseDirectory(config=config)
    clock.lap("course files")
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
    clock.lap("autograde")
    verdicts = {k: TaskVerdict.from_dict(v) for k, v in record["verdicts"].items()}
    scores = {t.name: verdicts[t.name].points if t.name in verdicts else 0.0 for t in plugin.tasks}
    in_kernel = record["in_kernel"]

    reasons = []
    found = TamperingScan(config=config).scan(subm.student_cells(sub.notebook, release_nb),
                                              plugin.id)
    master = nbformat.reads(bundle.source[f"{notebook}.ipynb"].decode(), as_version=4)
    leaked = leaks.found_in((c.get("source", "") for c in parsed.notebook.cells),
                            leaks.master_regions(master, plugin.task_of_cell))
    # A region of an answer cell withholds every task graded from that cell.
    withheld = sorted({t.name for r in leaked if r.task
                       for t in plugin.tasks_of_cell(plugin.task_by_name[r.task].answer_cell)})
    if leaked:
        what = ", ".join(sorted({f"{r.kind} of {r.task}" if r.task else r.kind for r in leaked}))
        reasons.append(f"contains the instructor's solution or hidden tests ({what}); "
                       + (f"the scores of {', '.join(withheld)} are withheld for a human decision"
                          if withheld else "a human should decide"))
    heads = {TAMPERING: "tampering", LIBRARY: "a library does the work"}
    reasons += [f"{heads[f.kind]}: {f}" for f in found]
    if record["problem"]:
        reasons.append(record["problem"])
    reasons += [e for e in record["events"] if e not in record["problem"]]
    reasons += record["timeouts"] + record["strays"] + record["disagreements"] + record["refused"]
    for task in plugin.tasks:
        if task.name not in verdicts and not record["problem"]:
            reasons.append(f"the hidden tests of {task.name} reported nothing although "
                           "the kernel was running (their cell did not run as written)")
    clock.lap("scans")
    write_scores(db_url, plugin, job.student_id, scores)
    clock.lap("scores")
    GenerateFeedback(coursedir=coursedir, config=config, log=log).start()
    clock.lap("feedback")
    # The execute step's own phases; the rest of nbgrader's Autograde is its conversion.
    executed = record["phases"]
    clock.phases["nbgrader autograde, besides executing"] = \
        clock.phases.pop("autograde") - executed.pop("execute")
    clock.phases |= executed
    autograded = submitted.parents[2] / "autograded" / job.student_id / plugin.id
    feedback = submitted.parents[2] / "feedback" / job.student_id / plugin.id
    return Result(job.student_id, job.digest, FLAGGED if reasons else OK, reasons, sub.notes,
                  {t: v for t, v in scores.items() if t not in withheld}, in_kernel, {k: v.to_dict() for k, v in verdicts.items()},
                  (autograded / f"{notebook}.ipynb").read_bytes(),
                  (feedback / f"{notebook}.html").read_bytes(), withheld=withheld,
                  phases={k: round(v, 4) for k, v in clock.phases.items()})
