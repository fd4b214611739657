"""One engine, many assignments: the engine knows no assignment, an assignment is one
grading folder, and a course of two assignments (conv_layers and the example assignment
layer_basics of tests/example_assignment/) is graded, recorded and reported per assignment
through the real pipeline."""
from __future__ import annotations

import csv
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import demo
from autograder.answers import fill
from autograder.assignment import PLUGINS, AssignmentError, load, load_folder
from autograder.assignments.conv_layers import mutants as conv_mutants
from autograder.assignments.conv_layers.tasks import ASSIGNMENT as CONV
from conftest import REPO, read_grades

EXAMPLE = REPO / "tests" / "example_assignment"
BASICS = "layer_basics"
ENGINE = REPO / "autograder"


def _engine_modules() -> list[Path]:
    return [p for p in sorted(ENGINE.rglob("*.py")) if PLUGINS not in p.parents]


def _assignment_words() -> re.Pattern:
    """conv, pool, the assignment ids and every task of the kit's assignments and of the
    example, as words ("convert" and "conversion" are not conv; ProcessPoolExecutor, the
    standard library's, is not a pooling layer)."""
    folders = [p for p in PLUGINS.iterdir() if (p / "__init__.py").is_file()] + [EXAMPLE / BASICS]
    names = {f.name for f in folders} | {t.name for f in folders for t in load_folder(f).tasks}
    return re.compile(r"(?i)\b(conv(?!ert|ers)\w*|pool\w*|max.?pool\w*|" +
                      "|".join(map(re.escape, sorted(names))) + r")\b")


def test_the_engine_mentions_no_assignment():
    words = _assignment_words()
    found = [f"{p.relative_to(REPO)}:{n}: {m.group(0)}" for p in _engine_modules()
             for n, line in enumerate(p.read_text().splitlines(), 1)
             for m in [words.search(line)] if m]
    assert found == []


def test_the_engine_imports_no_assignment_by_name():
    imports = re.compile(r"^\s*(from|import)\s+\S*assignments\.\w+", re.M)
    assert [str(p) for p in _engine_modules() if imports.search(p.read_text())] == []


def test_an_assignment_is_found_by_id_in_the_course_folders_first():
    basics = load(BASICS, [EXAMPLE])
    assert basics.folder == EXAMPLE / BASICS and basics.max_score == 20
    assert [t.name for t in basics.tasks] == ["affine_forward", "relu_backward"]
    assert load(CONV).folder == PLUGINS / CONV
    with pytest.raises(AssignmentError, match="no grading folder for assignment 'layer_basics'"):
        load(BASICS)
    with pytest.raises(AssignmentError, match="not a Python identifier"):
        load("../etc")


def test_a_courses_own_folder_of_the_same_id_replaces_the_one_loaded_before(tmp_path):
    shutil.copytree(EXAMPLE / BASICS, tmp_path / BASICS)
    cases = tmp_path / BASICS / "cases.py"
    cases.write_text(cases.read_text().replace("RELU = ((2, 3), (1, 4, 2, 2), (3, 5))",
                                               "RELU = ((2, 3),)"))
    assert len(load(BASICS, [EXAMPLE]).generate_cases(0)["relu_backward"]) == 3
    own = load(BASICS, [tmp_path])
    assert own.folder == tmp_path / BASICS and len(own.generate_cases(0)["relu_backward"]) == 1
    assert len(load(BASICS, [EXAMPLE]).generate_cases(0)["relu_backward"]) == 3


def test_a_folder_that_defines_no_assignment_is_refused_in_one_line(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "__init__.py").write_text("assignment = 42\n")
    with pytest.raises(AssignmentError, match=r"must define `assignment = Assignment\(id='broken'"):
        load("broken", [tmp_path])


def _grade(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course),
                           "--jobs", "2", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def two_assignments(tmp_path_factory) -> Path:
    """A course with conv_layers (two students) and layer_basics (its synthetic class: a
    correct student, one per mutant, a blank release), and an assignment with a submission
    but no grading folder; graded once with the real CLI."""
    course = tmp_path_factory.mktemp("two") / "course"
    good = conv_mutants.student_answers(REPO / "assignments" / CONV / f"{CONV}.ipynb")
    demo.make_course(course, {CONV: {"correct": good, "blank": None}})
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write(f"\nc.Grading.assignment_dirs = [{str(EXAMPLE)!r}]\n")
    shutil.copytree(EXAMPLE / "source" / BASICS, course / "source" / BASICS)
    # The release is generated the way an instructor does it, then filled in by students.
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", BASICS, "--force"],
                   cwd=course, check=True, capture_output=True)
    release_nb = course / "assignments" / BASICS / f"{BASICS}.ipynb"
    for sid, answers in load(BASICS, [EXAMPLE]).synthetic_class(release_nb).items():
        d = course / "submitted" / sid / BASICS
        d.mkdir(parents=True)
        nbformat.write(fill(release_nb, answers), str(d / f"{BASICS}.ipynb"))
    (course / "source" / "essay").mkdir()
    shutil.copy(release_nb, course / "source" / "essay" / "essay.ipynb")
    (course / "submitted" / "correct" / "essay").mkdir()
    proc = _grade(course)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (course / "grade.log").write_text(proc.stdout + proc.stderr)
    return course


