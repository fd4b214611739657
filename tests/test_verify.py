"""Tests for autograder/verify.py (with autograder/diagnose.py behind it).

Student code is run on the hidden cases the way the in-kernel harness does it (its own
``_call`` and ``_describe``), the report goes through the same serialization as over the
socket (JSON header, npz arrays read back by ``wire.load_arrays``), and
``verify_task`` scores it. Students: reference-backed correct functions, the blank
release stubs, the mutation suite of autograder/mutants.py, and hand-made malformed reports.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from autograder.running import harness
from autograder.assignments.conv_layers import reference as ref
from autograder.verifying.cases import CaseSet
from autograder.assignments.conv_layers.cases import Case, expected_outputs, make_inputs
from autograder.assignments.conv_layers.diagnose import MISTAKES
from autograder.assignments.conv_layers.mutants import MUTANTS, apply, load_answer_sources, student_answers
from autograder.assignments.conv_layers.tasks import TASK_BY_NAME, TASKS
from autograder.verifying.verifier import Verifier
from autograder.verifying.scoring import CaseResult, TaskVerdict, verify_task
from autograder.verifying.wire import WireError, load_arrays, pack_arrays
from autograder.assignments.conv_layers import assignment as CONV_LAYERS

harness.use_calls(CONV_LAYERS.calls)

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "source" / "conv_layers" / "conv_layers.ipynb"
RELEASE_NB = REPO / "assignments" / "conv_layers" / "conv_layers.ipynb"
SEED = 2024
# The course's own seed (the hidden cases students are graded on) and a few others.
COURSE_SEED = int(re.search(r"c\.Grading\.seed\s*=\s*(\d+)",
                            (REPO / "nbgrader_config.py").read_text()).group(1))
MUTANT_SEEDS = (0, SEED, COURSE_SEED)
_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)

CONV_FWD, CONV_BWD, POOL_FWD, POOL_BWD = (t.name for t in TASKS)

# mutant name -> the diagnosis id that must be given for it (mutants.py and diagnose.py
# name a few mistakes differently).
EXPECTED_MISTAKE = {
    "padding_ignored": "padding_ignored",
    "stride_ignored": "stride_ignored",
    "kernel_flipped": "kernel_flipped",
    "bias_missing": "bias_missing",
    "off_by_one_size": "off_by_one",
    "hw_swapped": "hw_swapped",
    "float_sizes": "float_sizes",
    "dx_not_cropped": "dx_not_cropped",
    "dx_empty_when_pad0": "dx_empty_pad0",
    "db_wrong": "db_wrong",
    "stride_ignored_pool": "stride_ignored",
    "pool_overwrite": "pool_overwrite",
    "input_modified": "input_modified",
}


# --------------------------------------------------------------------------- helpers

def run_like_harness(task_name: str, fns: dict, caseset: CaseSet):
    """(header, arrays) from python callables, by the harness's own loop, in memory."""
    spec, inputs = caseset.kernel_view()
    return harness.run_cases(task_name, fns, spec[task_name], inputs)


def over_the_wire(header, arrays, caseset: CaseSet):
    """What the verifier gets: the JSON header, and the npz arrays read back within the
    task's limits, as the verifier does."""
    limits = caseset.report_limits(header["task"])
    return json.loads(json.dumps(header)), load_arrays(pack_arrays(arrays), limits,
                                                       8 * sum(limits.values()))


def grade(task_name: str, fns: dict, caseset: CaseSet) -> TaskVerdict:
    header, arrays = over_the_wire(*run_like_harness(task_name, fns, caseset), caseset)
    return verify_task(TASK_BY_NAME[task_name], caseset, header, arrays)


def reference_student() -> dict:
    """Correct functions with the student API, backed by autograder.reference."""
    def conv_forward_naive(x, w, b, conv_param):
        out = ref.conv_forward(x, w, b, conv_param["stride"], conv_param["pad"])
        return out, (x, w, b, conv_param)

    def conv_backward_naive(dout, cache):
        x, w, b, conv_param = cache
        return ref.conv_backward(dout, x, w, conv_param["stride"], conv_param["pad"])

    def max_pool_forward_naive(x, pool_param):
        out = ref.max_pool_forward(x, pool_param["pool_height"], pool_param["pool_width"],
                                   pool_param["stride"])
        return out, (x, pool_param)

    def max_pool_backward_naive(dout, cache):
        x, p = cache
        return ref.max_pool_backward(dout, x, p["pool_height"], p["pool_width"], p["stride"])

    return dict(conv_forward_naive=conv_forward_naive, conv_backward_naive=conv_backward_naive,
                max_pool_forward_naive=max_pool_forward_naive,
                max_pool_backward_naive=max_pool_backward_naive)


