"""Tests for autograder/submission.py: picking and parsing the submitted notebook
(``read_notebook``), rebuilding the graded notebook from the release (``rebuild``) and the
code the tampering scan looks at (``student_cells``).
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings, strategies as st

from autograder.assignments.conv_layers.mutants import load_answer_sources
from autograder.grading.submission import Submission, SubmissionError, read_notebook, rebuild, student_cells
from autograder.verifying.tampering import StudentCell
from autograder.assignments.conv_layers.tasks import NOTEBOOK, TASKS

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "source" / "conv_layers" / "conv_layers.ipynb"
RELEASE_NB = REPO / "assignments" / "conv_layers" / "conv_layers.ipynb"
WANTED = f"{NOTEBOOK}.ipynb"
MAX = 2**20
ANSWER_IDS = [t.name for t in TASKS]
_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)
_SOLUTION = re.compile(r"^(\s*)### BEGIN SOLUTION\n.*?### END SOLUTION\n", re.MULTILINE | re.DOTALL)


def gid(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _make_release(tmp: Path) -> Path:
    """Fallback when the release has not been generated: the source with the solution
    regions replaced by the stub nbgrader writes."""
    nb = nbformat.read(str(SOURCE_NB), as_version=4)
    for cell in nb.cells:
        cell.source = _SOLUTION.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()\n", cell.source)
        cell.source = re.sub(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", "",
                             cell.source, flags=re.DOTALL)
    path = tmp / "conv_layers.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> nbformat.NotebookNode:
    path = RELEASE_NB if RELEASE_NB.exists() else _make_release(tmp_path_factory.mktemp("release"))
    return nbformat.read(str(path), as_version=4)


@pytest.fixture(scope="module")
def answers() -> dict[str, str]:
    """The solution as a student would write it."""
    return {k: _MARKERS.sub("", v) for k, v in load_answer_sources(SOURCE_NB).items()}


@pytest.fixture()
def student(release, answers):
    """The release with every answer cell filled in, as handed in."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if gid(cell) in answers:
            cell.source = answers[gid(cell)]
    return nb


def to_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def do_rebuild(nb, release, notes=()):
    out = rebuild(Submission(nb, list(notes)), release)
    nbformat.validate(out.notebook)
    return out


def cell_by_id(nb, grade_id):
    cells = [c for c in nb.cells if gid(c) == grade_id]
    assert len(cells) == 1, f"{len(cells)} cells with grade_id {grade_id}"
    return cells[0]


def layout(nb):
    return [(c.cell_type, gid(c)) for c in nb.cells]


# --------------------------------------------------------------------------- read_notebook

class TestReadNotebookChoice:
    def test_picks_the_assignment_notebook(self, student):
        sub = read_notebook({WANTED: to_bytes(student), "timestamp.txt": b"2026"}, NOTEBOOK, MAX)
        assert sub.notes == []
        assert [c.source for c in sub.notebook.cells] == [c.source for c in student.cells]

    def test_notes_extra_notebooks_and_files(self, student):
        files = {WANTED: to_bytes(student), "scratch.ipynb": b"{}", "b.ipynb": b"junk",
                 "README.md": b"hi", "data/x.npy": b"\x93NUMPY", "timestamp.txt": b"2026"}
        sub = read_notebook(files, NOTEBOOK, MAX)
        assert "extra notebooks ignored: b.ipynb, scratch.ipynb" in sub.notes
        assert "extra files are not used for grading: README.md (2 bytes), data/x.npy (6 bytes)" \
            in sub.notes
        assert not any("timestamp" in n for n in sub.notes)
        assert len(sub.notebook.cells) == len(student.cells)

    def test_single_renamed_notebook_is_graded_with_a_note(self, student):
        sub = read_notebook({"conv_layers (1).ipynb": to_bytes(student)}, NOTEBOOK, MAX)
        assert sub.notes == [f"{WANTED} is missing; graded the one notebook submitted, "
                             "conv_layers (1).ipynb"]
        assert len(sub.notebook.cells) == len(student.cells)

    @pytest.mark.parametrize("files, found", [({}, "nothing"),
                                              ({"timestamp.txt": b"x"}, "timestamp.txt"),
                                              ({"conv_layers.py": b"", "a.txt": b""},
                                               "a.txt, conv_layers.py")])
    def test_no_notebook(self, files, found):
        with pytest.raises(SubmissionError) as exc:
            read_notebook(files, NOTEBOOK, MAX)
        assert str(exc.value) == f"no notebook submitted: expected {WANTED}, found {found}"

    def test_several_unknown_notebooks(self, student):
        files = {"mine.ipynb": to_bytes(student), "copy.ipynb": to_bytes(student)}
        with pytest.raises(SubmissionError) as exc:
            read_notebook(files, NOTEBOOK, MAX)
        msg = str(exc.value)
        assert msg.startswith(f"{WANTED} is missing and several notebooks were submitted")
        assert "copy.ipynb, mine.ipynb" in msg and "cannot tell which one to grade" in msg