def test_every_assignment_with_a_grading_folder_is_graded(two_assignments):
    log = (two_assignments / "grade.log").read_text()
    assert "graded 7 submissions (0 unchanged)" in log
    assert "essay has submissions but is not graded: no grading folder for assignment 'essay'" in log
    with Gradebook(f"sqlite:///{two_assignments}/gradebook.db") as gb:
        assert sorted(a.name for a in gb.assignments) == [CONV, BASICS]
        assert gb.find_submission(CONV, "correct").score == 100
        assert gb.find_submission(BASICS, "correct").score == 20
        assert gb.find_submission(BASICS, "blank").score == 0


def test_each_mutant_of_the_example_loses_its_points_and_is_named(two_assignments):
    basics = load(BASICS, [EXAMPLE])
    rows = read_grades(two_assignments / "grades.csv", BASICS)
    from autograder.grading.pipeline import db_url_for, load_config
    from autograder.reporting.grades import collect
    config = load_config((two_assignments / "nbgrader_config.py").read_text())
    verdicts = {r.student_id: r.verdicts for r in collect(two_assignments,
                                                          db_url_for(two_assignments, config), basics)}
    mutants = importlib.import_module(f"autograder.assignments.{BASICS}.mutants")
    assert rows["correct"]["total"] == "20" and rows["correct"]["status"] == "ok"
    for m in mutants.MUTANTS:
        row = rows[f"mistake_{m.name}"]
        for task in basics.tasks:
            lost = float(row[task.name]) < task.points
            assert lost == (task.name in m.broken), (m.name, task.name, row)
        named = {c["mistake"] for t in m.broken for c in verdicts[f"mistake_{m.name}"][t]["cases"]
                 if not c["passed"]}
        assert named == {m.name}, (m.name, named)
    blank = {c["mistake"] for v in verdicts["blank"].values() for c in v["cases"]}
    assert blank == {"not_implemented"}


def test_grades_csv_and_the_lms_csv_have_columns_per_assignment_and_task(two_assignments):
    with open(two_assignments / "grades.csv") as fh:
        header = next(csv.reader(fh))
    conv, basics = load(CONV), load(BASICS, [EXAMPLE])
    for a in (conv, basics):
        assert [a.id] + [f"{a.id}/{t.name}" for t in a.tasks] + [
            f"{a.id}/max_score", f"{a.id}/status"] == header[header.index(a.id):][:len(a.tasks) + 3]
    conv_rows = read_grades(two_assignments / "grades.csv", CONV)
    assert sorted(conv_rows) == ["blank", "correct"]      # the others did not submit it
    with open(two_assignments / "grades.csv") as fh:
        statuses = {r["student_id"]: r[f"{CONV}/status"] for r in csv.DictReader(fh)}
    assert statuses["mistake_bias_missing"] == "not submitted"
    with open(two_assignments / "lms_grades.csv") as fh:
        lms = {r["SIS User ID"]: r for r in csv.DictReader(fh)}
    assert lms["correct"][CONV] == "100" and lms["correct"][BASICS] == "20"
    assert lms["mistake_bias_missing"][CONV] == ""
    assert lms["mistake_bias_missing"][f"{BASICS}/affine_forward"] == "0"


def test_the_class_report_has_a_section_per_assignment(two_assignments):
    html = (two_assignments / "report" / "index.html").read_text()
    for a in (CONV, BASICS):
        assert f'<section id="{a}">' in html and f'<a href="#{a}">{a}</a>' in html
        assert (two_assignments / "report" / a / "score_histogram.png").stat().st_size > 1000
    section = html.split(f'<section id="{BASICS}">', 1)[1].split("</section>", 1)[0]
    assert "<code>bias_missing</code>" in section and "conv_forward_naive" not in section


def test_one_assignment_can_be_regraded_alone(two_assignments):
    proc = _grade(two_assignments, "--assignment", BASICS, "--force")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "graded 5 submissions (0 unchanged)" in proc.stdout
    proc = _grade(two_assignments, "--assignment", "nope")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: no assignment nope in {two_assignments}/source (it holds {CONV}, essay, {BASICS})")
