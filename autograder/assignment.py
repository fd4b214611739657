"""The contract between the engine and an assignment, and where assignments are found.

Everything the engine needs to know about one assignment is an ``Assignment``, defined by
the assignment's own folder (``autograder/assignments/<id>/``, or a folder named by
``c.Grading.assignment_dirs``): its tasks and points, the in-kernel module that calls the
student's functions, how hidden cases and their inputs and expected outputs are made, and
how its mistakes are recognized and named. The engine finds an assignment by id and
imports no assignment by name. "Writing an assignment" in the README walks through one.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from .verifying.evidence import COMMON_MISTAKES, Evidence, Mistake, Raised

PLUGINS = Path(__file__).resolve().parent / "assignments"
# Every assignment is imported under this package, wherever its folder is, so that its
# modules import each other relatively and pickled objects name the same modules everywhere.
PACKAGE = "autograder.assignments"

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Task:
    """One graded function (or group of functions) of an assignment."""
    name: str                 # usually the student's function
    points: float
    inputs: tuple[str, ...]   # arrays handed to the student's code
    outputs: tuple[str, ...]  # arrays the student's code may return
    cell: str = ""            # the answer cell's grade_id, if not ``name``
    # Scored also by the wall time of its hidden test cell, which the trusted side takes
    # outside the kernel (``Assignment.judge_time``).
    timed: bool = False

    @property
    def test_id(self) -> str:
        """grade_id of the hidden test cell."""
        return f"test_{self.name}"

    @property
    def answer_cell(self) -> str:
        """grade_id of the answer cell the task grades (review comments go beside it)."""
        return self.cell or self.name


@dataclass(frozen=True)
class Judgement:
    """An assignment's own verdict on a case (see ``Assignment.judge``)."""
    credit: float                  # the share of the case's points, 0..1
    message: str = ""              # for the student; never hidden values
    mistake: Optional[str] = None  # a mistake id of the assignment's Diagnosis
    # A figure the class report shows the distribution of (e.g. ("accuracy", 0.93)).
    measure: Optional[tuple[str, float]] = None


@dataclass(frozen=True)
class Case:
    """One hidden case: a task and its parameters (shapes, hyper-parameters; no values).
    An assignment subclasses it to say how a case is shown to the student."""
    task: str
    index: int                 # 1-based within the task
    params: dict = field(hash=False)

    def describe(self) -> str:
        """Shapes and hyper-parameters as shown to the student (never values)."""
        return ", ".join(f"{k}={v}" for k, v in self.params.items())


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """How an assignment's mistakes are recognized (see ``verifying.evidence``). Each
    recognizer gets a failed case and what the untrusted report said of it; a recognizer
    that raises costs no score, only the name."""
    mistakes: dict[str, Mistake]
    # (case, raised) -> evidence from an exception
    error: Callable[[Case, Raised], Evidence]
    # (case, inputs, the report's description of a non-array output) -> evidence
    missing: Callable[[Case, Arrays, dict], Evidence]
    # (case, inputs, outputs got, outputs expected) -> evidence from wrong arrays
    output: Callable[[Case, Arrays, Arrays, Arrays], Evidence]
    # mistake -> the cases it shows on; see ``settle``
    features: dict[str, Callable[[Case], bool]] = field(default_factory=dict)
    # mistakes named when exactly the cases with their feature fail
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Assignment:
    """What the engine knows of one assignment (one object per assignment and process, so
    it compares and hashes by identity)."""
    id: str
    notebook: str                          # the notebook's name without .ipynb
    tasks: tuple[Task, ...]
    calls: Path                            # in-kernel module: how each task's functions are called
    generate_cases: Callable[[int], dict[str, list[Case]]]   # seed -> cases per task
    make_inputs: Callable[[Case, int], Arrays]               # (case, seed) -> inputs
    expected_outputs: Callable[[Case, Arrays], Arrays]       # the reference's outputs
    diagnosis: Diagnosis
    # The demo's synthetic class: release notebook -> {student id: answer sources, None
    # for the blank release}; see ``answers``.
    synthetic_class: Optional[Callable[[Path], dict[str, Optional[dict[str, str]]]]] = None
    # (case, inputs, every output reported, expected) -> the case's verdict, or None to
    # compare the outputs with the expected ones (shapes, values within 1e-6).
    judge: Optional[Callable[[Case, Arrays, Arrays, Arrays], Optional[Judgement]]] = None
    # (case, inputs, seconds its hidden cell took) -> the verdict of a timed task's case
    # whose outputs are right.
    judge_time: Optional[Callable[[Case, Arrays, float], Judgement]] = None
    # (case, inputs, expected) -> the most elements each output of a report may have,
    # where the expected outputs do not tell (the default: 16 times theirs).
    report_limits: Optional[Callable[[Case, Arrays, Arrays], dict[str, int]]] = None
    folder: Path = Path()                  # set by ``load``

    @cached_property
    def task_by_name(self) -> dict[str, Task]:
        return {t.name: t for t in self.tasks}

    @cached_property
    def task_by_test_id(self) -> dict[str, Task]:
        return {t.test_id: t for t in self.tasks}

    def tasks_of_cell(self, grade_id: str) -> list[Task]:
        """The tasks an answer cell or a hidden test cell belongs to."""
        return [t for t in self.tasks if grade_id in (t.answer_cell, t.test_id)]

    def task_of_cell(self, grade_id: str) -> Optional[str]:
        """The name of the first task of ``tasks_of_cell``; None for a cell of no task."""
        tasks = self.tasks_of_cell(grade_id)
        return tasks[0].name if tasks else None

    @property
    def max_score(self) -> float:
        return float(sum(t.points for t in self.tasks))

    @property
    def mistakes(self) -> dict[str, Mistake]:
        return COMMON_MISTAKES | self.diagnosis.mistakes

    def code_files(self) -> dict[str, bytes]:
        """The folder's Python files, by relative path: what decides this assignment's grades."""
        return {str(p.relative_to(self.folder)): p.read_bytes()
                for p in sorted(self.folder.rglob("*.py")) if "__pycache__" not in p.parts}


