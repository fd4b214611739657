"""The worker's scratch gradebook dialect: nbgrader's Gradebook works on it as on plain
SQLite, its connections share one compiled-statement cache (a query compiled for one
gradebook file is not compiled again for another), and it does not wait for the disk."""
from __future__ import annotations

import shutil

from nbgrader.api import Gradebook
from sqlalchemy import text

from autograder.grading import scratch_gradebook


def make_gradebook(path) -> None:
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("a1")
        gb.add_student("s1")


def test_nbgrader_reads_and_writes_a_scratch_gradebook_as_plain_sqlite(tmp_path):
    make_gradebook(tmp_path / "plain.db")
    with Gradebook(scratch_gradebook.url(tmp_path / "plain.db")) as gb:
        gb.add_student("s2", first_name="Ada")
        assert gb.find_assignment("a1").name == "a1"
    # What the scratch dialect wrote, plain SQLite reads back.
    with Gradebook(f"sqlite:///{tmp_path / 'plain.db'}") as gb:
        assert sorted(s.id for s in gb.students) == ["s1", "s2"]
        assert gb.find_student("s2").first_name == "Ada"


def test_the_connections_of_a_process_share_their_compiled_statements(tmp_path):
    make_gradebook(tmp_path / "one.db")
    shutil.copy(tmp_path / "one.db", tmp_path / "two.db")
    with Gradebook(scratch_gradebook.url(tmp_path / "one.db")) as gb:
        gb.find_student("s1")
        gb.find_assignment("a1")
    cached = len(scratch_gradebook._COMPILED)
    assert cached > 0
    with Gradebook(scratch_gradebook.url(tmp_path / "two.db")) as gb:
        assert gb.find_student("s1").id == "s1"
        assert gb.find_assignment("a1").name == "a1"
        # Another file and another engine, the same statements: nothing compiled anew.
        assert len(scratch_gradebook._COMPILED) == cached
        # A plain SQLite engine of nbgrader's keeps its own cache, as SQLAlchemy's do.
    with Gradebook(f"sqlite:///{tmp_path / 'two.db'}") as gb:
        gb.find_student("s1")
    assert len(scratch_gradebook._COMPILED) == cached


def test_a_scratch_gradebook_does_not_wait_for_the_disk(tmp_path):
    make_gradebook(tmp_path / "g.db")
    with Gradebook(scratch_gradebook.url(tmp_path / "g.db")) as gb:
        assert gb.db.execute(text("PRAGMA synchronous")).scalar() == 0
        assert gb.db.execute(text("PRAGMA journal_mode")).scalar() == "memory"
