"""``collect``: Canvas and Moodle archives generated here, honest and malicious, into
nbgrader's layout; then one small class from a Canvas archive to lms_grades.csv."""
from __future__ import annotations

import csv
import shutil
import struct
import subprocess
import sys
import warnings
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import cli

from autograder import demo

from autograder.assignments.conv_layers import mutants
from autograder.grading.collect import CanvasCollector, MoodleCollector, collect_archive
from autograder.grading.pipeline import CourseError, empty_gradebook
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK
from conftest import REPO

NOON = (2026, 11, 20, 12, 0, 0)
UTC_FIELD_TIME = 1_795_595_400      # 2026-11-25 08:30:00 UTC
STUDENTS = {  # the course's gradebook: student id -> nbgrader student fields
    "alice": dict(lms_user_id="101", first_name="Alice", last_name="Smith"),
    "bob": dict(lms_user_id="102", first_name="Bob", last_name="Jones"),
    "carol": dict(lms_user_id="103"),
    "eve": dict(lms_user_id="105"),
    "frank": dict(lms_user_id="106"),
    "grace": dict(lms_user_id="107"),
}


def make_course(root: Path, config: str = "") -> Path:
    course = root / "course"
    course.mkdir()
    shutil.copytree(REPO / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    (course / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + config)
    (course / "gradebook.db").write_bytes(empty_gradebook())
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for sid, fields in STUDENTS.items():
            gb.add_student(sid, **fields)
    return course


@pytest.fixture
def course(tmp_path) -> Path:
    return make_course(tmp_path)


def member(name: str, data: bytes | str, when=NOON, mode: int = 0o100644,
           extra: bytes = b"") -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name, when)
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.extra = extra
    return info, data.encode() if isinstance(data, str) else data


