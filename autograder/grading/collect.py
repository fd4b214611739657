"""``python -m autograder collect``: an LMS's "download all submissions" archive into
nbgrader's layout, ``submitted/<student id>/<assignment>/`` with ``timestamp.txt``.

**Formats**, as the LMSs' own code writes them (what this module relies on):

- Canvas (``lib/content_zipper.rb``): flat files named
  ``<name>_[LATE_]<user id>_<file id>_<original name>``, where ``<name>`` is the student's
  sortable name lower-cased with everything but letters, digits and ``_`` removed, and
  ``LATE`` is there when Canvas counts the submission late. Text and URL submissions are
  ``<name>_[LATE_]<user id>_text.html`` / ``_link.html``. A file uploaded again keeps the
  ``-1``, ``-2`` suffix Canvas gave it (``homework-1.ipynb``). Entries carry rubyzip's
  default time: when Canvas built the archive, not when the student submitted.
- Moodle (``mod/assign/classes/downloader.php``): one folder per student and submission
  plugin, ``<Full Name>_<participant id>_assignsubmission_<plugin>_/<path>`` (``file``,
  ``onlinetext``; ``_`` in the name becomes a space), or, with "download as folders" off,
  the same prefix on flat files. The participant id is the assignment's own number for the
  student (``assign_user_mapping``), not the Moodle user id. Moodle 4 stamps entries with
  the time of the download, older versions with the file's time.

**Who is who.** An LMS user is the course student whose ``lms_user_id`` in the gradebook
is the archive's id; else a roster row with that id (Canvas gradebook export: ``ID`` ->
``SIS User ID``; Moodle grading worksheet: ``Identifier`` "Participant N" -> ``ID number``);
for Moodle, then a unique full name (gradebook first and last name, then the roster's
``Full name`` or ``First name`` + ``Last name``). The gradebook wins over the roster, since
``lms_grades.csv`` exports each student with the gradebook's ``lms_user_id``; a roster that
disagrees is reported. An unmatched user is reported and not written: a made-up student
id would be graded and exported under an id no LMS knows.

**Times.** ``timestamp.txt`` (nbgrader's format, UTC) is the newest entry time of the
files collected for the student: an Info-ZIP UTC field when present, else the DOS time read
in ``c.Collect.timezone``. As Canvas's times are the archive's, a submission Canvas did not
mark late gets at most the gradebook's due date, so nbgrader does not count it late. An
earlier collected submission is replaced only by a strictly newer one; of several files of
one student that land on the same name, the newest is kept (then the higher Canvas file
id); the rest are reported.

**Untrusted archive.** Refused, each with a one-line reason, the rest still collected:
names with ``..``, absolute paths, drive letters, backslashes, NUL bytes, empty or overlong
components; links and other special files; encrypted entries and compression methods LMSs
do not use; names that occur twice; a file larger than ``c.Collect.max_file_bytes`` (by its
header); a ``timestamp.txt`` (collect writes its own). Refused whole, nothing written: more
than ``c.Collect.max_entries`` entries (or a central directory larger than 1 KiB for each),
entries that overlap (a zip bomb's trick), files that together declare more than
``c.Collect.max_total_bytes``, and an entry whose data does not match its header while it
is inflated (a bomb lying about its size, or damage). Everything is inflated first into
``submitted/.collect-*`` and only then moved into place: directories are opened with
``O_NOFOLLOW`` relative to their parent and files created with ``O_EXCL | O_NOFOLLOW``, so
no link already in ``submitted/`` is followed and nothing is written outside it.

**Why not nbgrader's ZipCollectApp.** It extracts whole archives, and archives found inside
them, with ``nbgrader.utils.unzip`` (no size or entry-count limit), copies with
``shutil.copy`` (which follows links in ``submitted/``), takes the student id verbatim from
the file name and writes a timestamp without a zone. Its extension point fits, though: the naming of each LMS is a
``FileNameCollectorPlugin`` subclass (``named_regexp`` with its ``student_id`` and
``file_id`` groups), configurable as ``c.CanvasCollector.named_regexp`` and usable as
``nbgrader zip_collect --collector=autograder.grading.collect.CanvasCollector`` on a trusted archive.
"""
from __future__ import annotations

