"""The classic nbgrader way, for the benchmark's baseline only: hidden tests compare with
the reference inside the student's kernel (no sandbox, no separate verifier). It runs the
same cases and comparisons as the real grader, so plain nbgrader does the same test work.
"""
import os
import sys

sys.path.insert(0, os.environ["AUTOGRADER_REPO"])

from autograder.verifying.cases import CaseSet  # noqa: E402
from autograder.running.harness import run_cases, use_calls  # noqa: E402
from autograder.assignments.conv_layers.tasks import TASK_BY_NAME  # noqa: E402
from autograder.verifying.scoring import verify_task  # noqa: E402
from autograder.assignments.conv_layers import assignment as CONV_LAYERS  # noqa: E402

use_calls(CONV_LAYERS.calls)
_CASESET = CaseSet.build(CONV_LAYERS, int(os.environ["AUTOGRADER_SEED"]))


def check(task, namespace):
    header, arrays = run_cases(task, namespace, *_CASESET.task_view(task))
    verdict = verify_task(TASK_BY_NAME[task], _CASESET, header, arrays)
    print("\n".join(verdict.lines()))
    if verdict.points <= 0:
        raise AssertionError(f"{task}: 0 points")
    return verdict.points