class AssignmentError(Exception):
    """No usable grading folder for an assignment; the message says what to fix."""


def folder_of(assignment_id: str, search: Iterable[Path] = ()) -> Path:
    """The grading folder of ``assignment_id``: the first ``<dir>/<id>/__init__.py`` among
    ``search`` (the course's ``c.Grading.assignment_dirs``), then the kit's own."""
    if not assignment_id.isidentifier():
        raise AssignmentError(f"assignment id {assignment_id!r} is not a Python identifier, "
                              "so it cannot name a grading folder")
    for root in [*map(Path, search), PLUGINS]:
        if (root / assignment_id / "__init__.py").is_file():
            return (root / assignment_id).resolve()
    places = ", ".join(str(p) for p in [*search, PLUGINS])
    raise AssignmentError(f"no grading folder for assignment {assignment_id!r} (looked in "
                          f"{places}); see the README, \"Writing an assignment\"")


def load(assignment_id: str, search: Iterable[Path] = ()) -> Assignment:
    """The ``Assignment`` of ``assignment_id``, imported once per process."""
    return load_folder(folder_of(assignment_id, search))


def load_folder(folder: Path) -> Assignment:
    """The ``Assignment`` defined as ``assignment`` by the package in ``folder``."""
    folder = Path(folder).resolve()
    name = f"{PACKAGE}.{folder.name}"
    module = sys.modules.get(name)
    if module is None or Path(module.__file__).resolve().parent != folder:
        # Another folder of the same id (a course's own version of a kit assignment) was
        # loaded before: none of its modules may stand in for this folder's.
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]
        if folder.parent == PLUGINS:
            module = importlib.import_module(name)
        else:
            spec = importlib.util.spec_from_file_location(
                name, folder / "__init__.py", submodule_search_locations=[str(folder)])
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
    found = getattr(module, "assignment", None)
    if not isinstance(found, Assignment) or found.id != folder.name:
        raise AssignmentError(f"{folder}/__init__.py must define `assignment = Assignment(id="
                              f"{folder.name!r}, ...)`")
    if found.folder != folder:
        object.__setattr__(found, "folder", folder)
    return found