import csv
import io
import os
import re
import secrets
import shutil
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterable, Optional

from dateutil.tz import gettz
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.utils import parse_utc
from traitlets import Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from .intake import read_assignment
from .pipeline import CourseError, course_lock, db_url_for, source_assignments
from .worker import load_config, one_line

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"   # nbgrader's Exchange.timestamp_format
STAGING_PREFIX = ".collect-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)   # what Canvas and Moodle write
_CD_BYTES_PER_ENTRY = 1024   # a central directory larger than this per entry is not parsed
_MIN = float("-inf")


class Collect(Configurable):
    """Limits of ``collect``, set in ``nbgrader_config.py`` as ``c.Collect.*``."""
    max_entries = Int(10_000, help="An archive with more entries than this is not "
                      "collected at all.").tag(config=True)
    max_file_bytes = Int(64 * 2**20, help="A file larger than this, inflated, is refused; "
                         "the rest of the archive is collected.").tag(config=True)
    max_total_bytes = Int(2 * 2**30, help="When the files to collect inflate to more than "
                          "this together, nothing is collected.").tag(config=True)
    timezone = Unicode("UTC", help="Time zone of the machine that wrote the archive (the "
                       "LMS server): zip times without a UTC field are its local "
                       "times.").tag(config=True)

    @validate("timezone")
    def _known_zone(self, proposal):
        if gettz(proposal["value"]) is None:
            raise TraitError(f"unknown time zone {proposal['value']!r}")
        return proposal["value"]


class LmsCollector(FileNameCollectorPlugin):
    """The naming of one LMS's archive entries. ``named_regexp`` gives nbgrader's
    ``student_id`` (here the LMS's id of the student) and ``file_id`` (the file's path in
    the submission), and ``name`` (the LMS's name for the student)."""
    lms = ""
    label = ""                      # how a report names an LMS user
    matches_names = False           # whether names are reliable enough to match
    renames_resubmissions = False   # whether a file uploaded again gets "-N"
    marks_late = False              # whether a submission not marked late is on time

    def collect(self, submitted_file: str) -> Optional[dict]:
        # Every file of a submission is collected (extra files too): no extension filter.
        match = re.fullmatch(self.named_regexp, submitted_file)
        return match.groupdict() if match else None


class CanvasCollector(LmsCollector):
    """``<name>_[LATE_]<user id>_<file id>_<original name>``, or ``..._<user id>_text.html``
    for a text entry; any folders in front (an archive extracted and zipped again) ignored."""
    lms, label, renames_resubmissions, marks_late = "canvas", "Canvas user", True, True
    named_regexp = Unicode(
        r"(?:.*/)?(?P<name>[^/]*?)_(?:(?P<late>LATE)_)?(?P<student_id>\d+)_"
        r"(?:(?P<canvas_file_id>\d+)_)?(?P<file_id>[^/]+)",
        help="A Canvas submissions archive's file name.").tag(config=True)


class MoodleCollector(LmsCollector):
    """``<Full Name>_<participant id>_assignsubmission_<plugin>_`` and the file's path (in
    that folder, or appended to the name when "download as folders" is off)."""
    lms, label, matches_names = "moodle", "Moodle participant", True
    named_regexp = Unicode(
        r"(?:.*?/)?(?P<name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_[a-z]+_/?"
        r"(?P<file_id>[^/].*)",
        help="A path in a Moodle assignment's submissions archive.").tag(config=True)


COLLECTORS = {c.lms: c for c in (CanvasCollector, MoodleCollector)}


@dataclass
class Entry:
    """One archive file that belongs to a student's submission."""
    info: zipfile.ZipInfo
    lms_id: str
    name: str                    # the LMS's name for the student
    path: str                    # where it goes inside the submission
    late: bool                   # the LMS marked it late
    time: Optional[datetime]     # UTC
    rank: tuple                  # larger is newer

    @property
    def shown(self) -> str:
        return show(self.info.orig_filename)


@dataclass
class Submission:
    """What is written for one student."""
    student_id: str
    lms_id: str
    entries: list[Entry]
    time: Optional[datetime]
    late: str = ""               # why it counts as late
    replaces: bool = False       # an earlier collected submission is replaced


