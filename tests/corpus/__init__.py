"""A corpus of student-style implementations of the four conv-layer functions.

Written for this project (no student's code is copied): each module of this package but
``wrong`` is one *style* of correct solution, the four functions plus whatever helpers
and imports that style uses, in the order a student's notebook has them. ``wrong.WRONG``
is the table of wrong variants: each one is a style with a few textual edits that put in
one labelled mistake.

A style becomes notebook answer cells by splitting its module at the four task functions:
each task's cell holds the function and every top-level statement since the previous task
function (the module docstring excepted), so imports and helpers land in the cell of the
first function that follows them, as in a student's notebook.
"""
from __future__ import annotations

import ast
import json
import linecache
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.assignments.conv_layers import assignment as CONV_LAYERS
from autograder.assignments.conv_layers.tasks import TASKS
from autograder.running import harness
from autograder.verifying.cases import CaseSet
from autograder.verifying.scoring import TaskVerdict, verify_task

harness.use_calls(CONV_LAYERS.calls)


HERE = Path(__file__).resolve().parent
FUNCTIONS = tuple(t.name for t in TASKS)
CONV_FWD, CONV_BWD, POOL_FWD, POOL_BWD = FUNCTIONS
STYLES = ("loops", "py2_compat", "scalar_loops", "im2col", "einsum", "strided", "tensordot",
          "helpers", "vector_batch", "window_starts", "legacy", "kernel_taps", "row_matrix")


def style_cells(style: str) -> dict[str, str]:
    """The style's answer cells: task function name -> cell source."""
    text = (HERE / f"{style}.py").read_text()
    lines = text.splitlines(keepends=True)
    body = ast.parse(text).body
    start = body[0].end_lineno if ast.get_docstring(ast.Module(body, [])) else 0
    cells, names = {}, set(FUNCTIONS)
    for node in body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            cells[node.name] = "".join(lines[start:node.end_lineno]).strip("\n") + "\n"
            start = node.end_lineno
    last = FUNCTIONS[-1]
    cells[last] = (cells[last] + "".join(lines[start:])).strip("\n") + "\n"
    if set(cells) != names:
        raise ValueError(f"style {style} lacks {sorted(names - set(cells))}")
    return cells


@dataclass(frozen=True)
class Wrong:
    """One wrong implementation: ``style`` with ``edits`` (function, old text, new text;
    each old text occurs exactly once in that function's cell)."""
    label: str                              # the mistake it contains (a diagnose.MISTAKES id)
    style: str
    edits: tuple[tuple[str, str, str], ...]
    description: str
    breaks: tuple[str, ...] = ()            # functions that lose points (default: the edited)
    # The mistake each broken function must be diagnosed with, where it is not ``label``
    # (a forward that returns its outputs in the wrong order breaks the backward's cache).
    names: tuple[tuple[str, str], ...] = ()
    tag: str = ""                           # tells apart entries alike in all of the above

    @property
    def id(self) -> str:
        functions = "+".join(sorted({f for f, _, _ in self.edits}))
        return "-".join(filter(None, (self.style, self.label, functions, self.tag)))

    @property
    def broken(self) -> tuple[str, ...]:
        return self.breaks or tuple(f for f in FUNCTIONS if f in {e[0] for e in self.edits})

    @property
    def touched(self) -> frozenset[str]:
        """Functions whose grading this entry can affect: edited or broken."""
        return frozenset(self.broken) | {f for f, _, _ in self.edits}

    def expected_mistake(self, function: str) -> str:
        return dict(self.names).get(function, self.label)


def apply(entries: tuple[Wrong, ...], cells: dict[str, str]) -> dict[str, str]:
    """``cells`` with the edits of every entry made (ValueError on a stale edit)."""
    out = dict(cells)
    for entry in entries:
        for function, old, new in entry.edits:
            count = out[function].count(old)
            if count != 1:
                raise ValueError(f"{entry.id}: {old!r} occurs {count} times in {function}")
            out[function] = out[function].replace(old, new)
    return out