def with_output(task_name: str, transform) -> dict:
    """Reference student whose ``task_name`` result goes through ``transform``."""
    fns = reference_student()
    inner = fns[task_name]
    if task_name.endswith("forward_naive"):
        def fn(*args):
            out, cache = inner(*args)
            return transform(out), cache
    else:
        def fn(*args):
            return transform(inner(*args))
    fns[task_name] = fn
    return fns


def exec_answers(sources: dict) -> dict:
    ns = {"np": np}
    for source in sources.values():
        exec(compile(source, "<answer>", "exec"), ns)
    return ns


def solution_sources() -> dict:
    return {k: _MARKERS.sub("", v) for k, v in load_answer_sources(SOURCE_NB).items()}


class _Quiet(dict):
    """A dict with a short repr, so failure reports do not print every array."""
    def __repr__(self):
        return f"<{len(self)} entries>"


class _QuietCaseSet(CaseSet):
    def __repr__(self):
        return f"<CaseSet seed={self.seed}>"


def build_caseset(seed: int) -> CaseSet:
    cs = CaseSet.build(CONV_LAYERS, seed)
    return _QuietCaseSet(cs.assignment, cs.seed, cs.cases, cs.inputs, cs.expected)


@pytest.fixture(scope="module")
def caseset() -> CaseSet:
    return build_caseset(SEED)


@pytest.fixture(scope="module")
def casesets() -> dict:
    return _Quiet({seed: build_caseset(seed) for seed in MUTANT_SEEDS})


# --------------------------------------------------------------------------- the helper itself

class TestHarnessHelper:
    @pytest.mark.parametrize("student", ["solution", "stub", "padding_ignored", "float_sizes",
                                         "input_modified", "no_pair"])
    def test_helper_reports_like_the_harness(self, caseset, tmp_path, monkeypatch, student):
        # The real harness, fetching the inputs from a real verifier over its socket while
        # the task's hidden cell "runs", gives the same report as the in-test helper (apart
        # from timings), and the verifier scores it as verify_task does.
        monkeypatch.setattr(harness, "GRADING_DIR", str(tmp_path))
        if student == "solution":
            fns = exec_answers(solution_sources())
        elif student == "stub":
            fns = exec_answers(load_answer_sources(RELEASE_NB))
        elif student == "no_pair":       # the harness itself raises (forward returns no pair)
            fns = reference_student()
            fns[CONV_FWD] = lambda *a: 1.0
        else:
            mutant = next(m for m in MUTANTS if m.name == student)
            fns = exec_answers(apply(mutant, student_answers(RELEASE_NB)))
        with Verifier(caseset, str(tmp_path / "verifier.sock")) as verifier:
            for task in TASKS:
                verifier.current_task = task.name
                h1, a1 = harness.run_cases(task.name, fns, *harness._fetch_cases(task.name))
                h2, a2 = run_like_harness(task.name, fns, caseset)
                reply, _ = harness._request(dict(h1, op="report"), a1)
                for meta in h1["cases"] + h2["cases"]:
                    meta.pop("seconds")
                assert h1 == h2
                assert a1.keys() == a2.keys()
                for k in a1:
                    np.testing.assert_array_equal(a1[k], a2[k])
                assert reply["points"] == grade(task.name, fns, caseset).points
        assert verifier.problems == []


# --------------------------------------------------------------------------- correct code

class TestCorrectCode:
    @pytest.mark.parametrize("task", [t.name for t in TASKS])
    def test_reference_student_scores_full_points(self, caseset, task):
        verdict = grade(task, reference_student(), caseset)
        assert verdict.points == verdict.max_points == TASK_BY_NAME[task].points
        assert all(c.passed and c.mistake is None and c.message == "" for c in verdict.cases)
        assert len(verdict.cases) == len(caseset.cases[task])
        assert verdict.problem == ""

    @pytest.mark.parametrize("task", [t.name for t in TASKS])
    def test_instructor_solution_scores_full_points(self, caseset, task):
        verdict = grade(task, exec_answers(solution_sources()), caseset)
        assert verdict.points == verdict.max_points

    def test_float32_and_integer_valued_results_are_accepted(self, caseset):
        # dtype is not part of the API: float32 is within tolerance of the reference.
        verdict = grade(POOL_FWD, with_output(POOL_FWD, lambda o: o.astype(np.float32)), caseset)
        assert verdict.points == verdict.max_points

    def test_lists_are_accepted_like_arrays(self, caseset):
        # conv_backward may return a list; db as a plain list of floats is still an array.
        fns = with_output(CONV_BWD, lambda g: [g[0], g[1], list(g[2])])
        assert grade(CONV_BWD, fns, caseset).points == 30


