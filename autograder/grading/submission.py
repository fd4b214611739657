"""Read a student's submission and rebuild the notebook that gets graded.

Whatever the student did to the notebook's structure (deleted, duplicated, reordered or
added cells, a test cell turned into markdown, nbgrader metadata edited or stripped, an old
nbformat), the graded notebook is the release notebook with the student's code put into
it: each answer cell (found by grade_id, or by the ``def <name>(`` it starts with), and the
student's own extra code cells after the answer they followed. Locked and test cells come
from the release (and nbgrader restores hidden tests from the gradebook). Every repair is
reported as a note.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from ..verifying.tampering import StudentCell


class SubmissionError(Exception):
    """The submission cannot be graded; the message says why, for the student."""


@dataclass
class Submission:
    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def read_notebook(files: dict[str, bytes], notebook: str, max_bytes: int,
                  others: dict[str, int] | None = None,
                  refused: dict[str, str] | None = None) -> Submission:
    """Pick and parse the notebook from the submitted files (relative path -> bytes); the
    files grading does not read are named in ``others`` (path -> size) and the links and
    special files that were not followed in ``refused`` (path -> what it is)."""
    wanted = f"{notebook}.ipynb"
    others, refused = others or {}, refused or {}
    notes = []
    candidates = sorted(p for p in list(files) + list(refused) if p.endswith(".ipynb") and "/" not in p)
    if wanted in candidates:
        name = wanted
        extra = [p for p in candidates if p != wanted]
        if extra:
            notes.append(f"extra notebooks ignored: {', '.join(extra)}")
    elif len(candidates) == 1:
        name = candidates[0]
        notes.append(f"{wanted} is missing; graded the one notebook submitted, {name}")
    elif not candidates:
        found = ", ".join(sorted(list(files) + list(others) + list(refused))) or "nothing"
        raise SubmissionError(f"no notebook submitted: expected {wanted}, found {found}")
    else:
        raise SubmissionError(f"{wanted} is missing and several notebooks were submitted "
                              f"({', '.join(candidates)}): cannot tell which one to grade")
    if name in refused:
        raise SubmissionError(f"{name} is {refused[name]}, not the notebook itself; links and "
                              "special files are not followed (submit the notebook file)")
    ignored = [f"{p} ({what})" for p, what in sorted(refused.items()) if p not in candidates]
    if ignored:
        notes.append(f"not followed or read: {', '.join(ignored)}")
    extra_files = {p: len(d) for p, d in files.items() if not p.endswith(".ipynb")
                   and p != "timestamp.txt"} | others
    if extra_files:
        notes.append("extra files are not used for grading: " + ", ".join(
            f"{p} ({_size(n)})" for p, n in sorted(extra_files.items())))
    data = files[name]
    if len(data) > max_bytes:
        raise SubmissionError(f"{name} is {len(data) / 2**20:.1f} MiB; the limit is "
                              f"{max_bytes / 2**20:.0f} MiB (clear large outputs and resubmit)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{name} is not UTF-8 text (invalid byte at offset {exc.start})") from None
    if not text.strip():
        raise SubmissionError(f"{name} is empty")
    if text.startswith("\ufeff"):
        text = text[1:]
        notes.append(f"{name} starts with a byte-order mark, which was ignored")
    raw = _parse_json(name, text)
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise SubmissionError(f"{name} is JSON but not a Jupyter notebook")
    version = raw.get("nbformat")
    if version == 4:
        _check_cells(name, raw["cells"])
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad notebooks
        raise SubmissionError(f"{name} is not a readable Jupyter notebook ({type(exc).__name__}: "
                              f"{_first_line(exc)})") from None
    _check_cells(name, nb.cells)
    if version != 4:
        notes.append(f"converted from nbformat {version} to 4")
    return Submission(nb, notes)


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 else f"{n / 1024:.0f} KiB" if n < 2**20 else f"{n / 2**20:.1f} MiB"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:160]


def _parse_json(name: str, text: str) -> object:
    """The JSON value of ``text``; a damaged file raises SubmissionError saying how."""
    damaged = f"{name} is damaged and cannot be graded"
    try:
        raw = json.loads(text)
        # Escapes such as "\\ud800" decode to text that cannot be written back as UTF-8.
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{name} is not valid JSON (line {exc.lineno}, column "
                              f"{exc.colno}: {exc.msg}); the file is damaged") from None
    except RecursionError:
        raise SubmissionError(f"{damaged}: its JSON is nested too deeply to be a notebook") from None
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end].encode("unicode_escape").decode()
        raise SubmissionError(f"{damaged}: it holds an escaped character that is not valid "
                              f"Unicode ({bad})") from None
    except ValueError as exc:   # e.g. an integer of more digits than Python converts
        what = "a number in it is too long" if "digits" in str(exc) else _first_line(exc)
        raise SubmissionError(f"{damaged}: {what}") from None
    return raw


_CELL_TYPES = ("code", "markdown", "raw")


def _check_cells(name: str, cells: object) -> None:
    """Raise SubmissionError unless every cell has the shape grading relies on."""
    if not isinstance(cells, list):
        raise SubmissionError(f"{name} is damaged and cannot be graded: its cells are not a list")
    for i, cell in enumerate(cells, 1):
        source = cell.get("source", "") if isinstance(cell, dict) else None
        problem = (
            "is not a JSON object" if not isinstance(cell, dict) else
            "has no valid cell_type" if cell.get("cell_type") not in _CELL_TYPES else
            "has a source that is not text" if not (isinstance(source, str) or (
                isinstance(source, list) and all(isinstance(s, str) for s in source))) else
            "has metadata that is not a JSON object"
            if not isinstance(cell.get("metadata", {}), dict) else "")
        if problem:
            raise SubmissionError(f"{name} is damaged and cannot be graded: cell {i} {problem}")


_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)


def _defines(source: str, names: list[str]) -> str | None:
    """The first of ``names`` that ``source`` defines at top level, if any."""
    try:
        defined = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    except SyntaxError:
        defined = _DEF.findall(source)
    return next((d for d in defined if d in names), None)


def rebuild(sub: Submission, release: NotebookNode) -> Submission:
    """The release notebook with the student's answers and extra code cells in it."""
    answer_ids = [_meta(c)["grade_id"] for c in release.cells
                  if _meta(c).get("solution") and not _meta(c).get("grade")]
    release_ids = {_meta(c).get("grade_id") for c in release.cells} - {None}
    answers: dict[str, str] = {}
    by_name: dict[str, str] = {}
    added: dict[str | None, list] = {}
    last_answer: str | None = None
    notes = list(sub.notes)
    for cell in sub.notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        gid = _meta(cell).get("grade_id")
        defined = _defines(source, answer_ids)
        if gid in answer_ids and _meta(cell).get("solution"):
            if gid in answers:
                notes.append(f"answer cell {gid} appears more than once; the last one is graded")
            answers[gid] = source
            last_answer = gid
        elif gid in release_ids:
            continue      # a locked or test cell: the release's own copy is used
        elif defined and defined not in answers:
            by_name[defined] = source
            last_answer = defined
        else:
            added.setdefault(last_answer, []).append(source)
    for name, source in by_name.items():
        if name not in answers:
            answers[name] = source
            notes.append(f"answer cell {name} was recognized by its `def {name}(` (its "
                         "nbgrader metadata was missing or edited)")
    missing = [a for a in answer_ids if a not in answers]
    if missing:
        notes.append(f"answer cells missing, graded as not implemented: {', '.join(missing)}")
    cells = []
    for cell in release.cells:
        gid = _meta(cell).get("grade_id")
        if gid == answer_ids[0]:
            cells += [nbformat.v4.new_code_cell(s) for s in added.get(None, [])]
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        if gid in answers:
            cell.source = answers[gid]
        cells.append(cell)
        if gid in answer_ids:
            cells += [nbformat.v4.new_code_cell(s) for s in added.get(gid, [])]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=json.loads(json.dumps(release.metadata)))
    return Submission(nb, notes)


def student_cells(nb: NotebookNode, release: NotebookNode) -> list[StudentCell]:
    """The code cells the student wrote or kept: all but the release's locked cells, each
    labelled by its answer's grade_id or by the answer it follows."""
    locked = {c.source for c in release.cells if _meta(c).get("locked")}
    cells, last = [], None
    for c in nb.cells:
        if c.cell_type != "code" or c.source in locked:
            continue
        gid = _meta(c).get("grade_id") if _meta(c).get("solution") else None
        last = gid or last
        label = gid or (f"own cell after {last}" if last else "own cell before the first answer")
        cells.append(StudentCell(label, c.source))
    return cells
