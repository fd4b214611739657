"""The search for the instructor's own content: a master region is found in a submission
however its comments, markers and indentation were changed, and only there."""
from __future__ import annotations

import nbformat
import pytest

from autograder.verifying import leaks

SOLUTION = '''def relu(x):
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)   # the elementwise max
    cache = (x, out.shape, "a # that is no comment")
    return out, cache
    ### END SOLUTION
'''
HIDDEN = '''### BEGIN HIDDEN TESTS
assert check(relu, seed=3)
### END HIDDEN TESTS
'''


@pytest.fixture
def regions():
    master = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SOLUTION, metadata={"nbgrader": {"grade_id": "relu"}}),
        nbformat.v4.new_code_cell(HIDDEN, metadata={"nbgrader": {"grade_id": "test_relu"}})])
    found = leaks.master_regions(master, lambda grade_id: "relu")
    assert [r.kind for r in found] == [leaks.SOLUTION, leaks.HIDDEN_TESTS]
    return found


@pytest.mark.parametrize("source", [
    SOLUTION,
    # markers and comments gone, indented differently, other code around it
    'import numpy as np\nif True:\n        out = np.maximum(x, 0)\n        cache = (x, out.shape, '
    '"a # that is no comment")\n        return out, cache\nprint(1)\n',
    # a comment glued to the code, and lines spaced out
    'out   =   np.maximum(x, 0)#mine\ncache = (x, out.shape, "a # that is no comment")  \n\n'
    '   return out,   cache # done\n',
])
def test_a_copied_solution_is_found_however_it_was_reformatted(regions, source):
    assert leaks.found_in([source], regions) == [regions[0]]


def test_hidden_tests_are_found_without_their_markers(regions):
    assert leaks.found_in(["x = 1", "assert check(relu, seed=3)  # mine"], regions) == [regions[1]]


@pytest.mark.parametrize("source", [
    # a student's own code, close to the solution
    "out = np.maximum(x, 0)\ncache = (x, out.shape)\nreturn out, cache\n",
    # the lines, but not in order
    'cache = (x, out.shape, "a # that is no comment")\nout = np.maximum(x, 0)\nreturn out, cache\n',
    # the lines commented out
    '# out = np.maximum(x, 0)\n# cache = (x, out.shape, "a # that is no comment")\n# return out, cache\n',
    "",
])
def test_a_students_own_code_is_not_taken_for_the_masters(regions, source):
    assert leaks.found_in([source], regions) == []
