"""The naming figures of the test corpus (tests/corpus/): of the functions its wrong
entries break, how many get a named mistake and how many of those names are right, graded
in this process (the harness's case loop and the verifier, no sandbox) on the course's
hidden cases and on other seeds. Lists the failing functions left unnamed.

    python benchmarks/corpus_figures.py [--seeds 0 7]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from autograder.verifying.cases import CaseSet  # noqa: E402
from autograder.assignments.conv_layers.diagnose import MISTAKES  # noqa: E402
from autograder.assignments.conv_layers import assignment as CONV_LAYERS  # noqa: E402
from corpus import apply, figures, grade_in_process, named_mistakes, style_cells  # noqa: E402
from corpus.wrong import WRONG  # noqa: E402


def course_seed() -> int:
    return int(re.search(r"c\.Grading\.seed\s*=\s*(\d+)",
                         (REPO / "nbgrader_config.py").read_text()).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 7],
                        help="seeds besides the course's")
    args = parser.parse_args()
    recognized = frozenset(MISTAKES)
    for seed in [course_seed(), *args.seeds]:
        caseset = CaseSet.build(CONV_LAYERS, seed)
        with contextlib.redirect_stdout(io.StringIO()):      # the students' debug prints
            results = {e: grade_in_process(apply((e,), style_cells(e.style)), caseset, e.id)
                       for e in WRONG}
        print(f"seed {seed}: {len(WRONG)} wrong entries, {figures(results, recognized)}")
        for entry, verdicts in results.items():
            for function, verdict in verdicts.items():
                if verdict.points < verdict.max_points and not named_mistakes(verdict):
                    print(f"  unnamed: {entry.id} in {function} ({entry.description})")


if __name__ == "__main__":
    main()
