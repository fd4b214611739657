"""Tests for autograder/intake.py on real files: links (to files and to directories, at
every level), FIFOs, sockets and large extra files are neither followed nor read."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from autograder.grading.intake import read_submitted
from autograder.assignments.conv_layers.tasks import ASSIGNMENT
from autograder.grading.pipeline import discover

A = "conv_layers"
NB = f"{A}.ipynb"


@pytest.fixture
def course(tmp_path) -> Path:
    secret = tmp_path / "instructor"
    (secret / A).mkdir(parents=True)
    (secret / A / NB).write_text('{"secret": "solution"}')
    (tmp_path / "submitted").mkdir()
    return tmp_path


def student(course: Path, sid: str) -> Path:
    d = course / "submitted" / sid / A
    d.mkdir(parents=True)
    return d


def listings(course: Path, limit: int = 2**20) -> dict:
    return dict(read_submitted(course, A, limit))


def test_reads_only_what_grading_uses(course):
    d = student(course, "s")
    (d / NB).write_bytes(b"{}")
    (d / "timestamp.txt").write_text("2026-12-01 10:00:00")
    (d / "data").mkdir()
    with open(d / "data" / "big.npy", "wb") as fh:     # sparse: 100 MB on paper
        fh.truncate(100 * 2**20)
    (d / "helper.py").write_text("x = 1")
    (d / ".ipynb_checkpoints").mkdir()
    (d / ".ipynb_checkpoints" / NB).write_text("old")
    got = listings(course)["s"]
    assert got.files == {NB: b"{}", "timestamp.txt": b"2026-12-01 10:00:00"}
    assert got.others == {"data/big.npy": 100 * 2**20, "helper.py": 5}
    assert got.refused == {} and got.problem == ""


def test_a_notebook_that_is_a_link_is_not_followed(course):
    d = student(course, "s")
    (d / NB).symlink_to(course / "instructor" / A / NB)
    got = listings(course)["s"]
    assert got.files == {} and got.refused == {NB: "a symbolic link"}


def test_an_assignment_directory_that_is_a_link(course):
    (course / "submitted" / "s").mkdir()
    (course / "submitted" / "s" / A).symlink_to(course / "instructor" / A)
    got = listings(course)["s"]
    assert got.files == {}
    assert got.problem == f"the submission directory {A} is a symbolic link, which is not followed"


def test_a_student_directory_that_is_a_link(course):
    (course / "submitted" / "s").symlink_to(course / "instructor")
    got = listings(course)["s"]
    assert got.problem == "submitted/s is a symbolic link, which is not followed"


def test_links_below_are_listed_not_followed(course):
    d = student(course, "s")
    (d / NB).write_bytes(b"{}")
    (d / "solution.py").symlink_to(course / "instructor" / A / NB)
    (d / "linked_dir").symlink_to(course / "instructor")
    (d / "sub").mkdir()
    (d / "sub" / "deep.ipynb").symlink_to("/etc/shadow")
    got = listings(course)["s"]
    assert got.files == {NB: b"{}"}
    assert got.refused == {"solution.py": "a symbolic link", "linked_dir": "a symbolic link",
                           "sub/deep.ipynb": "a symbolic link"}


def test_special_files_are_not_opened(course):
    d = student(course, "s")
    os.mkfifo(d / NB)               # reading it would block forever
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(d / "sock"))
        got = listings(course)["s"]
    assert got.refused == {NB: "a FIFO (named pipe)", "sock": "a socket"}


def test_a_notebook_is_read_only_up_to_the_limit(course):
    d = student(course, "s")
    (d / NB).write_bytes(b"x" * 5000)
    assert listings(course, limit=1001)["s"].files[NB] == b"x" * 1001


def test_discover_digest_changes_with_any_file(course):
    d = student(course, "s")
    (d / NB).write_bytes(b"{}")
    first = discover(course, ASSIGNMENT, 100, "f")[0]
    (d / "extra.bin").write_bytes(b"12")
    second = discover(course, ASSIGNMENT, 100, "f")[0]
    assert first.digest != second.digest and second.others == {"extra.bin": 2}
    assert discover(course, ASSIGNMENT, 100, "g")[0].digest != second.digest
