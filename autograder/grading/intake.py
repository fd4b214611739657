"""Read students' submission directories from disk without trusting anything in them.

Everything below ``submitted/`` is the student's. A symbolic link there could point at the
master notebook or the gradebook (and the grader reads as the instructor), a FIFO would
block a read forever, a dataset handed in beside the notebook would fill the coordinator's
memory. So no link is followed: each directory is opened relative to its parent with
``O_NOFOLLOW``, each file with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat`` after
opening, so a file swapped for a link or a pipe between listing and reading is refused too.
Only regular files are read, and only what grading uses (the top-level notebooks and
``timestamp.txt``); every other file is listed by name and size.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

SKIP_DIRS = (".ipynb_checkpoints", "__pycache__")
_MAX_ENTRIES = 10_000      # a directory tree larger than this is not listed further
_MAX_DEPTH = 32
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


@dataclass
class Listing:
    """One student's assignment directory as the grader sees it."""
    files: dict[str, bytes] = field(default_factory=dict)   # read: what grading uses
    others: dict[str, int] = field(default_factory=dict)    # other regular files: size, unread
    refused: dict[str, str] = field(default_factory=dict)   # path -> what it is, not followed
    problem: str = ""      # why the directory itself could not be read


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def _used(rel: str) -> bool:
    """Whether grading reads this file: a top-level notebook or the submission timestamp."""
    return "/" not in rel and (rel.endswith(".ipynb") or rel == "timestamp.txt")


def _read(dir_fd: int, name: str, limit: int) -> bytes | str:
    """At most ``limit`` bytes of a regular file; or what it is instead (a str)."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return "a symbolic link" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})"
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            return _kind(mode)
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _walk(dir_fd: int, prefix: str, listing: Listing, limit: int, depth: int) -> None:
    for name in sorted(os.listdir(dir_fd)):
        if len(listing.files) + len(listing.others) + len(listing.refused) >= _MAX_ENTRIES:
            listing.refused[f"{prefix}..."] = f"more than {_MAX_ENTRIES} entries, not listed"
            return
        rel = prefix + name
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue                                 # gone since it was listed
        if stat.S_ISDIR(st.st_mode):
            if name in SKIP_DIRS:
                continue
            if depth >= _MAX_DEPTH:
                listing.refused[rel] = f"nested more than {_MAX_DEPTH} directories deep"
                continue
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                listing.refused[rel] = "a directory that changed while it was read"
                continue
            try:
                _walk(sub, rel + "/", listing, limit, depth + 1)
            finally:
                os.close(sub)
        elif not stat.S_ISREG(st.st_mode):
            listing.refused[rel] = _kind(st.st_mode)
        elif _used(rel):
            data = _read(dir_fd, name, limit)
            if isinstance(data, str):
                listing.refused[rel] = data
            else:
                listing.files[rel] = data
        else:
            listing.others[rel] = st.st_size


def read_assignment(student_fd: int, assignment: str, limit: int) -> Listing:
    """The listing of ``<student>/<assignment>/``; files grading reads are cut at ``limit``
    bytes (enough to tell that a notebook is over its size limit)."""
    listing = Listing()
    try:
        fd = os.open(assignment, _DIR_FLAGS, dir_fd=student_fd)
    except FileNotFoundError:
        return listing
    except OSError as exc:
        try:
            mode = os.stat(assignment, dir_fd=student_fd, follow_symlinks=False).st_mode
            what = _kind(mode)
        except OSError:
            what = f"unreadable ({exc.strerror})"
        listing.problem = f"the submission directory {assignment} is {what}, which is not followed"
        return listing
    try:
        _walk(fd, "", listing, limit, 0)
    finally:
        os.close(fd)
    return listing


def read_submitted(course: Path, assignment: str, limit: int) -> Iterator[tuple[str, Listing]]:
    """(student id, listing) for every student directory of ``course/submitted`` (the
    instructor's own directory) that holds an entry for ``assignment``, in order of the ids.
    A student "directory" that is a link is not followed and gets a listing with its problem."""
    root = course / "submitted"
    if not root.is_dir():
        return
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in sorted(os.listdir(root_fd)):
            if name.startswith("."):      # not a student (nbgrader ignores these too)
                continue
            st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                yield name, Listing(problem=f"submitted/{name} is a symbolic link, which is "
                                            "not followed")
                continue
            if not stat.S_ISDIR(st.st_mode):
                continue
            try:
                student_fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
            except OSError:
                continue                             # replaced since it was listed
            try:
                try:
                    os.stat(assignment, dir_fd=student_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue                         # no submission of this assignment
                yield name, read_assignment(student_fd, assignment, limit)
            finally:
                os.close(student_fd)
    finally:
        os.close(root_fd)