# --------------------------------------------------------------------------- blank release

class TestBlankStub:
    @pytest.fixture(scope="class")
    def stub(self):
        sources = load_answer_sources(RELEASE_NB)
        assert set(sources) == {t.name for t in TASKS}
        assert all("NotImplementedError" in s for s in sources.values())
        return exec_answers(sources)

    @pytest.mark.parametrize("task", [t.name for t in TASKS])
    def test_scores_zero_not_implemented(self, caseset, stub, task):
        verdict = grade(task, stub, caseset)
        assert verdict.points == 0
        assert len(verdict.cases) == len(caseset.cases[task])
        for c in verdict.cases:
            assert not c.passed and c.points == 0
            assert c.mistake == "not_implemented"
            assert "NotImplementedError" in c.message
            assert MISTAKES["not_implemented"].message in c.message

    def test_lines_say_every_case_failed_once(self, caseset, stub):
        lines = grade(CONV_FWD, stub, caseset).lines()
        assert lines[0] == "conv_forward_naive: 0/8 hidden cases passed, 0 / 30 points"
        assert len(lines) == 2 and lines[1].startswith("  every case failed: raised NotImplementedError")


# --------------------------------------------------------------------------- mutants

MUTANT_IDS = [m.name for m in MUTANTS]


@pytest.fixture(scope="module")
def mutant_verdicts(casesets):
    """(mutant name, seed) -> {task: verdict}, computed once."""
    good = student_answers(RELEASE_NB)
    out = _Quiet()
    for m in MUTANTS:
        fns = exec_answers(apply(m, good))
        for seed, cs in casesets.items():
            out[(m.name, seed)] = {t.name: grade(t.name, fns, cs) for t in TASKS}
    return out


class TestMutants:
    def test_every_diagnosable_mutant_is_mapped(self):
        assert set(EXPECTED_MISTAKE) <= set(MUTANT_IDS)
        assert set(MUTANT_IDS) - set(EXPECTED_MISTAKE) == {"pool_argmax_local"}
        assert set(EXPECTED_MISTAKE.values()) <= set(MISTAKES)

    @pytest.mark.parametrize("seed", MUTANT_SEEDS)
    @pytest.mark.parametrize("name", MUTANT_IDS)
    def test_loses_points_exactly_in_broken_tasks(self, mutant_verdicts, name, seed):
        mutant = next(m for m in MUTANTS if m.name == name)
        for task, verdict in mutant_verdicts[(name, seed)].items():
            if task in mutant.broken:
                assert verdict.points < verdict.max_points, f"{name} not caught by {task}"
                assert any(not c.passed for c in verdict.cases)
            else:
                assert verdict.points == verdict.max_points, \
                    f"{name} blamed on innocent {task}: " + "; ".join(verdict.lines())

    @pytest.mark.parametrize("seed", MUTANT_SEEDS)
    @pytest.mark.parametrize("name", sorted(EXPECTED_MISTAKE))
    def test_mistake_is_diagnosed(self, mutant_verdicts, name, seed):
        mutant = next(m for m in MUTANTS if m.name == name)
        want = EXPECTED_MISTAKE[name]
        failed = [(task, c) for task, v in mutant_verdicts[(name, seed)].items()
                  if task in mutant.broken for c in v.cases if not c.passed]
        assert failed
        got = sorted({str(c.mistake) for _, c in failed})
        assert any(c.mistake == want for _, c in failed), \
            f"mutant {name} (seed {seed}): no failed case diagnosed as {want!r}; got {got}"
        # The diagnosis is shown to the student.
        for _, c in failed:
            if c.mistake == want:
                assert MISTAKES[want].message in c.message


    def test_stride_ignored_when_a_strided_case_has_a_single_output(self):
        # Hand-made hidden set in the style of cases.py; in the last case the windows do
        # not move (1x1 output), so ignoring the stride gives the right answer there.
        # (Generated sets look like this for seeds 5 and 17, among others.)
        def case(i, H, W, HH, WW, stride, pad):
            return Case(CONV_FWD, i, dict(N=2, C=2, H=H, W=W, F=2, HH=HH, WW=WW,
                                          stride=stride, pad=pad))
        cases = [case(1, 6, 6, 3, 3, 1, 0), case(2, 6, 7, 3, 3, 1, 1),
                 case(3, 6, 7, 3, 2, 2, 1), case(4, 9, 4, 3, 3, 3, 2),
                 case(5, 5, 4, 4, 3, 2, 0)]
        assert ref.output_size(5, 4, 2) == ref.output_size(4, 3, 2) == 1
        inputs = {(CONV_FWD, c.index): make_inputs(c, 0) for c in cases}
        expected = {k: expected_outputs(cases[k[1] - 1], v) for k, v in inputs.items()}
        cs = CaseSet(CONV_LAYERS, 0, {CONV_FWD: cases}, inputs, expected)
        mutant = next(m for m in MUTANTS if m.name == "stride_ignored")
        verdict = grade(CONV_FWD, exec_answers(apply(mutant, student_answers(RELEASE_NB))), cs)
        assert [c.passed for c in verdict.cases] == [True, True, False, False, True]
        assert [c.mistake for c in verdict.cases if not c.passed] == ["stride_ignored"] * 2, \
            verdict.lines()