@dataclass
class People:
    """LMS ids and names to the course's student ids: the gradebook's, then the roster's."""
    gradebook_ids: dict[str, str] = field(default_factory=dict)
    gradebook_names: dict[str, str] = field(default_factory=dict)
    roster_ids: dict[str, str] = field(default_factory=dict)
    roster_names: dict[str, str] = field(default_factory=dict)

    def find(self, lms_id: str, name: str, by_name: bool) -> tuple[Optional[str], list[str]]:
        """(student id, what disagrees with the source that decided it)."""
        found = [("the gradebook's lms_user_id", self.gradebook_ids.get(lms_id)),
                 ("the roster's id", self.roster_ids.get(lms_id))]
        if by_name:
            found += [("the gradebook's names", self.gradebook_names.get(name_key(name))),
                      ("the roster's names", self.roster_names.get(name_key(name)))]
        found = [(source, sid) for source, sid in found if sid]
        if not found:
            return None, []
        source, sid = found[0]
        return sid, [f"{source} says {sid}, {other_source} says {other}"
                     for other_source, other in found[1:] if other != sid]


@dataclass
class Report:
    """What ``collect`` did, one line per thing an instructor should know."""
    archive: Path
    lms: str = ""
    collected: list[str] = field(default_factory=list)    # student ids written
    replaced: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        kinds = ("late", "kept", "superseded", "unmatched", "conflicts", "refused", "skipped")
        out = [f"{kind}: {line}" for kind in kinds for line in getattr(self, kind)]
        out.append(f"collected {len(self.collected)} submissions ({len(self.replaced)} replacing "
                   f"earlier ones) from the {self.lms} archive {self.archive.name}; late "
                   f"{len(self.late)}, unmatched {len(self.unmatched)}, refused "
                   f"{len(self.refused)}, earlier kept {len(self.kept)}")
        return out


class ArchiveRefused(CourseError):
    """The archive as a whole is unsafe or unreadable: nothing of it is collected."""


