"""conv_net: the reference, its trusted checks (speed, the student's own gradients, the
trained model's accuracy) and a class graded through the real pipeline."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import nbformat
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from autograder import demo
from autograder.answers import fill
from autograder.assignment import load
from autograder.assignments.conv_layers import reference as naive
from autograder.assignments.conv_net import judges, mutants, reference as ref
from autograder.assignments.conv_net.cases import TEST_DIGITS, net_shapes
from autograder.assignments.conv_net.tasks import ASSIGNMENT, NOTEBOOK, PARAMS
from autograder.verifying.cases import CaseSet
from conftest import REPO, read_grades
from test_release import _cells
from test_validate import SUCCESS, failures, message, validate

CONV_NET = load(ASSIGNMENT)
RELEASE = REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
SEED = 11


def test_the_committed_release_is_fresh_and_holds_no_solution(tmp_path):
    shutil.copytree(REPO / "source" / ASSIGNMENT, tmp_path / "source" / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                   cwd=tmp_path, check=True, capture_output=True)
    fresh, committed = tmp_path / "assignments" / ASSIGNMENT, RELEASE.parent
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in committed.iterdir())
    assert _cells(fresh / RELEASE.name) == _cells(RELEASE), \
        "the committed release is stale: run `nbgrader generate_assignment conv_net --force`"
    assert (fresh / "conv_net_helpers.py").read_bytes() == (committed / "conv_net_helpers.py").read_bytes()
    text = RELEASE.read_text()
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "autograder_harness", "Grading.seed"):
        assert secret not in text


def test_nbgrader_validate_fails_the_blank_release_and_passes_a_correct_notebook(tmp_path):
    def run(name, answers):
        folder = tmp_path / name / ASSIGNMENT
        shutil.copytree(RELEASE.parent, folder)
        nbformat.write(fill(RELEASE, answers), str(folder / RELEASE.name))
        return validate(folder, NOTEBOOK)

    with ThreadPoolExecutor(2) as pool:
        blank, correct = pool.map(run, ("blank", "correct"),
                                  (None, mutants.student_answers(RELEASE)))
    assert SUCCESS not in blank
    said = [message(error) for error in failures(blank)]
    for name in ("conv_forward_fast", "conv_backward_fast", "ThreeLayerConvNet"):
        assert any(f"{name} is not implemented yet" in m or f"{name}.__init__ is not implemented yet" in m
                   for m in said), (name, said)
    assert said and all(m.startswith("AssertionError") for m in said), said
    assert SUCCESS in correct, correct[-3000:]


@pytest.fixture(scope="module")
def caseset() -> CaseSet:
    return CaseSet.build(CONV_NET, SEED)


def test_the_reference_fast_convolution_is_the_naive_one_on_every_hidden_case(caseset):
    for task in ("conv_forward_fast", "conv_backward_fast", "conv_speed"):
        for case in caseset.cases[task]:
            p, inputs = case.params, caseset.inputs[(task, case.index)]
            want = {"out": naive.conv_forward(inputs["x"], inputs["w"], inputs["b"], p["stride"], p["pad"])}
            if "dout" in inputs:
                want |= dict(zip(("dx", "dw", "db"), naive.conv_backward(
                    inputs["dout"], inputs["x"], inputs["w"], p["stride"], p["pad"])))
            for name, got in caseset.expected[(task, case.index)].items():
                np.testing.assert_allclose(got, want[name], rtol=1e-9, atol=1e-9)


def test_hidden_cases_cover_templates_and_realistic_layers(caseset):
    fwd = [c.params for c in caseset.cases["conv_forward_fast"]]
    assert {p["stride"] for p in fwd} == {1, 2, 3} and {p["pad"] for p in fwd} == {0, 1, 2}
    assert any(p["HH"] == p["WW"] == 1 for p in fwd) and any(p["H"] != p["W"] for p in fwd)
    assert max(p["N"] * p["C"] * p["H"] * p["W"] for p in fwd) >= 8 * 16 * 16 * 16
    kinds = [c.params["kind"] for c in caseset.cases["ThreeLayerConvNet"]]
    assert {"init", "scores", "loss", "gradcheck"} <= set(kinds)
    assert any(c.params["reg"] > 0 for c in caseset.cases["ThreeLayerConvNet"] if c.params["kind"] == "loss")


def test_the_secret_of_the_digits_never_reaches_the_kernel(caseset):
    spec, arrays = caseset.task_view("trained_model")
    assert arrays == {} and json.dumps(spec) == json.dumps([{"index": 1, "params": {"n": TEST_DIGITS}}])
    assert caseset.case("trained_model", 1).secret == SEED


@pytest.mark.parametrize("ratio, credit", [(1, 1), (10, 1), (20, 0.5), (40, 0), (400, 0)])
def test_speed_points_fall_with_the_log_of_the_time_ratio(caseset, ratio, credit, monkeypatch):
    case = caseset.case("conv_speed", 1)
    inputs = caseset.inputs[("conv_speed", 1)]
    assert 0 < judges._reference_seconds(case, inputs) < 1
    monkeypatch.setattr(judges, "_reference_seconds", lambda case, inputs: 0.02)
    got = judges.judge_time(case, inputs, ratio * 0.02)
    assert got.credit == pytest.approx(credit, abs=0.01)
    assert got.measure[0] == "time / reference time" and got.measure[1] == pytest.approx(ratio)
    assert (got.mistake == "too_slow") == (credit < 1)


def test_the_reference_is_timed_with_one_blas_thread_as_in_the_kernel(caseset, monkeypatch):
    # The kernel runs with OPENBLAS_NUM_THREADS=1; the reference must be timed alike.
    seen = []
    forward = judges.ref.conv_forward_fast

    def watched(*args):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return forward(*args)
    monkeypatch.setattr(judges.ref, "conv_forward_fast", watched)
    blas = lambda: {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}  # noqa: E731
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas()
        judges._reference_seconds(caseset.case("conv_speed", 1), caseset.inputs[("conv_speed", 1)])
        assert blas() == before      # the grading process's own setting, as it was
    assert seen and all(threads == {1} for threads in seen)


def _net_case(caseset, kind):
    return next(c for c in caseset.cases["ThreeLayerConvNet"] if c.params["kind"] == kind)


def test_the_gradient_check_compares_the_students_gradients_with_their_own_loss(caseset):
    case = _net_case(caseset, "gradcheck")
    expected = caseset.expected[("ThreeLayerConvNet", case.index)]
    own = {k: v + 1.0 for k, v in expected.items()}        # wrong, but consistent with itself
    assert judges.judge(case, {}, own, expected).credit == 1
    bad = dict(own, dW2=own["dW2"] * 2)
    verdict = judges.judge(case, {}, bad, expected)
    assert verdict.credit == 0 and verdict.mistake == "backward_mismatch" and "W2" in verdict.message


def test_constructor_shapes_and_the_pool_dims_mistake(caseset):
    case = _net_case(caseset, "init")
    good = {k: np.zeros(s) for k, s in net_shapes(case.params).items()}
    assert judges.judge(case, {}, good, {}).credit == 1
    p = case.params
    unpooled = dict(good, W2=np.zeros((p["F"] * p["H"] * p["W"], p["hidden"])))
    verdict = judges.judge(case, {}, unpooled, {})
    assert verdict.credit == 0 and verdict.mistake == "pool_dims"


def _helpers():
    spec = importlib.util.spec_from_file_location("conv_net_helpers",
                                                  REPO / "source" / ASSIGNMENT / "conv_net_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_trained_models_accuracy_is_computed_by_the_grader(caseset):
    case = caseset.case("trained_model", 1)
    rng = np.random.default_rng(0)
    shapes = net_shapes(dict(F=8, C=1, H=8, W=8, fs=3, hidden=32, classes=10))
    initial = {k: rng.normal(0, 1e-2, s) if k.startswith("W") else np.zeros(s) for k, s in shapes.items()}
    verdict = judges.judge(case, {}, initial, {})
    assert verdict.credit == 0 and verdict.measure[0] == "accuracy" and verdict.measure[1] < 0.3
    assert f"accuracy {verdict.measure[1]:.1%}" in verdict.message
    # Trained with the reference's gradients and the notebook's Adam on its own data.
    helpers = _helpers()
    data = helpers.load_digits_data(seed=0)
    params = {k: rng.normal(0, 5e-2, s) if k.startswith("W") else np.zeros(s) for k, s in shapes.items()}
    config = {k: {"learning_rate": 3e-3} for k in PARAMS}
    X, y = data["X_train"], data["y_train"]
    for epoch in range(8):
        for batch in np.array_split(rng.permutation(len(y)), len(y) // 32):
            _, grads = ref.three_layer_convnet_loss(params, X[batch], y[batch], 1e-3)
            for k in PARAMS:
                params[k], config[k] = helpers.adam(params[k], grads[k], config[k])
    verdict = judges.judge(case, {}, params, {})
    assert verdict.credit == 1, verdict.message
    assert judges.judge(case, {}, {"W1": params["W1"]}, {}).message.startswith("model.params lacks")


def _student_case(answers) -> nbformat.NotebookNode:
    return fill(RELEASE, answers)


PRECOMPUTE = '''
import autograder_harness
try:
    autograder_harness._fetch_cases("conv_speed")
except Exception as exc:
    print("could not precompute:", exc)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The demo's conv_net class, and a notebook that tries to fetch the speed case's inputs
    early, graded by the real CLI."""
    course = tmp_path_factory.mktemp("conv_net") / "course"
    students = CONV_NET.synthetic_class(RELEASE)
    demo.make_course(course, {ASSIGNMENT: students})
    nb = _student_case(mutants.student_answers(RELEASE))
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "test_conv_speed")
    nb.cells.insert(at, nbformat.v4.new_code_cell(PRECOMPUTE))
    d = course / "submitted" / "precompute" / ASSIGNMENT
    d.mkdir(parents=True)
    nbformat.write(nb, str(d / f"{NOTEBOOK}.ipynb"))
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course),
                           "--jobs", "2"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from autograder.grading.pipeline import db_url_for, load_config
    from autograder.reporting.grades import collect
    config = load_config((course / "nbgrader_config.py").read_text())
    rows = {r.student_id: r for r in collect(course, db_url_for(course, config), CONV_NET)}
    return course, rows