# --------------------------------------------------------------------------- malformed reports

def _correct_report(task_name, caseset):
    return over_the_wire(*run_like_harness(task_name, reference_student(), caseset), caseset)


class TestMalformedReports:
    def test_missing_case(self, caseset):
        header, arrays = _correct_report(CONV_FWD, caseset)
        header["cases"] = [m for m in header["cases"] if m["index"] != 3]
        v = verify_task(TASK_BY_NAME[CONV_FWD], caseset, header, arrays)
        assert [c.passed for c in v.cases] == [i != 3 for i in range(1, 9)]
        assert v.cases[2].points == 0
        assert v.cases[2].message == "no result was reported for this case"
        assert v.points == pytest.approx(30 * 7 / 8)

    @pytest.mark.parametrize("header", [None, [], "cases", {"task": CONV_FWD},
                                        {"task": CONV_FWD, "cases": None},
                                        {"task": CONV_FWD, "cases": {"1": {}}}])
    def test_no_cases_reported(self, caseset, header):
        _, arrays = _correct_report(CONV_FWD, caseset)
        v = verify_task(TASK_BY_NAME[CONV_FWD], caseset, header, arrays)
        assert v.points == 0
        assert v.problem == "no results were reported"
        assert len(v.cases) == 8
        assert all(not c.passed and c.message == "no result was reported for this case"
                   for c in v.cases)
        assert "no results were reported" in "\n".join(v.lines())

    def test_problem_is_kept(self, caseset):
        v = verify_task(TASK_BY_NAME[POOL_BWD], caseset, None, {}, problem="unreadable report: x")
        assert v.points == 0 and v.problem == "unreadable report: x"
        assert "  unreadable report: x" in v.lines()

    @pytest.mark.parametrize("bad_meta", ["junk", 3, None, ["index", 2]])
    def test_junk_entries_are_ignored(self, caseset, bad_meta):
        header, arrays = _correct_report(POOL_FWD, caseset)
        header["cases"].insert(0, bad_meta)
        v = verify_task(TASK_BY_NAME[POOL_FWD], caseset, header, arrays)
        assert v.points == v.max_points

    @pytest.mark.parametrize("outputs", [None, ["out"], "out", {"out": None}, {}],
                             ids=["None", "list_of_str", "str", "info_None", "empty"])
    def test_report_outputs_of_wrong_type(self, caseset, outputs):
        # A malformed header from the kernel: case 2's "outputs" is not a dict of dicts.
        header, arrays = _correct_report(POOL_FWD, caseset)
        header["cases"][1]["outputs"] = outputs
        v = verify_task(TASK_BY_NAME[POOL_FWD], caseset, header, arrays)
        assert [c.passed for c in v.cases] == [True, False, True, True, True, True]
        assert v.cases[1].message.startswith("`out` is nothing, expected an array of shape")

    def test_unhashable_index_is_ignored(self, caseset):
        header, arrays = _correct_report(POOL_FWD, caseset)
        header["cases"][0]["index"] = [1]
        v = verify_task(TASK_BY_NAME[POOL_FWD], caseset, header, arrays)
        assert not v.cases[0].passed
        assert v.cases[0].message == "no result was reported for this case"
        assert all(c.passed for c in v.cases[1:])

    def test_student_returns_none(self, caseset):
        v = grade(POOL_FWD, with_output(POOL_FWD, lambda out: None), caseset)
        assert v.points == 0
        for c, case in zip(v.cases, caseset.cases[POOL_FWD]):
            shape = caseset.expected[(POOL_FWD, case.index)]["out"].shape
            assert c.message == f"`out` is NoneType, expected an array of shape {shape}"

    def test_student_returns_list_of_strings(self, caseset):
        v = grade(CONV_FWD, with_output(CONV_FWD, lambda out: ["a", "b"]), caseset)
        assert v.points == 0
        assert all(c.message.startswith("`out` is list, expected an array of shape")
                   for c in v.cases)

    def test_one_gradient_missing(self, caseset):
        v = grade(CONV_BWD, with_output(CONV_BWD, lambda g: (g[0], None, g[2])), caseset)
        assert v.points == 0
        assert all(c.message.startswith("`dw` is NoneType") for c in v.cases)

    def test_object_dtype_array(self, caseset):
        header, arrays = _correct_report(POOL_FWD, caseset)
        good = arrays["1/out/out"]
        arrays["1/out/out"] = good.astype(object)
        v = verify_task(TASK_BY_NAME[POOL_FWD], caseset, header, arrays)
        assert not v.cases[0].passed and v.cases[0].points == 0
        assert v.cases[0].message == "`out` has dtype object, expected float"
        assert all(c.passed for c in v.cases[1:])

    def test_string_dtype_array(self, caseset):
        # Strings can be saved without pickle: the wire refuses them, and verify_task
        # scores them 0 if they get there another way.
        header, arrays = run_like_harness(POOL_FWD, reference_student(), caseset)
        arrays["2/out/out"] = np.full(arrays["2/out/out"].shape, "1.0")
        with pytest.raises(WireError, match="not a number"):
            over_the_wire(header, arrays, caseset)
        v = verify_task(TASK_BY_NAME[POOL_FWD], caseset, header, arrays)
        assert not v.cases[1].passed
        assert v.cases[1].message == "`out` has dtype <U3, expected float"

    def test_bool_output(self, caseset):
        v = grade(POOL_FWD, with_output(POOL_FWD, lambda out: out > 0), caseset)
        assert v.points == 0
        assert all(c.message == "`out` has dtype bool, expected float" for c in v.cases)

    def test_wrong_shape(self, caseset):
        v = grade(POOL_FWD, with_output(POOL_FWD, lambda out: out[:, :, :, :-1]), caseset)
        assert v.points == 0
        for c, case in zip(v.cases, caseset.cases[POOL_FWD]):
            want = caseset.expected[(POOL_FWD, case.index)]["out"].shape
            got = want[:3] + (want[3] - 1,)
            assert f"`out` has shape {got}, expected {want}" in c.message

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_nan_or_inf_in_outputs(self, caseset, bad):
        def poison(grads):
            dx, dw, db = (g.copy() for g in grads)
            dw.flat[0] = bad
            return dx, dw, db
        v = grade(CONV_BWD, with_output(CONV_BWD, poison), caseset)
        assert v.points == 0
        assert all(c.message.startswith("`dw` contains NaN or inf") for c in v.cases)

    def test_all_nan_output(self, caseset):
        v = grade(POOL_BWD, with_output(POOL_BWD, lambda dx: np.full_like(dx, np.nan)), caseset)
        assert v.points == 0
        assert all("`dx` contains NaN or inf" in c.message for c in v.cases)

    def test_wrong_values_message(self, caseset):
        v = grade(CONV_FWD, with_output(CONV_FWD, lambda out: out * 1.001), caseset)
        assert v.points == 0
        assert all(re.fullmatch(r"`out` has wrong values \(relative error \d\.\de-\d\d\)", c.message)
                   for c in v.cases)

    def test_tiny_round_off_passes(self, caseset):
        v = grade(CONV_FWD, with_output(CONV_FWD, lambda out: out * (1 + 1e-12)), caseset)
        assert v.points == v.max_points

    def test_input_modified_by_student(self, caseset):
        fns = reference_student()
        fwd = fns[CONV_FWD]

        def conv_forward_naive(x, w, b, conv_param):
            result = fwd(x.copy(), w, b, conv_param)
            x += 1.0          # correct output, but the caller's x changed
            return result
        fns[CONV_FWD] = conv_forward_naive
        v = grade(CONV_FWD, fns, caseset)
        assert v.points == 0
        for c in v.cases:
            assert c.mistake == "input_modified"
            assert c.message.startswith("input `x` was modified in place")

    @pytest.mark.parametrize("change", ["values", "missing", "shape"])
    def test_after_array_differs(self, caseset, change):
        header, arrays = _correct_report(POOL_BWD, caseset)
        key = "4/after/dout"
        if change == "values":
            arrays[key] = arrays[key] + 1e-9
        elif change == "missing":
            del arrays[key]
        else:
            arrays[key] = arrays[key].ravel()
        v = verify_task(TASK_BY_NAME[POOL_BWD], caseset, header, arrays)
        assert [c.passed for c in v.cases] == [True, True, True, False, True, True]
        assert v.cases[3].message.startswith("input `dout` was modified in place")
        assert v.cases[3].mistake == "input_modified"

    def test_error_status_without_details(self, caseset):
        header, arrays = _correct_report(CONV_FWD, caseset)
        header["cases"][0] = {"index": 1, "status": "error"}
        v = verify_task(TASK_BY_NAME[CONV_FWD], caseset, header, arrays)
        assert not v.cases[0].passed
        assert v.cases[0].message == "raised Exception"

    def test_claimed_shape_is_not_trusted(self, caseset):
        # The header says the right shape, the array says otherwise: the array wins.
        header, arrays = _correct_report(POOL_FWD, caseset)
        arrays["1/out/out"] = arrays["1/out/out"][..., :1]
        v = verify_task(TASK_BY_NAME[POOL_FWD], caseset, header, arrays)
        assert not v.cases[0].passed and "has shape" in v.cases[0].message


