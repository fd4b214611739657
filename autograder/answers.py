"""Writing answers into a release notebook, as a student hands it in: the tools an
assignment's mutants and the demo's synthetic students are made with.

A mutant is one class of mistake that students really make, written as exact textual edits
to a correct solution (the answer cells, by their nbgrader ``grade_id``). That solution is
deliberately not the master notebook's own text: a submission holding the instructor's
solution is flagged and its scores withheld (``verifying/leaks.py``).
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import nbformat

Answers = dict[str, str]      # grade_id -> cell source


@dataclass(frozen=True)
class Mutant:
    name: str  # e.g. "padding_ignored"
    description: str  # one line
    # (function/grade_id, old text, new text); old text occurs exactly once in that answer cell
    edits: tuple[tuple[str, str, str], ...]
    broken: tuple[str, ...]  # tasks whose hidden tests should lose points


def load_answer_sources(notebook: str | Path, names: Iterable[str]) -> Answers:
    """The sources of a notebook's answer cells whose grade_id is one of ``names``."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    wanted, sources = set(names), {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in wanted:
            src = cell["source"]
            sources[meta["grade_id"]] = "".join(src) if isinstance(src, list) else src
    return sources


# A stub at any indentation, as nbgrader writes it in place of a solution region.
_STUB = re.compile(r"^( *)# YOUR CODE HERE\n\1raise NotImplementedError\(\)(?:\n|\Z)", re.M)


def student_answers(release_nb: str | Path, bodies: dict[str, str | list[str]]) -> Answers:
    """The release's answer cells (grade_id -> source) with ``bodies`` written in place of
    their stubs (a list: one body per stub of the cell, in order): a correct submission,
    as a student hands it in."""
    stubs = load_answer_sources(release_nb, bodies)
    out = {}
    for gid, body in bodies.items():
        parts = [body] if isinstance(body, str) else list(body)
        found = _STUB.findall(stubs.get(gid, ""))
        if len(found) != len(parts):
            raise ValueError(f"{release_nb}: answer cell {gid!r} has {len(found)} stubs, "
                             f"expected {len(parts)}")
        out[gid] = _STUB.sub(lambda m: parts.pop(0), stubs[gid])
    return out


def apply(mutant: Mutant, answer_sources: Answers) -> Answers:
    """Return a copy of ``answer_sources`` (grade_id -> cell source) with the edits made.

    Raises ValueError if a function is missing or an old text does not occur
    exactly once in its cell (edits are applied in order).
    """
    out = dict(answer_sources)
    for func, old, new in mutant.edits:
        if func not in out:
            raise ValueError(f"{mutant.name}: no answer cell {func!r}")
        count = out[func].count(old)
        if count != 1:
            raise ValueError(f"{mutant.name}: {old!r} occurs {count} times in {func!r}, expected once")
        out[func] = out[func].replace(old, new)
    return out


def insert_first_statement(source: str, code: str) -> str:
    """``source`` (one function) with ``code`` as the first statement after its docstring."""
    body = ast.parse(source).body[0].body
    first = body[1] if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, "".join(indent + l + "\n" for l in code.splitlines()))
    return "".join(lines)


def fill(release_nb: Path, answers: Optional[Answers]) -> nbformat.NotebookNode:
    """The release notebook with ``answers`` in its answer cells (None: left blank)."""
    nb = nbformat.read(str(release_nb), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if answers and gid in answers:
            cell.source = answers[gid]
    return nb