def grade_in_process(cells: dict[str, str], caseset: CaseSet, key: str) -> dict[str, TaskVerdict]:
    """Every task's verdict for the cells, graded in this process the way the notebook runs:
    each answer cell, then that task's hidden tests (the harness's own case loop, the report
    through JSON as over the socket, the verifier's scoring). The cells run in one namespace
    that already has numpy as ``np``, each under its own file name registered in linecache
    (as IPython registers cells), and a cell that raises or does not compile leaves the
    rest running."""
    namespace = {"np": np, "__name__": "__main__"}
    spec, inputs = caseset.kernel_view()
    verdicts = {}
    for index, task in enumerate(TASKS):
        source, filename = cells[task.name], f"<corpus {key} cell {index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec"), namespace)
        except Exception:  # noqa: BLE001 - a failing cell is part of what is graded
            pass
        header, arrays = harness.run_cases(task.name, namespace, spec[task.name], inputs)
        verdicts[task.name] = verify_task(task, caseset, json.loads(json.dumps(header)), arrays)
    return verdicts


def named_mistakes(verdict: TaskVerdict) -> set[str]:
    """The mistakes named on the failed cases of a verdict."""
    return {c.mistake for c in verdict.cases if not c.passed and c.mistake}


def acceptable(entry: Wrong, function: str, recognized: frozenset[str]) -> set[str]:
    """The names the grader may give ``function`` of ``entry``: its mistake if the grader
    knows it, else none."""
    label = entry.expected_mistake(function)
    return {label} if label in recognized else set()


@dataclass(frozen=True)
class Figures:
    failing: int      # functions that lose points
    named: int        # ... with a mistake named on some failed case
    right: int        # ... and every name the right one

    def __str__(self) -> str:
        return (f"{self.failing} failing functions, {self.named} named "
                f"({100 * self.named / max(1, self.failing):.0f} %), {self.right} named right")


def figures(results: dict[Wrong, dict[str, TaskVerdict]], recognized: frozenset[str]) -> Figures:
    """The naming figures over the failing functions of the wrong entries' verdicts."""
    failing = named = right = 0
    for entry, verdicts in results.items():
        for function, verdict in verdicts.items():
            if verdict.points < verdict.max_points:
                names = named_mistakes(verdict)
                failing += 1
                named += bool(names)
                right += bool(names) and names <= acceptable(entry, function, recognized)
    return Figures(failing, named, right)


@dataclass(frozen=True)
class Submission:
    """One notebook for the pipeline: a style with some wrong entries (none: correct)."""
    student_id: str
    style: str
    entries: tuple[Wrong, ...] = ()

    def cells(self) -> dict[str, str]:
        return apply(self.entries, style_cells(self.style))


def _packs(entries: list[Wrong]) -> list[list[Wrong]]:
    """Entries of one style grouped so that no two in a group touch the same function: a
    wrong forward that keeps its cache and a wrong backward are graded independently."""
    packs: list[list[Wrong]] = []
    for entry in sorted(entries, key=lambda e: (-len(e.touched), e.id)):
        home = next((p for p in packs if not any(entry.touched & e.touched for e in p)), None)
        if home is None:
            packs.append([entry])
        else:
            home.append(entry)
    return packs


def submissions(wrong: tuple[Wrong, ...], most: int) -> list[Submission]:
    """At most ``most`` submissions: every correct style, then packs of wrong entries,
    chosen to cover every label first and as many entries as fit then."""
    packs = [p for style in STYLES for p in _packs([e for e in wrong if e.style == style])]
    chosen: list[list[Wrong]] = []
    covered: set[str] = set()
    while packs and len(chosen) < most - len(STYLES):
        best = max(packs, key=lambda p: (len({e.label for e in p} - covered), len(p)))
        packs.remove(best)
        chosen.append(best)
        covered |= {e.label for e in best}
    return ([Submission(f"correct_{style}", style) for style in STYLES]
            + [Submission(f"wrong_{i:02d}_{p[0].style}", p[0].style, tuple(p))
               for i, p in enumerate(chosen, 1)])