# --------------------------------------------------------------------------- TaskVerdict

def _verdict(pattern, max_points=30.0, task="conv_forward_naive"):
    return TaskVerdict(task, float(max_points), [
        CaseResult(i, f"case {i}", ok, round(max_points / len(pattern), 4) if ok else 0.0,
                   "" if ok else "wrong", None if ok else "bias_missing")
        for i, ok in enumerate(pattern, 1)])


class TestTaskVerdictPoints:
    def test_hand_made(self):
        assert _verdict([True, True, False, True]).points == 22.5
        assert _verdict([False] * 3).points == 0
        assert _verdict([True] * 6, 25).points == 25
        assert TaskVerdict("t", 30.0).points == 0.0

    def test_shares_that_do_not_add_up(self):
        # 25 / 6 = 4.1667 rounded; six of them would be 25.0002.
        v = _verdict([True] * 6, 25)
        assert sum(c.points for c in v.cases) > 25
        assert v.points == 25

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.booleans(), min_size=1, max_size=12),
           st.sampled_from([t.points for t in TASKS]) | st.integers(1, 100))
    def test_points_are_the_passed_share(self, pattern, max_points):
        v = _verdict(pattern, max_points)
        passed = sum(pattern)
        assert 0 <= v.points <= v.max_points
        assert v.points == pytest.approx(max_points * passed / len(pattern), abs=1e-4)
        assert (v.points == v.max_points) == all(pattern)
        assert (v.points == 0) == (not any(pattern))

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.booleans(), min_size=1, max_size=8))
    def test_points_from_verify_task(self, pattern):
        # Same property on real verdicts: drop the cases marked False from a correct report.
        cs = _CS
        header, arrays = _CORRECT_POOL_BWD
        n = len(cs.cases[POOL_BWD])
        pattern = (pattern * n)[:n]
        keep = [m for m, ok in zip(header["cases"], pattern) if ok]
        v = verify_task(TASK_BY_NAME[POOL_BWD], cs, {"cases": keep}, arrays)
        assert [c.passed for c in v.cases] == pattern
        assert v.points <= v.max_points
        assert v.points == pytest.approx(25 * sum(pattern) / n, abs=1e-4)


