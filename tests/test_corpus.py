"""The corpus of student-style implementations (tests/corpus/): every correct style gets
full marks; every wrong entry loses points exactly where it is wrong, and the mistake named
on each failing function is its label (or none, for the labels no recognizer knows).
First in this process for every entry, then through the real pipeline for a selection of
submissions that covers every style and every label (at most MAX_SUBMISSIONS notebooks).
"""
from __future__ import annotations

import html
import subprocess
import sys
import time

import pytest

from autograder.verifying.cases import CaseSet
from autograder.demo import make_course
from autograder.assignments.conv_layers.diagnose import MISTAKES
from autograder.grading.pipeline import db_url_for
from autograder.reporting.grades import collect
from autograder.grading.worker import load_config
from autograder.assignments.conv_layers import assignment as CONV_LAYERS
from autograder.assignments.conv_layers.tasks import ASSIGNMENT
from conftest import REPO
from corpus import (FUNCTIONS, STYLES, acceptable, apply, figures,
                    grade_in_process, named_mistakes, style_cells, submissions)
from corpus.wrong import UNRECOGNIZED, WRONG
from honest import seed

RECOGNIZED = frozenset(MISTAKES)
MAX_SUBMISSIONS = 35
# Seeds other than the course's: the hidden cases change, the names must stay right.
OTHER_SEEDS = (0, 7)


@pytest.fixture(scope="module")
def caseset() -> CaseSet:
    return CaseSet.build(CONV_LAYERS, seed())


@pytest.fixture(scope="module")
def verdicts(caseset) -> dict:
    """Every wrong entry graded alone in this process: entry -> {function: verdict}."""
    return {e: grade_in_process(apply((e,), style_cells(e.style)), caseset, e.id) for e in WRONG}


def test_corpus_size_and_labels():
    assert len(WRONG) >= 45 and len(STYLES) >= 12
    assert len({e.id for e in WRONG}) == len(WRONG)
    assert {e.style for e in WRONG} <= set(STYLES)
    labels = {e.expected_mistake(f) for e in WRONG for f in e.broken}
    assert labels <= RECOGNIZED | UNRECOGNIZED and not UNRECOGNIZED & RECOGNIZED
    # At least one correct style is written for Python 2 and 3, as the CS231n starter code.
    assert any(style_cells(s)[FUNCTIONS[0]].startswith(
        "from __future__ import print_function, division\nfrom builtins import range\n")
        for s in STYLES)


@pytest.mark.parametrize("style", STYLES)
def test_correct_style_gets_full_marks(caseset, style):
    for function, verdict in grade_in_process(style_cells(style), caseset, style).items():
        assert verdict.points == verdict.max_points, verdict.lines()


@pytest.mark.parametrize("entry", WRONG, ids=lambda e: e.id)
def test_wrong_entry_loses_points_where_broken_and_is_named_right(verdicts, entry):
    results = verdicts[entry]
    broken = tuple(f for f in FUNCTIONS if results[f].points < results[f].max_points)
    assert broken == entry.broken, {f: results[f].lines() for f in FUNCTIONS}
    for function in broken:
        names, allowed = named_mistakes(results[function]), acceptable(entry, function, RECOGNIZED)
        assert names <= allowed, f"{function}: named {names}, expected {allowed or 'none'}: " \
                                 + "\n".join(results[function].lines())


def test_at_least_nine_in_ten_failing_functions_are_named_all_right(verdicts):
    found = figures(verdicts, RECOGNIZED)
    print(f"\ncorpus, course seed: {found}")
    assert found.right == found.named and found.named >= 0.9 * found.failing, str(found)


@pytest.mark.parametrize("other", OTHER_SEEDS)
def test_names_stay_right_on_other_hidden_cases(other):
    cs = CaseSet.build(CONV_LAYERS, other)
    results = {e: grade_in_process(apply((e,), style_cells(e.style)), cs, e.id) for e in WRONG}
    for entry, res in results.items():
        for function in FUNCTIONS:
            if function not in entry.broken:
                assert res[function].points == res[function].max_points, (entry.id, function)
    found = figures(results, RECOGNIZED)
    print(f"\ncorpus, seed {other}: {found}")
    assert found.right == found.named and found.named >= 0.9 * found.failing, str(found)