class TestReadNotebookParsing:
    def test_too_large(self, student):
        data = to_bytes(student)
        data = data[:-2] + b" " * (3 * MAX) + data[-2:]
        with pytest.raises(SubmissionError) as exc:
            read_notebook({WANTED: data}, NOTEBOOK, MAX)
        assert str(exc.value) == (f"{WANTED} is 3.0 MiB; the limit is 1 MiB "
                                  "(clear large outputs and resubmit)")

    def test_exactly_the_limit_is_fine(self, student):
        data = to_bytes(student)
        sub = read_notebook({WANTED: data}, NOTEBOOK, len(data))
        assert len(sub.notebook.cells) == len(student.cells)

    def test_not_utf8(self, student):
        data = to_bytes(student)
        bad = data[:40] + b"\xff\xfe" + data[40:]
        with pytest.raises(SubmissionError) as exc:
            read_notebook({WANTED: bad}, NOTEBOOK, MAX)
        assert str(exc.value) == f"{WANTED} is not UTF-8 text (invalid byte at offset 40)"

    @pytest.mark.parametrize("data, line, col", [
        (b'{\n  "cells": [\n    1,,\n', 3, 7),
        (b'{"cells": [], "metadata": {}', 1, 29),
        (b"nope", 1, 1),
    ])
    def test_invalid_json_gives_line_and_column(self, data, line, col):
        with pytest.raises(SubmissionError) as exc:
            read_notebook({WANTED: data}, NOTEBOOK, MAX)
        msg = str(exc.value)
        assert msg.startswith(f"{WANTED} is not valid JSON (line {line}, column {col}: ")
        assert msg.endswith("the file is damaged")

    def test_truncated_notebook(self, student):
        data = to_bytes(student)
        with pytest.raises(SubmissionError, match=r"is not valid JSON \(line \d+, column \d+"):
            read_notebook({WANTED: data[: len(data) // 2]}, NOTEBOOK, MAX)

    @pytest.mark.parametrize("data", [b"[1, 2]", b'"cells"', b"42", b"null",
                                      b'{"metadata": {}, "nbformat": 4}'])
    def test_json_that_is_not_a_notebook(self, data):
        with pytest.raises(SubmissionError) as exc:
            read_notebook({WANTED: data}, NOTEBOOK, MAX)
        assert str(exc.value) == f"{WANTED} is JSON but not a Jupyter notebook"

    @pytest.mark.parametrize("data", [b'{"cells": 5}', b'{"cells": [], "nbformat": 4}'])
    def test_unreadable_notebook(self, data):
        with pytest.raises(SubmissionError) as exc:
            read_notebook({WANTED: data}, NOTEBOOK, MAX)
        assert str(exc.value).startswith(f"{WANTED} is not a readable Jupyter notebook (")
        assert "\n" not in str(exc.value)

    def test_empty_file(self):
        with pytest.raises(SubmissionError, match=f"^{WANTED} is empty$"):
            read_notebook({WANTED: b""}, NOTEBOOK, MAX)

    def test_files_that_are_not_read_are_named_with_their_size(self, student):
        sub = read_notebook({WANTED: to_bytes(student)}, NOTEBOOK, MAX,
                            others={"data/train.npz": 3 * 2**20, "notes.txt": 2048},
                            refused={"helper.py": "a symbolic link", "pipe": "a FIFO (named pipe)"})
        assert sub.notes == ["not followed or read: helper.py (a symbolic link), pipe (a FIFO "
                             "(named pipe))",
                             "extra files are not used for grading: data/train.npz (3.0 MiB), "
                             "notes.txt (2 KiB)"]

    @pytest.mark.parametrize("what", ["a symbolic link", "a FIFO (named pipe)"])
    def test_a_link_or_special_file_in_place_of_the_notebook(self, what):
        with pytest.raises(SubmissionError) as exc:
            read_notebook({}, NOTEBOOK, MAX, refused={WANTED: what})
        assert str(exc.value) == (f"{WANTED} is {what}, not the notebook itself; links and "
                                  "special files are not followed (submit the notebook file)")

    def test_nbformat3_is_converted(self, answers):
        v3 = nbformat.v3
        nb3 = v3.new_notebook(metadata=v3.new_metadata(), worksheets=[v3.new_worksheet(cells=[
            v3.new_text_cell("markdown", source="# my notebook"),
            v3.new_code_cell(input=answers["conv_forward_naive"]),
        ])])
        text = nbformat.writes(nb3, version=3)
        assert json.loads(text)["nbformat"] == 3
        sub = read_notebook({WANTED: text.encode()}, NOTEBOOK, MAX)
        assert sub.notes == ["converted from nbformat 3 to 4"]
        assert sub.notebook.nbformat == 4
        assert [c.cell_type for c in sub.notebook.cells] == ["markdown", "code"]
        assert sub.notebook.cells[1].source == answers["conv_forward_naive"]

    @settings(max_examples=40, deadline=None)
    @given(st.binary(max_size=300))
    def test_arbitrary_bytes_parse_or_raise_submission_error(self, data):
        try:
            sub = read_notebook({WANTED: data}, NOTEBOOK, MAX)
        except SubmissionError as exc:
            assert str(exc).startswith(WANTED)
        else:
            assert sub.notebook.nbformat == 4


# --------------------------------------------------------------------------- rebuild

class TestRebuildAnswers:
    def test_release_fixture_is_a_release(self, release):
        ids = [gid(c) for c in release.cells]
        for name in ANSWER_IDS:
            assert name in ids and f"test_{name}" in ids
            assert "NotImplementedError" in cell_by_id(release, name).source

    def test_answers_found_by_grade_id(self, student, release, answers):
        out = do_rebuild(student, release, ["a note from read_notebook"])
        assert out.notes == ["a note from read_notebook"]
        assert layout(out.notebook) == layout(release)
        for name in ANSWER_IDS:
            assert cell_by_id(out.notebook, name).source == answers[name]
        for cell, rel in zip(out.notebook.cells, release.cells):
            if gid(cell) not in answers:
                assert cell.source == rel.source
                assert cell.metadata == rel.metadata

    def test_answers_found_by_def_when_metadata_stripped(self, student, release, answers):
        for cell in student.cells:
            if gid(cell) in ("conv_backward_naive", "max_pool_forward_naive"):
                cell.metadata = {}
        out = do_rebuild(student, release)
        assert layout(out.notebook) == layout(release)
        for name in ANSWER_IDS:
            assert cell_by_id(out.notebook, name).source == answers[name]
        for name in ("conv_backward_naive", "max_pool_forward_naive"):
            assert any(f"answer cell {name} was recognized by its `def {name}(`" in n
                       and "metadata was missing or edited" in n for n in out.notes)
        assert len(out.notes) == 2

    @pytest.mark.parametrize("prefix", ["# my solution, v2\n", "import numpy as np\n\n",
                                        '"""Task 2."""\n'],
                             ids=["comment", "import", "docstring"])
    def test_answer_with_stripped_metadata_not_starting_with_def(self, student, release,
                                                                  answers, prefix):
        # Otherwise the cell becomes an "added" cell placed *before* the release stub,
        # which then redefines the function as `raise NotImplementedError`.
        cell = next(c for c in student.cells if gid(c) == "conv_backward_naive")
        cell.metadata = {}
        cell.source = prefix + answers["conv_backward_naive"]
        out = do_rebuild(student, release)
        assert cell_by_id(out.notebook, "conv_backward_naive").source == cell.source
        assert not any("not implemented" in n for n in out.notes), out.notes

    def test_answers_found_by_def_when_grade_id_edited(self, student, release, answers):
        cell = next(c for c in student.cells if gid(c) == "max_pool_backward_naive")
        cell.metadata.nbgrader.grade_id = "cell-8f3a2b"
        out = do_rebuild(student, release)
        assert cell_by_id(out.notebook, "max_pool_backward_naive").source == \
            answers["max_pool_backward_naive"]
        assert len(out.notebook.cells) == len(release.cells)
        assert any("recognized by its `def max_pool_backward_naive(`" in n for n in out.notes)

    def test_all_metadata_stripped(self, student, release, answers):
        # e.g. every cell copied into a fresh notebook
        for cell in student.cells:
            cell.metadata = {}
        out = do_rebuild(student, release)
        for name in ANSWER_IDS:
            assert cell_by_id(out.notebook, name).source == answers[name]
            assert cell_by_id(out.notebook, f"test_{name}").metadata == \
                cell_by_id(release, f"test_{name}").metadata
        kept = [(c.cell_type, gid(c)) for c in out.notebook.cells if gid(c) is not None]
        assert kept == layout(release)
        assert sum("recognized by its `def" in n for n in out.notes) == 4

    def test_nbformat3_submission_rebuilt_by_def(self, release, answers):
        v3 = nbformat.v3
        cells = [v3.new_code_cell(input="import numpy as np")]
        cells += [v3.new_code_cell(input=answers[name]) for name in ANSWER_IDS]
        text = nbformat.writes(v3.new_notebook(metadata=v3.new_metadata(),
                                               worksheets=[v3.new_worksheet(cells=cells)]), version=3)
        sub = read_notebook({WANTED: text.encode()}, NOTEBOOK, MAX)
        out = rebuild(sub, release)
        nbformat.validate(out.notebook)
        assert out.notes[0] == "converted from nbformat 3 to 4"
        for name in ANSWER_IDS:
            assert cell_by_id(out.notebook, name).source == answers[name]

    def test_duplicated_answer_last_wins(self, student, release, answers):
        i = next(i for i, c in enumerate(student.cells) if gid(c) == "conv_forward_naive")
        second = copy.deepcopy(student.cells[i])
        second.source = answers["conv_forward_naive"] + "\n# second version\n"
        student.cells.insert(i + 4, second)
        out = do_rebuild(student, release)
        assert cell_by_id(out.notebook, "conv_forward_naive").source.endswith("# second version\n")
        assert out.notes == ["answer cell conv_forward_naive appears more than once; "
                             "the last one is graded"]
        assert layout(out.notebook) == layout(release)

    def test_missing_answer_keeps_the_release_stub(self, student, release, answers):
        student.cells = [c for c in student.cells if gid(c) != "max_pool_backward_naive"]
        out = do_rebuild(student, release)
        assert out.notes == ["answer cells missing, graded as not implemented: "
                             "max_pool_backward_naive"]
        stub = cell_by_id(out.notebook, "max_pool_backward_naive")
        assert stub.source == cell_by_id(release, "max_pool_backward_naive").source
        assert "raise NotImplementedError" in stub.source
        assert layout(out.notebook) == layout(release)
        for name in ANSWER_IDS[:3]:
            assert cell_by_id(out.notebook, name).source == answers[name]

    def test_blank_release_rebuilds_to_itself(self, release):
        out = do_rebuild(copy.deepcopy(release), release)
        assert out.notes == []
        assert [c.source for c in out.notebook.cells] == [c.source for c in release.cells]


class TestRebuildStructure:
    def test_deleted_test_and_locked_cells_come_back(self, student, release, answers):
        student.cells = [c for c in student.cells
                         if gid(c) in answers or c.cell_type == "markdown"]
        out = do_rebuild(student, release)
        assert out.notes == []
        assert layout(out.notebook) == layout(release)
        for name in ANSWER_IDS:
            assert cell_by_id(out.notebook, f"test_{name}").source == \
                cell_by_id(release, f"test_{name}").source
        assert cell_by_id(out.notebook, "setup").source == cell_by_id(release, "setup").source

    @settings(max_examples=10, deadline=None)
    @given(st.randoms(use_true_random=False))
    def test_reordered_cells_rebuilt_in_release_order(self, release, answers, rnd):
        nb = copy.deepcopy(release)
        for cell in nb.cells:
            if gid(cell) in answers:
                cell.source = answers[gid(cell)]
        rnd.shuffle(nb.cells)
        out = do_rebuild(nb, release)
        assert out.notes == []
        assert layout(out.notebook) == layout(release)
        for name in ANSWER_IDS:
            assert cell_by_id(out.notebook, name).source == answers[name]

    def test_test_cell_turned_into_markdown(self, student, release):
        cell = next(c for c in student.cells if gid(c) == "test_conv_forward_naive")
        cell.cell_type = "markdown"
        cell.source = "nothing to see here"
        del cell["outputs"], cell["execution_count"]
        out = do_rebuild(student, release)
        restored = cell_by_id(out.notebook, "test_conv_forward_naive")
        assert restored.cell_type == "code"
        assert restored.source == cell_by_id(release, "test_conv_forward_naive").source
        assert restored.metadata == cell_by_id(release, "test_conv_forward_naive").metadata

    @pytest.mark.parametrize("grade_id", ["test_max_pool_backward_naive", "setup",
                                          "check_conv_backward_naive_1"])
    def test_edited_locked_cell_uses_release(self, student, release, grade_id):
        cell = next(c for c in student.cells if gid(c) == grade_id)
        cell.source = "import autograder_harness\nautograder_harness.check = lambda *a: 25"
        cell.metadata.nbgrader["locked"] = False
        cell.metadata.nbgrader["points"] = 1000
        out = do_rebuild(student, release)
        restored = cell_by_id(out.notebook, grade_id)
        assert restored.source == cell_by_id(release, grade_id).source
        assert restored.metadata == cell_by_id(release, grade_id).metadata
        assert "autograder_harness.check = " not in "\n".join(c.source for c in out.notebook.cells)

    def test_student_cells_stay_after_their_answer(self, student, release, answers):
        new = nbformat.v4.new_code_cell
        i = next(i for i, c in enumerate(student.cells) if gid(c) == "conv_backward_naive")
        student.cells.insert(i + 1, new("def _helper(a):\n    return a"))
        student.cells.insert(i + 2, new("print('debug')"))
        j = next(i for i, c in enumerate(student.cells) if gid(c) == "test_max_pool_forward_naive")
        student.cells.insert(j + 1, new("CONST = 3"))   # after the answer's check and test cells
        student.cells.append(new("print('the end')"))
        out = do_rebuild(student, release)
        nbformat.validate(out.notebook)
        sources = [c.source for c in out.notebook.cells]
        k = sources.index(answers["conv_backward_naive"])
        assert sources[k + 1:k + 3] == ["def _helper(a):\n    return a", "print('debug')"]
        k = sources.index(answers["max_pool_backward_naive"])
        assert sources[k + 1] == "print('the end')"
        k = sources.index(answers["max_pool_forward_naive"])
        assert sources[k + 1] == "CONST = 3"
        assert len(out.notebook.cells) == len(release.cells) + 4
        # The release's cells keep their order around the added ones.
        kept = [(c.cell_type, gid(c)) for c in out.notebook.cells if gid(c) is not None]
        assert kept == layout(release)

    def test_cells_before_the_first_answer_go_before_it(self, student, release, answers):
        new = nbformat.v4.new_code_cell
        student.cells.insert(0, new("import scipy  # before everything"))
        setup = next(i for i, c in enumerate(student.cells) if gid(c) == "setup")
        student.cells.insert(setup + 1, new("np.set_printoptions(precision=3)"))
        out = do_rebuild(student, release)
        sources = [c.source for c in out.notebook.cells]
        k = sources.index(answers["conv_forward_naive"])
        assert sources[k - 2:k] == ["import scipy  # before everything",
                                    "np.set_printoptions(precision=3)"]
        # after the release's setup cell, which defines np
        assert sources.index(cell_by_id(release, "setup").source) < k - 2

    def test_student_markdown_cells_are_dropped(self, student, release):
        student.cells.insert(4, nbformat.v4.new_markdown_cell("my notes"))
        out = do_rebuild(student, release)
        assert "my notes" not in [c.source for c in out.notebook.cells]
        assert layout(out.notebook) == layout(release)

    def test_rebuilt_notebook_is_valid_and_has_unique_ids(self, student, release):
        student.cells.insert(5, nbformat.v4.new_code_cell("x = 1"))
        out = do_rebuild(student, release)
        nbformat.validate(out.notebook)
        ids = [c.id for c in out.notebook.cells]
        assert len(ids) == len(set(ids))
        assert out.notebook.metadata == release.metadata
        # The release is not modified by rebuilding.
        assert "x = 1" not in [c.source for c in release.cells]
        assert all("NotImplementedError" in cell_by_id(release, n).source for n in ANSWER_IDS)

    def test_rebuilt_notebook_round_trips_through_json(self, student, release):
        out = do_rebuild(student, release)
        again = nbformat.reads(nbformat.writes(out.notebook), as_version=4)
        nbformat.validate(again)
        assert [c.source for c in again.cells] == [c.source for c in out.notebook.cells]


# --------------------------------------------------------------------------- student_cells

class TestStudentCode:
    def test_excludes_locked_release_cells(self, student, release, answers):
        student.cells.insert(4, nbformat.v4.new_code_cell("HELPER = 1"))
        out = do_rebuild(student, release)
        cells = student_cells(out.notebook, release)
        code = "\n\n".join(c.source for c in cells)
        for name in ANSWER_IDS:
            assert StudentCell(name, answers[name]) in cells
        assert StudentCell("own cell after conv_forward_naive", "HELPER = 1") in cells
        locked = [c for c in release.cells
                  if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")]
        assert locked
        for cell in locked:
            assert cell.source not in code
        assert "%matplotlib" not in code          # the setup cell's magic is not the student's
        assert "from conv_helpers import" not in code

    def test_blank_release_has_only_stubs(self, release):
        stubs = [cell_by_id(release, n).source for n in ANSWER_IDS]
        assert [c.source for c in student_cells(release, release)] == stubs

    def test_markdown_is_not_code(self, release):
        nb = copy.deepcopy(release)
        nb.cells.append(nbformat.v4.new_markdown_cell("import subprocess"))
        assert "import subprocess" not in "\n".join(c.source for c in student_cells(nb, release))

    def test_own_cells_are_labelled_by_the_answer_they_follow(self, student, release):
        i = next(i for i, c in enumerate(student.cells) if gid(c) == "conv_backward_naive")
        student.cells.insert(i + 1, nbformat.v4.new_code_cell("def _helper(a):\n    return a"))
        cells = student_cells(do_rebuild(student, release).notebook, release)
        assert StudentCell("own cell after conv_backward_naive",
                           "def _helper(a):\n    return a") in cells