_CS = build_caseset(SEED)
_CORRECT_POOL_BWD = _correct_report(POOL_BWD, _CS)


class TestTaskVerdictSerialization:
    def test_round_trip_hand_made(self):
        v = TaskVerdict("max_pool_forward_naive", 15.0, [
            CaseResult(1, "x(1, 1, 4, 4), pool 2x2, stride=2", True, 2.5),
            CaseResult(2, "x(2, 3, 5, 6), pool 2x2, stride=2", False, 0.0, "raised ValueError",
                       "hw_swapped")], problem="")
        d = v.to_dict()
        assert d["points"] == 7.5
        assert TaskVerdict.from_dict(d) == v
        assert TaskVerdict.from_dict(json.loads(json.dumps(d))) == v

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.tuples(st.booleans(), st.text(max_size=20),
                              st.sampled_from([None, *MISTAKES])), min_size=0, max_size=8),
           st.text(max_size=30))
    def test_round_trip_property(self, rows, problem):
        v = TaskVerdict("conv_backward_naive", 30.0, [
            CaseResult(i, f"case {i}", ok, 3.75 if ok else 0.0, msg, mistake)
            for i, (ok, msg, mistake) in enumerate(rows, 1)], problem)
        back = TaskVerdict.from_dict(json.loads(json.dumps(v.to_dict())))
        assert back == v
        assert back.points == v.points

    def test_round_trip_real_verdicts(self, mutant_verdicts):
        for verdicts in list(mutant_verdicts.values())[:10]:
            for v in verdicts.values():
                assert TaskVerdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v