# --------------------------------------------------------------------------- the pipeline

SUBMISSIONS = submissions(WRONG, MAX_SUBMISSIONS)


def test_selection_covers_every_style_and_label():
    assert len(SUBMISSIONS) <= MAX_SUBMISSIONS
    graded = [e for s in SUBMISSIONS for e in s.entries]
    assert {e.label for e in graded} == {e.label for e in WRONG}
    assert {s.style for s in SUBMISSIONS if not s.entries} == set(STYLES)


@pytest.fixture(scope="module")
def expected(caseset) -> dict:
    """Each pipeline submission graded in this process: student id -> {function: verdict}."""
    return {s.student_id: grade_in_process(s.cells(), caseset, s.student_id) for s in SUBMISSIONS}


@pytest.mark.parametrize("sub", [s for s in SUBMISSIONS if s.entries], ids=lambda s: s.student_id)
def test_packed_entries_do_not_interact(verdicts, expected, sub):
    # Each function of a packed submission is graded as with its entry alone.
    for entry in sub.entries:
        for function in entry.touched:
            alone, packed = verdicts[entry][function], expected[sub.student_id][function]
            assert [(c.passed, c.mistake) for c in packed.cases] == \
                   [(c.passed, c.mistake) for c in alone.cases], (entry.id, function)


class GradedCorpus:
    def __init__(self, course, seconds: float):
        config = load_config((course / "nbgrader_config.py").read_text())
        self.rows = {r.student_id: r for r in collect(course, db_url_for(course, config), CONV_LAYERS)}
        self.course, self.seconds = course, seconds

    def feedback(self, sid: str) -> str:
        return html.unescape((self.course / self.rows[sid].feedback).read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> GradedCorpus:
    course = tmp_path_factory.mktemp("corpus_course")
    make_course(course, {ASSIGNMENT: {s.student_id: s.cells() for s in SUBMISSIONS}})
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course),
                           "--jobs", "2"], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = GradedCorpus(course, time.monotonic() - start)
    print(f"\ncorpus pipeline: {len(SUBMISSIONS)} submissions graded in {result.seconds:.0f} s")
    return result


@pytest.mark.parametrize("sub", SUBMISSIONS, ids=lambda s: s.student_id)
def test_pipeline_grades_like_the_expectation_and_flags_nothing(graded, expected, sub):
    row, want = graded.rows[sub.student_id], expected[sub.student_id]
    assert row.status == "ok", row.reasons
    feedback = graded.feedback(sub.student_id)
    for function in FUNCTIONS:
        assert row.scores[function] == pytest.approx(want[function].points), function
        cases = row.verdicts[function]["cases"]
        assert [(c["passed"], c["mistake"]) for c in cases] == \
               [(c.passed, c.mistake) for c in want[function].cases], function
        for mistake in named_mistakes(want[function]):
            assert MISTAKES[mistake].message in feedback, (function, mistake)
    if not sub.entries:
        assert row.total == sum(v.max_points for v in want.values())


def test_pipeline_names_right(graded, expected):
    # The figure over the graded submissions: every name right.
    entry_of = {(s.student_id, f): e for s in SUBMISSIONS for e in s.entries for f in e.broken}
    failing = named = 0
    for (sid, function), entry in entry_of.items():
        cases = graded.rows[sid].verdicts[function]["cases"]
        names = {c["mistake"] for c in cases if not c["passed"] and c["mistake"]}
        failing += 1
        named += bool(names)
        assert names <= acceptable(entry, function, RECOGNIZED), (sid, function, names)
    print(f"\ncorpus pipeline: {failing} failing functions, {named} named, all named right; "
          f"{graded.seconds:.0f} s")