def _named(row, task):
    return {c["mistake"] for c in row.verdicts[task]["cases"] if not c["passed"]}


def test_a_correct_notebook_gets_full_marks_and_the_blank_release_nothing(graded):
    _, rows = graded
    assert rows["correct"].total == 100 and rows["correct"].status == "ok", rows["correct"].reasons
    assert rows["blank"].total == 0
    assert _named(rows["blank"], "conv_forward_fast") == {"not_implemented"}


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_where_it_should_and_is_named(graded, mutant):
    _, rows = graded
    row = rows[f"mistake_{mutant.name}"]
    for task in CONV_NET.tasks:
        lost = row.scores[task.name] < task.points
        assert lost == (task.name in mutant.broken), (task.name, row.scores, row.reasons)
    assert mutant.name in _named(row, mutant.broken[0]), row.verdicts[mutant.broken[0]]


def test_a_looped_fast_convolution_loses_only_the_speed_points_and_says_how_much_slower(graded):
    course, rows = graded
    row = rows["looped_fast_conv"]
    # Trained with the loops, its small network still reaches full accuracy points.
    assert row.scores == rows["correct"].scores | {"conv_speed": 0}
    (speed,) = row.verdicts["conv_speed"]["cases"]
    assert speed["mistake"] == "too_slow" and "x the reference's time" in speed["message"]
    feedback = (course / "feedback" / "looped_fast_conv" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "x the reference&#39;s time" in feedback or "x the reference's time" in feedback


def test_initial_weights_get_zero_with_the_measured_accuracy(graded):
    _, rows = graded
    row = rows["untrained"]
    assert row.scores["trained_model"] == 0
    (case,) = row.verdicts["trained_model"]["cases"]
    assert case["message"].startswith("accuracy ") and case["measure"][0] == "accuracy"
    assert case["measure"][1] < 0.5


def test_fetching_the_speed_inputs_early_gains_nothing(graded):
    _, rows = graded
    row = rows["precompute"]
    assert row.status == "flagged" and any("outside its hidden test cell" in r for r in row.reasons)
    assert row.scores == rows["correct"].scores


def test_the_class_report_shows_speed_and_accuracy(graded):
    course, _ = graded
    html = (course / "report" / "index.html").read_text()
    section = html.split(f'<section id="{ASSIGNMENT}">', 1)[1].split("</section>", 1)[0]
    assert "time / reference time" in section and "accuracy" in section
    assert (course / "report" / ASSIGNMENT / "measures.png").stat().st_size > 1000
    assert read_grades(course / "grades.csv", ASSIGNMENT)["correct"]["total"] == "100"