class TestTaskVerdictLines:
    DECIMAL = re.compile(r"\d+\.\d+(?:e[+-]?\d+)?")
    REL_ERROR = re.compile(r"\d\.\de[+-]\d\d")

    def _assert_no_hidden_values(self, lines, caseset, task):
        text = "\n".join(lines[1:])            # the head only has counts and points
        for token in self.DECIMAL.findall(text):
            assert self.REL_ERROR.fullmatch(token), f"number {token} in feedback: {text}"
        tokens = set(re.findall(r"-?[\d.]+(?:e[+-]?\d+)?", text))
        for case in caseset.cases[task]:
            key = (task, case.index)
            for a in [*caseset.inputs[key].values(), *caseset.expected[key].values()]:
                for v in a.ravel()[:50]:
                    for shown in (repr(float(v)), f"{v:.3f}", f"{v:.4f}", f"{v:.6f}", f"{v:.8f}"):
                        assert shown not in tokens, f"hidden value {shown} in feedback: {text}"

    def _assert_mentions_parameters(self, verdict, caseset):
        lines = verdict.lines()
        for case in caseset.cases[verdict.task]:
            line = next(l for l in lines if l.startswith(f"  case {case.index} "))
            assert f"({case.describe()})" in line
            c = verdict.cases[case.index - 1]
            assert line.endswith("passed") if c.passed else f"FAILED: {c.message}" in line

    def test_head(self, caseset):
        v = grade(CONV_FWD, reference_student(), caseset)
        assert v.lines()[0] == "conv_forward_naive: 8/8 hidden cases passed, 30 / 30 points"
        assert len(v.lines()) == 9

    def test_correct_student(self, caseset):
        for task in TASKS:
            v = grade(task.name, reference_student(), caseset)
            self._assert_mentions_parameters(v, caseset)
            self._assert_no_hidden_values(v.lines(), caseset, task.name)

    @pytest.mark.parametrize("name", MUTANT_IDS)
    def test_mutants(self, mutant_verdicts, casesets, name):
        cs = casesets[SEED]
        for task, v in mutant_verdicts[(name, SEED)].items():
            messages = {c.message for c in v.cases}
            if any(c.passed for c in v.cases) or len(messages) > 1:
                self._assert_mentions_parameters(v, cs)
            else:   # every case failed the same way: one summary line
                assert v.lines()[1] == f"  every case failed: {messages.pop()}"
            self._assert_no_hidden_values(v.lines(), cs, task)

    def test_wrong_values(self, caseset):
        # wrong only for batches > 1: some cases pass, so every case gets its own line
        fns = with_output(CONV_BWD, lambda g: (g[0] * (2 if len(g[0]) > 1 else 1), g[1], g[2]))
        v = grade(CONV_BWD, fns, caseset)
        assert 0 < v.points < v.max_points
        self._assert_mentions_parameters(v, caseset)
        self._assert_no_hidden_values(v.lines(), caseset, CONV_BWD)