def show(text: str, limit: int = 160) -> str:
    """A name from the archive, safe to print on one line."""
    return one_line("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text), limit)


def name_key(name: str) -> str:
    return " ".join(name.replace("_", " ").casefold().split())


def unique(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """key -> value for the keys that name one value only (a name two students share, or an
    id a roster gives twice, matches no one)."""
    seen: dict[str, set[str]] = {}
    for key, value in pairs:
        if key and value:
            seen.setdefault(key, set()).add(value)
    return {key: next(iter(values)) for key, values in seen.items() if len(values) == 1}


# --- the archive's structure, checked before zipfile parses it ------------------------------

def _end_records(fp: IO[bytes]) -> tuple[int, int]:
    """(entries, central directory bytes) as the end of the archive declares them."""
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    fp.seek(max(0, size - 22 - 0xFFFF))
    tail = fp.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise ArchiveRefused("not a zip archive (no end of central directory)")
    entries, cd_bytes = struct.unpack_from("<HL", tail, at + 10)
    zip64 = at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07"
    if zip64 and (entries == 0xFFFF or cd_bytes == 0xFFFFFFFF):
        fp.seek(struct.unpack_from("<Q", tail, at - 12)[0])
        record = fp.read(56)
        if record[:4] == b"PK\x06\x06":
            entries, cd_bytes = struct.unpack_from("<QQ", record, 32)
    return entries, cd_bytes


def check_size_of_directory(fp: IO[bytes], max_entries: int) -> None:
    """Refuse an archive whose central directory is too large before zipfile reads all of
    it into memory."""
    entries, cd_bytes = _end_records(fp)
    if entries > max_entries:
        raise ArchiveRefused(f"the archive has more than {max_entries} entries "
                             "(c.Collect.max_entries)")
    if cd_bytes > max_entries * _CD_BYTES_PER_ENTRY:
        raise ArchiveRefused(f"its central directory ({cd_bytes} bytes) is larger than "
                             f"{max_entries} entries (c.Collect.max_entries) can need")


def check_overlaps(infos: list[zipfile.ZipInfo], directory_start: int) -> None:
    """Refuse entries whose data overlap: one compressed stream counted many times is how a
    small archive inflates to terabytes."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    ends = [i.header_offset + 30 + i.compress_size for i in ordered]
    starts = [i.header_offset for i in ordered[1:]] + [directory_start]
    for info, end, start in zip(ordered, ends, starts):
        if end > start:
            raise ArchiveRefused(f"entries overlap ({show(info.orig_filename)}): a zip bomb")


def refusal(info: zipfile.ZipInfo) -> str:
    """Why an entry is not collected, or "" when it may be."""
    name, mode = info.orig_filename, info.external_attr >> 16
    parts = name.rstrip("/").split("/")
    checks = (
        ("\0" in name, "a NUL byte in the name"),
        ("\\" in name, "a backslash in the name (a Windows path)"),
        (name.startswith("/"), "an absolute path"),
        (re.match(r"[A-Za-z]:", name) is not None, "a drive letter"),
        (".." in parts, "a path that escapes the archive (..)"),
        (any(p in ("", ".") for p in parts), "an empty or '.' path component"),
        (len(name.encode()) > 1024 or any(len(p.encode()) > 255 for p in parts), "a name too long"),
        (stat.S_ISLNK(mode), "a symbolic link"),
        (stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR), "a special file"),
        (info.flag_bits & 1 == 1, "encrypted"),
        (info.compress_type not in _METHODS, f"compression method {info.compress_type}, "
                                             "which LMS archives do not use"),
    )
    return next((why for bad, why in checks if bad), "")


def safe_files(infos: list[zipfile.ZipInfo], report: Report) -> list[zipfile.ZipInfo]:
    """The file entries that may be collected; the others are reported as refused."""
    count: dict[str, int] = {}
    for info in infos:
        count[info.orig_filename] = count.get(info.orig_filename, 0) + 1
    files = []
    for info in infos:
        why = refusal(info)
        if not why and count[info.orig_filename] > 1:
            why = (f"{count[info.orig_filename]} entries have this name; which is the real one "
                   "cannot be told, so none is collected")
        if why:
            report.refused.append(f"{show(info.orig_filename)}: {why}")
        elif not (info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)):
            files.append(info)
    return files


def within_limits(entries: list[Entry], settings: Collect, report: Report) -> list[Entry]:
    """Entries whose declared size is within the per-file limit; refuse the archive when
    they declare more than the total limit together."""
    small = []
    for e in entries:
        if e.info.file_size > settings.max_file_bytes:
            report.refused.append(f"{e.shown}: {e.info.file_size} bytes inflated, more than "
                                  f"{settings.max_file_bytes} (c.Collect.max_file_bytes)")
        else:
            small.append(e)
    total = sum(e.info.file_size for e in small)
    if total > settings.max_total_bytes:
        raise ArchiveRefused(f"its files inflate to {total} bytes, more than "
                             f"{settings.max_total_bytes} (c.Collect.max_total_bytes)")
    return small


# --- names, times and people ---------------------------------------------------------------

def utc_extra_time(extra: bytes) -> Optional[datetime]:
    """The modification time of an Info-ZIP extended timestamp field (0x5455), in UTC."""
    while len(extra) >= 4:
        kind, size = struct.unpack_from("<HH", extra)
        body, extra = extra[4:4 + size], extra[4 + size:]
        if kind == 0x5455 and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(struct.unpack_from("<i", body, 1)[0], timezone.utc)
    return None


def entry_time(info: zipfile.ZipInfo, zone) -> Optional[datetime]:
    try:
        return utc_extra_time(info.extra) or \
            datetime(*info.date_time, tzinfo=zone).astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def detect(names: list[str], lms: Optional[str], config) -> LmsCollector:
    """The collector of ``lms``, or of the format most entry names follow."""
    if lms:
        return COLLECTORS[lms](config=config)
    collectors = [c(config=config) for c in COLLECTORS.values()]
    counts = [sum(1 for n in names if c.collect(n)) for c in collectors]
    if not max(counts, default=0):
        raise ArchiveRefused("no entry is named like a Canvas or Moodle submission "
                             "(--lms canvas|moodle names the format)")
    return collectors[counts.index(max(counts))]


def parse_entries(files: list[zipfile.ZipInfo], collector: LmsCollector, zone,
                  report: Report) -> list[Entry]:
    entries = []
    for index, info in enumerate(files):
        got = collector.collect(info.orig_filename)
        if not got:
            report.skipped.append(f"{show(info.orig_filename)}: not named like a "
                                  f"{collector.lms.capitalize()} submission file")
            continue
        time = entry_time(info, zone)
        rank = (time.timestamp() if time else _MIN, int(got.get("canvas_file_id") or -1), index)
        entries.append(Entry(info, got["student_id"], got["name"], got["file_id"],
                             bool(got.get("late")), time, rank))
    return entries


def gradebook_people(course: Path, config, assignment: str) -> tuple[People, Optional[datetime]]:
    """The gradebook's students and the assignment's due date; nothing if there is no
    gradebook yet (``grade`` creates it)."""
    db_url = db_url_for(course, config)
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        return People(), None
    with Gradebook(db_url) as gb:
        students = [(s.id, s.lms_user_id, f"{s.first_name or ''} {s.last_name or ''}")
                    for s in gb.students]
        try:
            due = gb.find_assignment(assignment).duedate
        except MissingEntry:
            due = None
    people = People(unique((lms, sid) for sid, lms, _ in students),
                    unique((name_key(name), sid) for sid, _, name in students))
    return people, due.replace(tzinfo=timezone.utc) if due else None


def read_roster(path: Path, people: People, report: Report) -> None:
    """Add a roster exported from the LMS: Canvas's gradebook export (``ID``, ``SIS User
    ID``) or Moodle's grading worksheet or gradebook export (``Identifier``, ``ID number``,
    ``Full name`` or ``First name`` and ``Last name``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(f"cannot read the roster {path}: {exc}") from None
    try:
        dialect = csv.Sniffer().sniff(text.partition("\n")[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = set(reader.fieldnames or ())
    if not header & {"SIS User ID", "ID number"}:
        raise CourseError(f"the roster {path} has neither a 'SIS User ID' (Canvas) nor an "
                          "'ID number' (Moodle) column: the course's student ids")
    ids, names, without = [], [], 0
    for row in reader:
        cell = {k.strip(): (v or "").strip() for k, v in row.items()
                if isinstance(k, str) and not isinstance(v, list)}
        sid = cell.get("SIS User ID") or cell.get("ID number", "")
        lms = cell.get("ID") or re.sub(r"^Participant\s*", "", cell.get("Identifier", ""))
        name = cell.get("Full name") or f"{cell.get('First name', '')} {cell.get('Last name', '')}"
        if not sid:
            without += lms.isdigit()
            continue
        if lms.isdigit():
            ids.append((lms, sid))
        names.append((name_key(name), sid))
    people.roster_ids, people.roster_names = unique(ids), unique(names)
    if without:
        report.skipped.append(f"roster: {without} rows without a student id (SIS User ID / "
                              "ID number) are not used")


def student_id_problem(sid: str) -> str:
    if sid.startswith(".") or any(c in sid for c in "/\\\0") or not sid.isprintable() \
            or len(sid.encode()) > 255:
        return f"the student id {show(sid)!r} cannot be a directory name"
    return ""


# --- one student's submission -------------------------------------------------------------

def canonical(path: str, release_names: set[str]) -> str:
    """``path`` without the ``-N`` Canvas adds to a file uploaded again, when the name
    without it is one of the release's files."""
    head, _, leaf = path.rpartition("/")
    m = re.fullmatch(r"(.+)-\d+(\.[^.]+)", leaf)
    if m and m[1] + m[2] in release_names:
        leaf = m[1] + m[2]
    return f"{head}/{leaf}" if head else leaf


def choose_files(entries: list[Entry], notebook: str, release_names: set[str],
                 collector: LmsCollector, report: Report) -> list[Entry]:
    """One entry per path, the newest; the only notebook, wherever it is, as ``notebook``."""
    by_path: dict[str, Entry] = {}
    for e in sorted(entries, key=lambda e: e.rank, reverse=True):
        path = canonical(e.path, release_names) if collector.renames_resubmissions else e.path
        if path == "timestamp.txt":
            report.refused.append(f"{e.shown}: timestamp.txt is written by collect, not "
                                  "taken from the archive")
        elif path in by_path:
            report.superseded.append(f"{e.shown}: a newer {path} of the same student is "
                                     f"collected ({by_path[path].shown})")
        else:
            by_path[path] = replace(e, path=path)
    notebooks = [p for p in by_path if p.endswith(".ipynb")]
    if len(notebooks) == 1 and notebooks[0] != notebook:
        by_path[notebook] = replace(by_path.pop(notebooks[0]), path=notebook)
    return list(by_path.values())


def lateness(sub: Submission, due: Optional[datetime], collector: LmsCollector) -> None:
    """Set why ``sub`` is late. When the LMS marks late submissions, an unmarked one is on
    time, and its time is at most the due date (Canvas's entry times are when it built the
    archive, usually after the due date)."""
    if any(e.late for e in sub.entries):
        sub.late = f"{collector.lms.capitalize()} marked it LATE_"
    elif due and sub.time and sub.time > due:
        if collector.marks_late:
            sub.time = due
        else:
            sub.late = (f"its archive time {sub.time:%Y-%m-%d %H:%M:%S} UTC is after the "
                        f"gradebook's due date {due:%Y-%m-%d %H:%M:%S} UTC")


def submissions(entries: list[Entry], people: People, collector: LmsCollector,
                notebook: str, release_names: set[str], report: Report) -> list[Submission]:
    """One submission per matched student, newest LMS user first when two are one student."""
    by_user: dict[str, list[Entry]] = {}
    for e in entries:
        by_user.setdefault(e.lms_id, []).append(e)
    by_student: dict[str, list[Submission]] = {}
    for lms_id, own in by_user.items():
        name = own[0].name
        who = f"{collector.label} {lms_id} ({show(name)})"
        sid, conflicts = people.find(lms_id, name, collector.matches_names)
        if sid is None:
            files = f"{len(own)} file{'s' if len(own) != 1 else ''}"
            how = "lms_user_id, name" if collector.matches_names else "lms_user_id"
            report.unmatched.append(
                f"{who}, {files}: no student in the gradebook ({how}) or the roster; add the "
                f"student (nbgrader db student add ID --lms-user-id={lms_id}) or pass --roster, "
                "then collect again")
            continue
        report.conflicts += [f"{who}: {c}; collected as {sid}" for c in conflicts]
        problem = student_id_problem(sid)
        if problem:
            report.refused.append(f"{who}: {problem}")
            continue
        chosen = choose_files(own, notebook, release_names, collector, report)
        if not chosen:
            continue
        times = [e.time for e in chosen if e.time]
        by_student.setdefault(sid, []).append(
            Submission(sid, lms_id, chosen, max(times) if times else None))
    out = []
    for sid, subs in by_student.items():
        subs.sort(key=lambda s: max(e.rank for e in s.entries))
        out.append(subs[-1])
        report.superseded += [f"{collector.label} {s.lms_id} is also student {sid}; the newer "
                              f"submission of {collector.label} {subs[-1].lms_id} is collected"
                              for s in subs[:-1]]
    return out


def earlier(submitted_fd: int, sid: str, assignment: str) -> tuple[bool, Optional[datetime], str]:
    """(whether a submission of ``sid`` is already collected, its timestamp, why it must not
    be touched), read without following links."""
    try:
        student_fd = os.open(sid, _DIR_FLAGS, dir_fd=submitted_fd)
    except FileNotFoundError:
        return False, None, ""
    except OSError:
        mode = os.stat(sid, dir_fd=submitted_fd, follow_symlinks=False).st_mode
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a directory"
        return True, None, f"submitted/{sid} is {what}, which is not followed"
    try:
        try:
            os.stat(assignment, dir_fd=student_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False, None, ""
        listing = read_assignment(student_fd, assignment, 256)
    finally:
        os.close(student_fd)
    if listing.problem:
        return True, None, listing.problem
    raw = listing.files.get("timestamp.txt", b"")
    try:
        when = parse_utc(raw.decode().strip()).replace(tzinfo=timezone.utc) if raw.strip() else None
    except (ValueError, OverflowError, UnicodeDecodeError):
        when = None
    return True, when, ""


def keep_or_replace(subs: list[Submission], submitted_fd: int, assignment: str,
                    report: Report) -> list[Submission]:
    """The submissions to write: those with nothing collected before, or newer than it."""
    out = []
    for sub in subs:
        exists, when, problem = earlier(submitted_fd, sub.student_id, assignment)
        stamp = f"{sub.time:%Y-%m-%d %H:%M:%S} UTC" if sub.time else "no time"
        if problem:
            report.refused.append(f"{sub.student_id}: {problem}; nothing written")
        elif exists and when is None:
            report.kept.append(f"{sub.student_id}: the submission already in submitted/ has no "
                               "readable timestamp.txt to compare with; remove it to collect "
                               "the archive's")
        elif exists and (sub.time is None or sub.time <= when):
            report.kept.append(f"{sub.student_id}: the earlier collected submission of "
                               f"{when:%Y-%m-%d %H:%M:%S} UTC is kept; the archive's ({stamp}) "
                               "is not newer")
        else:
            out.append(replace(sub, replaces=exists))
    return out


# --- writing --------------------------------------------------------------------------------

def _new_file(root_fd: int, path: str) -> int:
    """A new file at ``path`` below ``root_fd``, each directory opened without following
    links and the file created exclusively."""
    *dirs, leaf = path.split("/")
    fd = os.dup(root_fd)
    try:
        for d in dirs:
            try:
                os.mkdir(d, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            sub = os.open(d, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = sub
        return os.open(leaf, _NEW_FILE, 0o644, dir_fd=fd)
    finally:
        os.close(fd)


def inflate(zf: zipfile.ZipFile, entry: Entry, root_fd: int) -> None:
    """Write one entry. zipfile inflates at most the size the header declares and then
    checks the CRC, so data that go on past it (a bomb lying about its size) stop there and
    fail. An OSError means this entry cannot be created where it should go."""
    out = os.fdopen(_new_file(root_fd, entry.path), "wb")
    try:
        with out, zf.open(entry.info) as src:
            shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ArchiveRefused(f"{entry.shown}: its data do not match its header "
                             f"({one_line(exc, 120)}): damaged, or a zip bomb") from None
    except OSError as exc:
        raise CourseError(f"{entry.shown}: {exc.strerror} while inflating it; nothing "
                          "collected") from None


def stage(zf: zipfile.ZipFile, sub: Submission, staging_fd: int, name: str,
          report: Report) -> None:
    """Inflate ``sub`` into ``staging/<name>/`` with its timestamp.txt."""
    os.mkdir(name, 0o755, dir_fd=staging_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=staging_fd)
    try:
        for e in sub.entries:
            try:
                inflate(zf, e, fd)
            except OSError as exc:
                report.refused.append(f"{e.shown}: cannot be written as {show(e.path)} "
                                      f"({exc.strerror})")
        if sub.time:
            with os.fdopen(_new_file(fd, "timestamp.txt"), "w") as out:
                out.write(sub.time.strftime(TIMESTAMP_FORMAT))
    finally:
        os.close(fd)


def put_in_place(sub: Submission, name: str, submitted_fd: int, staging_fd: int,
                 assignment: str) -> None:
    """Move ``staging/<name>`` to ``<student>/<assignment>``; an earlier submission moves
    into the staging directory (and is deleted with it)."""
    try:
        os.mkdir(sub.student_id, 0o755, dir_fd=submitted_fd)
    except FileExistsError:
        pass
    student_fd = os.open(sub.student_id, _DIR_FLAGS, dir_fd=submitted_fd)
    try:
        if sub.replaces:
            os.rename(assignment, f"old-{name}", src_dir_fd=student_fd, dst_dir_fd=staging_fd)
        os.rename(name, assignment, src_dir_fd=staging_fd, dst_dir_fd=student_fd)
    finally:
        os.close(student_fd)


def open_submitted(course: Path) -> int:
    path = course / "submitted"
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError:
        raise CourseError(f"{path} is not a directory (a symbolic link is not followed)") from None


def remove_stale_staging(submitted_fd: int) -> None:
    """Staging directories left by a collect that was killed (the course lock is held)."""
    for name in os.listdir(submitted_fd):
        if name.startswith(STAGING_PREFIX) and stat.S_ISDIR(
                os.stat(name, dir_fd=submitted_fd, follow_symlinks=False).st_mode):
            shutil.rmtree(name, dir_fd=submitted_fd)


def write(zf: zipfile.ZipFile, subs: list[Submission], submitted_fd: int, assignment: str,
          report: Report) -> None:
    """Inflate everything first (a bomb found on the way leaves submitted/ untouched), then
    move each submission into place."""
    remove_stale_staging(submitted_fd)
    name = f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(name, 0o700, dir_fd=submitted_fd)
    staging_fd = os.open(name, _DIR_FLAGS, dir_fd=submitted_fd)
    try:
        for n, sub in enumerate(subs):
            stage(zf, sub, staging_fd, str(n), report)
        for n, sub in enumerate(subs):
            try:
                put_in_place(sub, str(n), submitted_fd, staging_fd, assignment)
            except OSError as exc:
                report.refused.append(f"{sub.student_id}: cannot be put in place "
                                      f"({exc.strerror}); nothing written")
                continue
            report.collected.append(sub.student_id)
            if sub.replaces:
                report.replaced.append(sub.student_id)
            if sub.late:
                report.late.append(f"{sub.student_id}: {sub.late}")
    finally:
        os.close(staging_fd)
        shutil.rmtree(name, dir_fd=submitted_fd)


# --- the command ----------------------------------------------------------------------------

def release_names(course: Path, assignment: str) -> set[str]:
    """Names of the files the release holds (what a Canvas "-N" suffix is taken off)."""
    source = course / "source" / assignment
    names = {p.name for p in source.iterdir()} if source.is_dir() else set()
    return names | {f"{assignment}.ipynb"}


def collect_archive(course: Path, archive: Path, lms: Optional[str] = None,
                    roster: Optional[Path] = None, assignment: Optional[str] = None) -> Report:
    """Collect every submission of ``archive`` into ``course/submitted/``. Raises
    CourseError (nothing collected) when the archive cannot be read or is refused whole."""
    course = course.resolve()
    config_path = course / "nbgrader_config.py"
    if not config_path.is_file():
        raise CourseError(f"{config_path} not found: is {course} a course directory?")
    config = load_config(config_path.read_text())
    if assignment is None:
        found = source_assignments(course)
        if len(found) != 1:
            raise CourseError(f"{course}/source holds {len(found)} assignments "
                              f"({', '.join(found) or 'none'}): name one with --assignment")
        assignment = found[0]
    elif assignment not in source_assignments(course):
        raise CourseError(f"no assignment {assignment} in {course}/source")
    with course_lock(course):
        try:
            return _collect(course, archive, lms, roster, assignment, config)
        except ArchiveRefused as exc:
            raise ArchiveRefused(f"{archive} is refused, nothing collected: {exc}") from None


def _collect(course: Path, archive: Path, lms: Optional[str], roster: Optional[Path],
             assignment: str, config) -> Report:
    settings = Collect(config=config)
    report = Report(archive)
    people, due = gradebook_people(course, config, assignment)
    if roster:
        read_roster(roster, people, report)
    try:
        fp = open(archive, "rb")
    except OSError as exc:
        raise CourseError(f"cannot read {archive}: {exc.strerror}") from None
    with fp:
        check_size_of_directory(fp, settings.max_entries)
        try:
            zf = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise ArchiveRefused(f"not a readable zip archive ({one_line(exc, 120)})") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > settings.max_entries:
                raise ArchiveRefused(f"the archive has more than {settings.max_entries} "
                                     "entries (c.Collect.max_entries)")
            check_overlaps(infos, zf.start_dir)
            files = safe_files(infos, report)
            collector = detect([i.orig_filename for i in files], lms, config)
            report.lms = collector.lms
            entries = parse_entries(files, collector, gettz(settings.timezone), report)
            entries = within_limits(entries, settings, report)
            subs = submissions(entries, people, collector, f"{assignment}.ipynb",
                               release_names(course, assignment), report)
            for sub in subs:
                lateness(sub, due, collector)
            submitted_fd = open_submitted(course)
            try:
                write(zf, keep_or_replace(subs, submitted_fd, assignment, report),
                      submitted_fd, assignment, report)
            finally:
                os.close(submitted_fd)
    return report
