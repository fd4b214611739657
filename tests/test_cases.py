"""Tests for autograder/cases.py: hidden case generation, inputs and expected outputs.

Grouped per unit: ``Case.describe``, ``generate_cases`` (determinism and the coverage the
module promises), ``make_inputs``, ``expected_outputs`` / ``CaseSet.build`` and
``CaseSet.task_view`` (what reaches the untrusted kernel) and ``report_limits``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from autograder.assignments.conv_layers import reference as ref
from autograder.verifying.cases import CaseSet
from autograder.assignments.conv_layers.cases import Case, expected_outputs, generate_cases, make_inputs
from autograder.assignments.conv_layers.mutants import load_answer_sources
from autograder.assignments.conv_layers.tasks import TASK_BY_NAME, TASKS
from autograder.assignments.conv_layers import assignment as CONV_LAYERS

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "source" / "conv_layers" / "conv_layers.ipynb"

CONV_TASKS = ("conv_forward_naive", "conv_backward_naive")
POOL_TASKS = ("max_pool_forward_naive", "max_pool_backward_naive")
SEEDS = (0, 1, 7, 2024, 123456789)
SEED_SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 2**32 - 1)


@pytest.fixture(scope="module", params=SEEDS[:3])
def caseset(request) -> CaseSet:
    return CaseSet.build(CONV_LAYERS, request.param)


def all_cases(cases):
    return [c for task_cases in cases.values() for c in task_cases]


# --------------------------------------------------------------------------- Case.describe

class TestDescribe:
    def test_conv_case_hand_made(self):
        case = Case("conv_forward_naive", 1,
                    dict(N=2, C=3, H=5, W=7, F=4, HH=3, WW=2, stride=2, pad=1))
        assert case.conv
        assert case.describe() == "x(2, 3, 5, 7), w(4, 3, 3, 2), stride=2, pad=1"

    def test_pool_case_hand_made(self):
        case = Case("max_pool_backward_naive", 3, dict(N=1, C=2, H=6, W=4, ph=3, pw=2, stride=1))
        assert not case.conv
        assert case.describe() == "x(1, 2, 6, 4), pool 3x2, stride=1"

    @SEED_SETTINGS
    @given(seeds)
    def test_describe_names_shapes_only(self, seed):
        # Only integers (shapes and hyper-parameters) appear in what the student sees.
        for case in all_cases(generate_cases(seed)):
            text = case.describe()
            assert not re.search(r"\d\.\d", text), text
            p = case.params
            assert f"x({p['N']}, {p['C']}, {p['H']}, {p['W']})" in text
            assert f"stride={p['stride']}" in text


# --------------------------------------------------------------------------- generate_cases

class TestGenerateCasesDeterminism:
    def test_same_seed_same_cases(self):
        assert generate_cases(5) == generate_cases(5)

    def test_independent_of_global_numpy_state(self):
        np.random.seed(0)
        first = generate_cases(11)
        np.random.seed(1)
        np.random.standard_normal(100)
        assert generate_cases(11) == first

    @SEED_SETTINGS
    @given(seeds)
    def test_deterministic_per_seed(self, seed):
        a, b = generate_cases(seed), generate_cases(seed)
        assert a == b
        for case in all_cases(a):
            x1, x2 = make_inputs(case, seed), make_inputs(case, seed)
            assert x1.keys() == x2.keys()
            for name in x1:
                np.testing.assert_array_equal(x1[name], x2[name])

    @SEED_SETTINGS
    @given(seeds, seeds)
    def test_differs_across_seeds(self, s1, s2):
        if s1 == s2:
            s2 = s1 + 1
        c1, c2 = generate_cases(s1), generate_cases(s2)
        # The sizes are drawn from the seed (a collision of all 28 drawn sizes is
        # astronomically unlikely) ...
        assert c1 != c2
        # ... and so are the values, even for a case whose parameters agree.
        case = c1["conv_forward_naive"][0]
        assert not np.array_equal(make_inputs(case, s1)["x"], make_inputs(case, s2)["x"])

    def test_layout(self):
        cases = generate_cases(3)
        assert list(cases) == [t.name for t in TASKS]
        for task, task_cases in cases.items():
            assert [c.index for c in task_cases] == list(range(1, len(task_cases) + 1))
            assert all(c.task == task for c in task_cases)
        # Forward and backward tasks of a layer share their templates.
        assert len(cases["conv_forward_naive"]) == len(cases["conv_backward_naive"]) == 8
        assert len(cases["max_pool_forward_naive"]) == len(cases["max_pool_backward_naive"]) == 6


def _tiles(size, k, stride, pad=0):
    return (size + 2 * pad - k) % stride == 0


def _check_common_coverage(task_cases):
    ps = [c.params for c in task_cases]
    assert any(p["N"] == 1 for p in ps), "no case with batch 1"
    assert any(p["N"] > 1 for p in ps), "no case with batch > 1"
    assert any(p["C"] == 1 for p in ps), "no case with C = 1"
    assert any(p["C"] > 1 for p in ps), "no case with C > 1"
    assert any(p["H"] != p["W"] for p in ps), "no non-square input"
    assert {1, 2, 3} <= {p["stride"] for p in ps}, "strides 1, 2 and 3 not all covered"


def _check_conv_coverage(task_cases):
    _check_common_coverage(task_cases)
    ps = [c.params for c in task_cases]
    assert any(p["HH"] != p["WW"] for p in ps), "no non-square kernel"
    assert any(p["HH"] == p["WW"] == 1 for p in ps), "no 1x1 kernel"
    assert {0, 1, 2} <= {p["pad"] for p in ps}, "pads 0, 1 and 2 not all covered"
    assert any(not _tiles(p["H"], p["HH"], p["stride"], p["pad"]) for p in ps), \
        "windows always tile the padded height"
    assert any(not _tiles(p["W"], p["WW"], p["stride"], p["pad"]) for p in ps), \
        "windows always tile the padded width"
    assert any(not _tiles(p["H"], p["HH"], p["stride"], p["pad"])
               and not _tiles(p["W"], p["WW"], p["stride"], p["pad"]) and p["H"] != p["W"]
               for p in ps), "no non-square input left over in both directions"
    for p in ps:  # every case is a valid problem
        assert p["HH"] <= p["H"] + 2 * p["pad"] and p["WW"] <= p["W"] + 2 * p["pad"]


def _check_pool_coverage(task_cases):
    _check_common_coverage(task_cases)
    ps = [c.params for c in task_cases]
    assert any(p["ph"] != p["pw"] for p in ps), "no non-square pool"
    assert any(p["stride"] < p["ph"] and p["stride"] < p["pw"] for p in ps), \
        "no overlapping pool (stride < pool size)"
    assert any(p["stride"] < max(p["ph"], p["pw"]) and p["ph"] != p["pw"] for p in ps), \
        "no overlapping non-square pool"
    assert any(p["stride"] == p["ph"] == p["pw"] for p in ps), "no classic pool (stride == size)"
    assert any(not _tiles(p["H"], p["ph"], p["stride"]) for p in ps), "windows always tile H"
    assert any(not _tiles(p["W"], p["pw"], p["stride"]) for p in ps), "windows always tile W"
    for p in ps:
        assert p["ph"] <= p["H"] and p["pw"] <= p["W"]


class TestGenerateCasesCoverage:
    @pytest.mark.parametrize("seed", SEEDS)
    @pytest.mark.parametrize("task", CONV_TASKS)
    def test_conv_classes_fixed_seeds(self, seed, task):
        _check_conv_coverage(generate_cases(seed)[task])

    @pytest.mark.parametrize("seed", SEEDS)
    @pytest.mark.parametrize("task", POOL_TASKS)
    def test_pool_classes_fixed_seeds(self, seed, task):
        _check_pool_coverage(generate_cases(seed)[task])

    @SEED_SETTINGS
    @given(seeds)
    def test_every_task_covers_its_classes(self, seed):
        cases = generate_cases(seed)
        for task in CONV_TASKS:
            _check_conv_coverage(cases[task])
        for task in POOL_TASKS:
            _check_pool_coverage(cases[task])


# --------------------------------------------------------------------------- make_inputs

class TestMakeInputs:
    def test_conv_backward_shapes_hand_made(self):
        case = Case("conv_backward_naive", 1,
                    dict(N=2, C=3, H=5, W=7, F=4, HH=3, WW=2, stride=2, pad=1))
        arrays = make_inputs(case, 0)
        assert set(arrays) == {"x", "w", "b", "dout"}
        assert arrays["x"].shape == (2, 3, 5, 7)
        assert arrays["w"].shape == (4, 3, 3, 2)
        assert arrays["b"].shape == (4,)
        # H' = 1 + (5 + 2 - 3) // 2 = 3, W' = 1 + (7 + 2 - 2) // 2 = 4
        assert arrays["dout"].shape == (2, 4, 3, 4)

    def test_pool_backward_shapes_hand_made(self):
        case = Case("max_pool_backward_naive", 1, dict(N=1, C=2, H=6, W=4, ph=3, pw=2, stride=1))
        arrays = make_inputs(case, 0)
        assert set(arrays) == {"x", "dout"}
        assert arrays["x"].shape == (1, 2, 6, 4)
        assert arrays["dout"].shape == (1, 2, 4, 3)   # 1 + (6-3)//1, 1 + (4-2)//1

    def test_forward_tasks_get_no_dout(self):
        for task_cases in generate_cases(0).values():
            for case in task_cases:
                assert set(make_inputs(case, 0)) == set(TASK_BY_NAME[case.task].inputs)

    @SEED_SETTINGS
    @given(seeds)
    def test_inputs_are_float64(self, seed):
        for case in all_cases(generate_cases(seed)):
            for name, a in make_inputs(case, seed).items():
                assert a.dtype == np.float64, (case, name)
                assert np.all(np.isfinite(a))

    @SEED_SETTINGS
    @given(seeds)
    def test_pool_windows_have_no_ties(self, seed):
        cases = generate_cases(seed)
        for task in POOL_TASKS:
            for case in cases[task]:
                p = case.params
                x = make_inputs(case, seed)["x"]
                windows = sliding_window_view(x, (p["ph"], p["pw"]), axis=(2, 3))
                windows = windows[:, :, ::p["stride"], ::p["stride"]]
                flat = np.sort(windows.reshape(-1, p["ph"] * p["pw"]), axis=1)
                # strictly increasing when sorted: all values of a window are distinct,
                # so the max (and the backward's argmax) is unique.
                assert np.all(np.diff(flat, axis=1) > 0), case

    def test_case_inputs_differ_between_cases(self):
        cases = generate_cases(0)["conv_forward_naive"]
        xs = [make_inputs(c, 0)["x"].ravel()[:4] for c in cases]
        assert len({tuple(x) for x in xs}) == len(xs)


# --------------------------------------------------------------------------- expected outputs

def _solution_namespace():
    ns = {"np": np}
    for source in load_answer_sources(SOURCE_NB).values():
        exec(source, ns)
    return ns


class TestExpectedOutputs:
    def test_hand_made_pool_case(self):
        case = Case("max_pool_forward_naive", 1, dict(N=1, C=1, H=2, W=3, ph=2, pw=2, stride=1))
        x = np.array([[[[1.0, 9.0, 2.0], [3.0, 4.0, 5.0]]]])
        np.testing.assert_array_equal(expected_outputs(case, {"x": x})["out"], [[[[9.0, 9.0]]]])
        back = Case("max_pool_backward_naive", 1, case.params)
        dx = expected_outputs(back, {"x": x, "dout": np.array([[[[2.0, 5.0]]]])})["dx"]
        np.testing.assert_array_equal(dx, [[[[0.0, 7.0, 0.0], [0.0, 0.0, 0.0]]]])

    def test_hand_made_conv_case(self):
        case = Case("conv_forward_naive", 1, dict(N=1, C=1, H=3, W=3, F=1, HH=2, WW=2, stride=1, pad=0))
        inputs = {"x": np.arange(9.0).reshape(1, 1, 3, 3),
                  "w": np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), "b": np.array([1.0])}
        np.testing.assert_array_equal(expected_outputs(case, inputs)["out"],
                                      [[[[28.0, 38.0], [58.0, 68.0]]]])

    def test_expected_names_are_the_task_outputs(self, caseset):
        for (task, index), named in caseset.expected.items():
            assert tuple(named) == TASK_BY_NAME[task].outputs
            for a in named.values():
                assert a.dtype == np.float64

    def test_expected_match_reference(self, caseset):
        for (task, index), inputs in caseset.inputs.items():
            p = caseset.case(task, index).params
            got = caseset.expected[(task, index)]
            x = inputs["x"]
            if task == "conv_forward_naive":
                want = {"out": ref.conv_forward(x, inputs["w"], inputs["b"], p["stride"], p["pad"])}
            elif task == "conv_backward_naive":
                want = dict(zip(("dx", "dw", "db"), ref.conv_backward(
                    inputs["dout"], x, inputs["w"], p["stride"], p["pad"])))
            elif task == "max_pool_forward_naive":
                want = {"out": ref.max_pool_forward(x, p["ph"], p["pw"], p["stride"])}
            else:
                want = {"dx": ref.max_pool_backward(inputs["dout"], x, p["ph"], p["pw"], p["stride"])}
            assert got.keys() == want.keys()
            for name in want:
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{task} {index} {name}")

    def test_expected_match_instructor_solution(self, caseset):
        # An independent oracle: the loop-based solution of the notebook.
        ns = _solution_namespace()
        for (task, index), inputs in caseset.inputs.items():
            p = caseset.case(task, index).params
            want = caseset.expected[(task, index)]
            x = inputs["x"]
            if task.startswith("conv"):
                conv_param = {"stride": p["stride"], "pad": p["pad"]}
                out, cache = ns["conv_forward_naive"](x, inputs["w"], inputs["b"], conv_param)
                got = ({"out": out} if task == "conv_forward_naive" else
                       dict(zip(("dx", "dw", "db"), ns["conv_backward_naive"](inputs["dout"], cache))))
            else:
                pool_param = {"pool_height": p["ph"], "pool_width": p["pw"], "stride": p["stride"]}
                out, cache = ns["max_pool_forward_naive"](x, pool_param)
                got = ({"out": out} if task == "max_pool_forward_naive" else
                       {"dx": ns["max_pool_backward_naive"](inputs["dout"], cache)})
            for name in want:
                np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12,
                                           err_msg=f"{task} {index} {name}")

    def test_dout_has_the_forward_output_shape(self, caseset):
        for (task, index), inputs in caseset.inputs.items():
            if "dout" not in inputs:
                continue
            p = caseset.case(task, index).params
            if task == "conv_backward_naive":
                want = (p["N"], p["F"], ref.output_size(p["H"], p["HH"], p["stride"], p["pad"]),
                        ref.output_size(p["W"], p["WW"], p["stride"], p["pad"]))
            else:
                want = (p["N"], p["C"], ref.output_size(p["H"], p["ph"], p["stride"]),
                        ref.output_size(p["W"], p["pw"], p["stride"]))
            assert inputs["dout"].shape == want, (task, index)

    def test_build_does_not_modify_inputs(self):
        cs = CaseSet.build(CONV_LAYERS, 9)
        for key, inputs in cs.inputs.items():
            case = cs.case(*key)
            fresh = make_inputs(case, 9)
            for name in fresh:
                np.testing.assert_array_equal(inputs[name], fresh[name])


# --------------------------------------------------------------------------- task_view

class TestTaskView:
    """What reaches the untrusted kernel, one task at a time, during its hidden cell."""

    def test_parameters_only(self, caseset):
        for task in TASKS:
            spec, _ = caseset.task_view(task.name)
            assert [e["index"] for e in spec] == [c.index for c in caseset.cases[task.name]]
            for entry, case in zip(spec, caseset.cases[task.name]):
                assert set(entry) == {"index", "params"}
                assert entry["params"] == case.params
                assert all(isinstance(v, int) for v in entry["params"].values())

    def test_exactly_the_tasks_inputs(self, caseset):
        for task in TASKS:
            _, arrays = caseset.task_view(task.name)
            want = {f"{task.name}/{index}/{name}": a for (t, index), named in caseset.inputs.items()
                    if t == task.name for name, a in named.items()}
            assert set(arrays) == set(want)
            for key, a in want.items():
                assert arrays[key].dtype == np.float64
                np.testing.assert_array_equal(arrays[key], a)
                assert key.split("/")[2] in task.inputs

    def test_no_expected_output(self, caseset):
        outputs = {o for t in TASKS for o in t.outputs}
        for task in TASKS:
            spec, arrays = caseset.task_view(task.name)
            for (t, index), named in caseset.expected.items():
                for name, want in named.items():
                    for a in arrays.values():
                        same = a.shape == want.shape and np.allclose(a, want)
                        assert not same, f"expected {name} of {t} case {index} is handed out"
            assert not any(k.split("/")[-1] in outputs for k in arrays)
            text = json.dumps(spec)
            assert not any(f'"{o}"' in text for o in outputs | {"expected"})

    def test_kernel_view_is_every_tasks_view(self, caseset):
        spec, arrays = caseset.kernel_view()
        assert list(spec) == [t.name for t in TASKS]
        assert set(arrays) == {k for t in TASKS for k in caseset.task_view(t.name)[1]}

    def test_report_limits_name_every_output_and_input(self, caseset):
        for task in TASKS:
            limits = caseset.report_limits(task.name)
            for case in caseset.cases[task.name]:
                for name, want in caseset.expected[(task.name, case.index)].items():
                    assert limits[f"{case.index}/out/{name}"] >= 9 * want.size
                for name, arr in caseset.inputs[(task.name, case.index)].items():
                    assert limits[f"{case.index}/after/{name}"] == arr.size
