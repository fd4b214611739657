"""Find the instructor's own content in a submission: the solution regions and the hidden
tests of the master notebook, recognized by their code, with or without nbgrader's markers.

Such a submission came from the master notebook (a link followed by ``nbgrader collect``,
a leaked copy): its scores say nothing about the student's work, so the grader flags it and
withholds the scores of the tasks concerned for a human decision. Code is compared after
dropping comments, blank lines and indentation, so stripping markers or comments does not
hide a copy; a solution region too short to be told apart from what a student would write
on their own is not looked for.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from nbformat import NotebookNode

SOLUTION, HIDDEN_TESTS = "solution", "hidden tests"
_MARKERS = {SOLUTION: ("### BEGIN SOLUTION", "### END SOLUTION"),
            HIDDEN_TESTS: ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")}
# A solution region of fewer significant characters is not distinctive enough.
MIN_SOLUTION_CHARS = 80


@dataclass(frozen=True)
class Region:
    kind: str                 # SOLUTION or HIDDEN_TESTS
    task: Optional[str]       # the task whose cell holds it, if any
    lines: tuple[str, ...]    # normalized code


def normalized(source: str) -> tuple[str, ...]:
    """The code's lines without comments, blank lines, nbgrader markers or indentation."""
    lines = source.splitlines()
    try:
        comment_at = {t.start[0]: t.start[1] for t in
                      tokenize.generate_tokens(io.StringIO(source).readline)
                      if t.type == tokenize.COMMENT}
        lines = [line[:comment_at.get(n, len(line))] for n, line in enumerate(lines, 1)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        lines = [re.sub(r"#.*$", "", line) for line in lines]
    return tuple(" ".join(line.split()) for line in lines if line.strip())


def master_regions(master: NotebookNode, task_of_cell: Callable[[str], Optional[str]]
                   ) -> list[Region]:
    """Every solution region and hidden test region of the master notebook's cells;
    ``task_of_cell`` maps a cell's grade_id to its task."""
    regions = []
    for cell in master.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        task = task_of_cell(meta.get("grade_id", "")) if isinstance(meta, dict) else None
        for kind, (begin, end) in _MARKERS.items():
            pattern = rf"^[ \t]*{re.escape(begin)}[ \t]*\n(.*?)^[ \t]*{re.escape(end)}"
            for body in re.findall(pattern, cell.source, re.MULTILINE | re.DOTALL):
                lines = normalized(body)
                if lines and (kind == HIDDEN_TESTS or len("".join(lines)) >= MIN_SOLUTION_CHARS):
                    regions.append(Region(kind, task, lines))
    return regions


def found_in(sources: Iterable[str], regions: list[Region]) -> list[Region]:
    """The regions whose every line appears, in order and together, in one of ``sources``."""
    # Normalizing a cell (tokenizing it) is the cost; a cell can hold a region only if its
    # text, whitespace collapsed, holds the region's longest line (a normalized line is a
    # line cut before its comment, whitespace collapsed), so the other cells are skipped.
    longest = [max(r.lines, key=len) for r in regions]
    texts = []
    for source in sources:
        flat = " ".join(source.split())
        if any(line in flat for line in longest):
            texts.append("\n" + "\n".join(normalized(source)) + "\n")
    return [r for r in regions if any("\n" + "\n".join(r.lines) + "\n" in t for t in texts)]