def write_zip(path: Path, members: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name")
        with zipfile.ZipFile(path, "w") as zf:
            for info, data in members:
                zf.writestr(info, data)
    return path


def nb(tag: str) -> str:
    return '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "tag": "%s"}' % tag


def submission(course: Path, sid: str) -> dict[str, bytes]:
    root = course / "submitted" / sid / ASSIGNMENT
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def outside_submitted(root: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``root`` but not below course/submitted (and not the course lock)."""
    out = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if not rel.startswith("course/submitted") and rel != "course/.autograder.lock" \
                and (p.is_file() or p.is_symlink()):
            st = p.lstat()
            out[rel] = (st.st_size, st.st_mtime_ns)
    return out


def canvas_roster(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """Canvas's gradebook export: a points-possible row, then (name, Canvas ID, SIS User ID)."""
    lines = ["Student,ID,SIS User ID,SIS Login ID,Section,conv_layers (1234)",
             "    Points Possible,,,,,100"]
    lines += [f'"{name}",{lms},{sid},{sid}@example.edu,Sec 1,' for name, lms, sid in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def lines_of(report, kind: str) -> list[str]:
    return [line for line in report.lines() if line.startswith(f"{kind}: ")]


def test_canvas_archive_late_resubmitted_unknown_roster_and_malicious(course, tmp_path):
    archive = write_zip(tmp_path / "submissions.zip", [
        member("smithalice_101_9001_conv_layers.ipynb", nb("alice")),
        member("smithalice_101_9002_data.csv", "x,y\n", when=(2026, 11, 20, 12, 5, 0)),
        member("jonesbob_LATE_102_9003_my_solution.ipynb", nb("bob"), when=(2026, 11, 21, 9, 0, 0)),
        member("doecarol_103_9004_conv_layers.ipynb", nb("carol-first"),
               when=(2026, 11, 20, 11, 0, 0)),
        member("doecarol_103_9005_conv_layers-1.ipynb", nb("carol-second"),
               when=(2026, 11, 20, 11, 30, 0)),
        member("doecarol_103_9006_conv_helpers-1.py", "# helper\n"),
        member("doedave_104_9007_conv_layers.ipynb", nb("dave")),
        member("nobody_999_9008_conv_layers.ipynb", nb("stranger")),
        member("../escape.ipynb", nb("escape")),
        member("/abs.ipynb", nb("abs")),
        member("C:/drive.ipynb", nb("drive")),
        member("..\\windows.ipynb", nb("backslash")),
        member("eve_105_9009_conv_layers.ipynb", "../../../../etc/passwd", mode=0o120777),
        member("frank_106_9010_conv_layers.ipynb", nb("frank-a")),
        member("frank_106_9010_conv_layers.ipynb", nb("frank-b")),
        member("smithalice_101_9011_timestamp.txt", "1999-01-01 00:00:00 UTC"),
        member("README.txt", "not a submission"),
    ])
    roster = canvas_roster(tmp_path / "roster.csv", [("Doe, Dave", "104", "dave"),
                                                     ("Smith, Alicia", "101", "alicia")])
    before = outside_submitted(tmp_path)
    report = collect_archive(course, archive, roster=roster)

    assert report.lms == "canvas"
    assert sorted(report.collected) == ["alice", "bob", "carol", "dave"]
    assert submission(course, "alice") == {
        "conv_layers.ipynb": nb("alice").encode(), "data.csv": b"x,y\n",
        "timestamp.txt": b"2026-11-20 12:05:00.000000 UTC"}         # the newest of its files
    assert submission(course, "bob")["conv_layers.ipynb"] == nb("bob").encode()  # the only notebook
    assert submission(course, "carol") == {
        "conv_layers.ipynb": nb("carol-second").encode(), "conv_helpers.py": b"# helper\n",
        "timestamp.txt": b"2026-11-20 12:00:00.000000 UTC"}
    assert submission(course, "dave")["conv_layers.ipynb"] == nb("dave").encode()
    assert not (course / "submitted" / "eve").exists()
    assert not (course / "submitted" / "frank").exists()

    assert lines_of(report, "late") == ["late: bob: Canvas marked it LATE_"]
    assert [line for line in lines_of(report, "superseded") if "9004" in line]
    unmatched = lines_of(report, "unmatched")
    assert len(unmatched) == 1
    assert unmatched[0].startswith("unmatched: Canvas user 999 (nobody), 1 file: no student")
    assert lines_of(report, "conflicts") == [
        "conflicts: Canvas user 101 (smithalice): the gradebook's lms_user_id says alice, the "
        "roster's id says alicia; collected as alice"]
    refused = "\n".join(lines_of(report, "refused"))
    for name, why in [("../escape.ipynb", "escapes"), ("/abs.ipynb", "absolute"),
                      ("C:/drive.ipynb", "drive letter"), ("..\\windows.ipynb", "backslash"),
                      ("eve_105_9009_conv_layers.ipynb", "symbolic link"),
                      ("frank_106_9010_conv_layers.ipynb", "2 entries have this name"),
                      ("smithalice_101_9011_timestamp.txt", "written by collect")]:
        line = next(l for l in refused.splitlines() if l.startswith(f"refused: {name}: "))
        assert why in line, line
    assert refused.count("frank_106") == 2
    assert lines_of(report, "skipped") == [
        "skipped: README.txt: not named like a Canvas submission file"]
    assert report.lines()[-1] == (
        "collected 4 submissions (0 replacing earlier ones) from the canvas archive "
        "submissions.zip; late 1, unmatched 1, refused 8, earlier kept 0")
    assert outside_submitted(tmp_path) == before
    assert not Path("/abs.ipynb").exists() and not list(tmp_path.rglob("escape.ipynb"))
    assert [p.name for p in (course / "submitted").iterdir()] and \
        not [p for p in (course / "submitted").iterdir() if p.name.startswith(".")]


def moodle_worksheet(path: Path) -> Path:
    """Moodle's grading worksheet (with the ID number identity field), as Moodle writes it:
    UTF-8 with a byte-order mark."""
    path.write_text("Identifier,Full name,Email address,ID number,Status,Grade\n"
                    "Participant 504,Dave Doe,dave@example.edu,dave,Submitted for grading,\n",
                    encoding="utf-8-sig")
    return path


def test_moodle_archive_matched_by_name_and_worksheet_with_folders_zone_and_due_date(tmp_path):
    course = make_course(tmp_path, '\nc.Collect.timezone = "Europe/Berlin"\n')
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        gb.add_assignment(ASSIGNMENT, duedate=datetime(2026, 11, 20, 12, 30))
    utc_field = struct.pack("<HHBi", 0x5455, 5, 1, UTC_FIELD_TIME)
    alice = "Alice Smith_501_assignsubmission_"
    dave = "Dave Doe_504_assignsubmission_file_/"
    archive = write_zip(tmp_path / "moodle.zip", [
        member(alice + "file_/conv_layers.ipynb", nb("alice"), when=(2026, 11, 20, 13, 0, 0)),
        member(alice + "onlinetext_/onlinetext.html", "<p>hi</p>", when=(2026, 11, 20, 13, 0, 0)),
        member(alice + "file_/../../../escape.ipynb", nb("escape")),
        member(dave, b"", mode=0o040755),
        member(dave + "homework.ipynb", nb("dave"), extra=utc_field),
        member(dave + "sub/dir/extra.py", "pass\n", extra=utc_field),
        member(dave + "link.py", "/etc/passwd", mode=0o120777),
        member("Zed Unknown_599_assignsubmission_file_/conv_layers.ipynb", nb("zed")),
    ])
    roster = moodle_worksheet(tmp_path / "worksheet.csv")
    before = outside_submitted(tmp_path)
    report = collect_archive(course, archive, roster=roster)
    assert report.lms == "moodle" and sorted(report.collected) == ["alice", "dave"]
    assert submission(course, "alice") == {      # 13:00 in Berlin is 12:00 UTC
        "conv_layers.ipynb": nb("alice").encode(), "onlinetext.html": b"<p>hi</p>",
        "timestamp.txt": b"2026-11-20 12:00:00.000000 UTC"}
    assert submission(course, "dave") == {       # the UTC field wins over the DOS time
        "conv_layers.ipynb": nb("dave").encode(), "sub/dir/extra.py": b"pass\n",
        "timestamp.txt": b"2026-11-25 08:30:00.000000 UTC"}
    assert lines_of(report, "late") == [
        "late: dave: its archive time 2026-11-25 08:30:00 UTC is after the gradebook's due "
        "date 2026-11-20 12:30:00 UTC"]
    assert "Moodle participant 599 (Zed Unknown)" in lines_of(report, "unmatched")[0]
    assert [line.split(": ")[-1] for line in lines_of(report, "refused")] == [
        "a path that escapes the archive (..)", "a symbolic link"]
    assert outside_submitted(tmp_path) == before

    newer = write_zip(tmp_path / "moodle-2.zip", [
        member(alice + "file_/conv_layers.ipynb", nb("alice-2"), when=(2026, 11, 20, 13, 10, 0))])
    assert collect_archive(course, newer).replaced == ["alice"]
    assert submission(course, "alice") == {"conv_layers.ipynb": nb("alice-2").encode(),
                                           "timestamp.txt": b"2026-11-20 12:10:00.000000 UTC"}


def test_an_earlier_submission_is_replaced_only_by_a_newer_one(course, tmp_path):
    def archive(name: str, when, tag: str, extra: bool) -> Path:
        members = [member("smithalice_101_1_conv_layers.ipynb", nb(tag), when=when)]
        members += [member("smithalice_101_2_notes.txt", "notes", when=when)] if extra else []
        return write_zip(tmp_path / name, members)

    first = archive("first.zip", NOON, "first", extra=True)
    assert collect_archive(course, first).collected == ["alice"]
    again = collect_archive(course, first)
    assert again.collected == [] and "is not newer" in lines_of(again, "kept")[0]
    older = collect_archive(course, archive("older.zip", (2026, 11, 19, 12, 0, 0), "older", True))
    assert older.collected == []
    assert submission(course, "alice")["conv_layers.ipynb"] == nb("first").encode()
    newer = collect_archive(course, archive("newer.zip", (2026, 11, 22, 12, 0, 0), "newer", False))
    assert newer.replaced == ["alice"]
    assert submission(course, "alice") == {"conv_layers.ipynb": nb("newer").encode(),
                                           "timestamp.txt": b"2026-11-22 12:00:00.000000 UTC"}
    assert [p.name for p in (course / "submitted").iterdir()] == ["alice"]   # no staging left


def test_links_already_in_submitted_are_not_followed(course, tmp_path):
    outside_a, outside_b = tmp_path / "outside_a", tmp_path / "outside_b"
    outside_a.mkdir()
    outside_b.mkdir()
    (course / "submitted" / "bob").mkdir(parents=True)
    (course / "submitted" / "alice").symlink_to(outside_a)
    (course / "submitted" / "bob" / ASSIGNMENT).symlink_to(outside_b)
    archive = write_zip(tmp_path / "a.zip", [
        member("smithalice_101_1_conv_layers.ipynb", nb("alice")),
        member("jonesbob_102_2_conv_layers.ipynb", nb("bob")),
        member("doecarol_103_3_conv_layers.ipynb", nb("carol"))])
    report = collect_archive(course, archive)
    assert report.collected == ["carol"]
    refused = lines_of(report, "refused")
    assert "refused: alice: submitted/alice is a symbolic link, which is not followed; " \
        "nothing written" in refused
    assert any(line.startswith("refused: bob: ") and "symbolic link" in line for line in refused)
    assert not list(outside_a.iterdir()) and not list(outside_b.iterdir())


def lie_about_size(path: Path, name: str, size: int) -> None:
    """Patch the inflated size of ``name`` in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    struct.pack_into("<L", data, info.header_offset + 22, size)
    at = data.index(b"PK\x01\x02")
    while data[at + 46:at + 46 + len(name)] != name.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<L", data, at + 24, size)
    path.write_bytes(bytes(data))


def point_second_entry_at_first(path: Path) -> None:
    """Make the second central directory entry's data the first entry's (an overlap)."""
    data = bytearray(path.read_bytes())
    second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    struct.pack_into("<L", data, second + 42, 0)
    path.write_bytes(bytes(data))


LIMITS = "\nc.Collect.max_file_bytes = 100_000\nc.Collect.max_total_bytes = 250_000\n" \
         "c.Collect.max_entries = 20\n"


def test_sizes_entries_and_bombs(tmp_path):
    course = make_course(tmp_path, LIMITS)
    before = outside_submitted(tmp_path)
    big = write_zip(tmp_path / "big.zip", [
        member("grace_107_1_conv_layers.ipynb", b"\0" * 150_000),
        member("smithalice_101_2_conv_layers.ipynb", nb("alice"))])
    report = collect_archive(course, big)
    assert report.collected == ["alice"]
    assert lines_of(report, "refused") == [
        "refused: grace_107_1_conv_layers.ipynb: 150000 bytes inflated, more than 100000 "
        "(c.Collect.max_file_bytes)"]

    def refused_whole(archive: Path, why: str) -> None:
        before = sorted(p.relative_to(course).as_posix() for p in (course / "submitted").rglob("*"))
        with pytest.raises(CourseError, match=why) as exc:
            collect_archive(course, archive)
        assert f"{archive} is refused, nothing collected: " in str(exc.value)
        assert "\n" not in str(exc.value)
        assert sorted(p.relative_to(course).as_posix()
                      for p in (course / "submitted").rglob("*")) == before

    refused_whole(write_zip(tmp_path / "total.zip", [
        member(f"jonesbob_102_{i}_part{i}.bin", b"\0" * 90_000) for i in range(3)]),
        "inflate to 270000 bytes, more than 250000")
    refused_whole(write_zip(tmp_path / "many.zip", [
        member(f"jonesbob_102_{i}_f{i}.txt", "x") for i in range(21)]), "more than 20 entries")
    bomb = write_zip(tmp_path / "bomb.zip", [
        member("jonesbob_102_1_conv_layers.ipynb", nb("bob")),
        member("doecarol_103_2_conv_layers.ipynb", b"\0" * 2_000_000)])
    lie_about_size(bomb, "doecarol_103_2_conv_layers.ipynb", 1000)
    refused_whole(bomb, "data do not match its header .*zip bomb")
    overlap = write_zip(tmp_path / "overlap.zip", [
        member("jonesbob_102_1_conv_layers.ipynb", nb("bob")),
        member("doecarol_103_2_conv_layers.ipynb", nb("carol"))])
    point_second_entry_at_first(overlap)
    refused_whole(overlap, "entries overlap")
    assert not (course / "submitted" / "bob").exists()
    archives = {"big.zip", "total.zip", "many.zip", "bomb.zip", "overlap.zip"}
    assert {k: v for k, v in outside_submitted(tmp_path).items() if k not in archives} == before


def test_an_unreadable_archive_exits_1_with_one_line(course, tmp_path, capsys):
    (tmp_path / "not.zip").write_bytes(b"this is not a zip archive")
    for name, why in (("not.zip", "not a zip archive"), ("missing.zip", "No such file")):
        with pytest.raises(SystemExit) as exc:
            cli.main(["collect", "--course", str(course), "--zip", str(tmp_path / name)])
        message = str(exc.value.code)
        assert message.startswith("error: ") and why in message and "\n" not in message


def test_the_collectors_read_names_as_nbgrader_zip_collect_passes_them():
    got = CanvasCollector().collect("/course/downloaded/conv_layers/extracted/submissions/"
                                    "smithalice_LATE_101_9001_conv_layers-1.ipynb")
    assert (got["student_id"], got["file_id"], got["late"]) == \
        ("101", "conv_layers-1.ipynb", "LATE")
    assert CanvasCollector().collect("smithalice_101_text.html")["file_id"] == "text.html"
    got = MoodleCollector().collect("Alice Smith_501_assignsubmission_file_/sub/x.py")
    assert (got["student_id"], got["file_id"], got["name"]) == ("501", "sub/x.py", "Alice Smith")
    flat = MoodleCollector().collect("Alice Smith_501_assignsubmission_file_x.py")
    assert flat["file_id"] == "x.py"


def test_canvas_archive_to_lms_grades_end_to_end(tmp_path, capsys):
    """Three students (correct, blank, late) from a Canvas archive built after the due
    date, graded by the real pipeline; lms_grades.csv carries the Canvas ids and the
    gradebook's scores, and only the late student counts as late."""
    course = tmp_path / "course"
    demo.make_course(course, {ASSIGNMENT: {}})
    release_nb = course / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    good = mutants.student_answers(release_nb)
    (course / "gradebook.db").write_bytes(empty_gradebook())
    due = datetime(2026, 11, 20, 12, 0, 0)
    db_url = f"sqlite:///{course}/gradebook.db"
    with Gradebook(db_url) as gb:
        gb.add_assignment(ASSIGNMENT, duedate=due)
        for sid, lms in (("correct", "201"), ("blank", "202"), ("late", "203")):
            gb.add_student(sid, lms_user_id=lms, first_name=sid.title(), last_name="Student")
    built = (2026, 11, 22, 8, 0, 0)     # Canvas stamps every entry with when it built the zip
    archive = write_zip(tmp_path / "submissions.zip", [
        member(name, nbformat.writes(demo.fill(release_nb, answers)), built)
        for name, answers in (("studentcorrect_201_1_conv_layers.ipynb", good),
                              ("studentblank_202_2_conv_layers-1.ipynb", None),
                              ("studentlate_LATE_203_3_conv_layers.ipynb", good))
    ])
    cli.main(["collect", "--course", str(course), "--zip", str(archive)])   # imports done already
    assert "late: late: Canvas marked it LATE_" in capsys.readouterr().out
    assert (course / "submitted" / "correct" / ASSIGNMENT / "timestamp.txt").read_text() == \
        "2026-11-20 12:00:00.000000 UTC"     # on time for Canvas: at most the due date
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(course),
                             "--jobs", "2"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0, graded.stderr[-3000:]
    with open(course / "lms_grades.csv") as fh:
        rows = {r["SIS User ID"]: r for r in csv.DictReader(fh)}
    with Gradebook(db_url) as gb:
        for sid, lms in (("correct", "201"), ("blank", "202"), ("late", "203")):
            sub = gb.find_submission(ASSIGNMENT, sid)
            assert rows[sid]["ID"] == lms
            assert float(rows[sid][ASSIGNMENT]) == pytest.approx(sub.score)
            assert (sub.total_seconds_late > 0) == (sid == "late"), sid
    assert [float(rows[s][ASSIGNMENT]) for s in ("correct", "blank", "late")] == [100, 0, 100]
