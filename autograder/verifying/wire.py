"""The trusted side of the harness's socket protocol: frames and array archives read with
limits checked before anything is allocated or inflated.

A frame is ``>QQ`` (header length, body length), a JSON header and a body. Everything in a
frame comes from the student's kernel, so lengths are checked before reading, the whole
frame must arrive before a deadline, and an npz body is opened member by member: each
member's name must be one the task expects, and its ``.npy`` header (dtype and shape) must
fit the case before a byte of its data is inflated.
"""
from __future__ import annotations

import io
import json
import socket
import struct
import time
import zipfile

import numpy as np

FRAME = struct.Struct(">QQ")
MAX_HEADER_BYTES = 2**20
MAX_BODY_BYTES = 16 * 2**20     # the compressed archive; what it inflates to is checked apart
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


class WireError(ValueError):
    """A frame or archive that is refused; the message says why, in one line."""


def read_frame(conn: socket.socket, deadline: float, max_body: int = MAX_BODY_BYTES
               ) -> tuple[dict, bytes]:
    """One frame from ``conn``, complete before ``deadline`` (time.monotonic())."""
    head_len, body_len = FRAME.unpack(_recv(conn, FRAME.size, deadline))
    if head_len > MAX_HEADER_BYTES or body_len > max_body:
        raise WireError(f"a frame of {head_len + body_len} bytes exceeds the limit")
    try:
        header = json.loads(_recv(conn, head_len, deadline).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise WireError("a frame header that is not JSON") from None
    if not isinstance(header, dict):
        raise WireError("a frame header that is not a JSON object")
    return header, _recv(conn, body_len, deadline)


def write_frame(conn: socket.socket, header: dict, body: bytes = b"") -> None:
    head = json.dumps(header).encode()
    conn.sendall(FRAME.pack(len(head), len(body)) + head + body)


def _recv(conn: socket.socket, n: int, deadline: float) -> bytes:
    chunks, size = [], 0
    while size < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WireError("the report did not arrive in time")
        conn.settimeout(left)
        try:
            chunk = conn.recv(min(1 << 20, n - size))
        except socket.timeout:
            raise WireError("the report did not arrive in time") from None
        if not chunk:
            raise WireError("the report ended early")
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_arrays(payload: bytes, allowed: dict[str, int], max_total: int) -> dict[str, np.ndarray]:
    """The arrays of an npz archive, never unpickling. ``allowed`` maps each member name the
    report may hold to the most elements it may have; numeric dtypes only; the inflated
    total is at most ``max_total`` bytes. Anything else raises WireError before inflating."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise WireError(f"unreadable report: {exc}") from None
    if len(members) > len(allowed):
        raise WireError(f"the report holds {len(members)} arrays, at most {len(allowed)} expected")
    arrays, total = {}, 0
    for member in members:
        name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
        if name not in allowed or name in arrays:
            raise WireError(f"the report holds an unexpected array {name[:60]!r}")
        try:
            with archive.open(member) as fh:
                version = np.lib.format.read_magic(fh)
                if version not in _HEADER_READERS:
                    raise WireError(f"array {name!r} has .npy format {version}")
                shape, fortran, dtype = _HEADER_READERS[version](fh)
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                if dtype.hasobject or dtype.kind not in "biuf" or dtype.itemsize > 16:
                    raise WireError(f"array {name!r} has dtype {dtype}, not a number")
                if count > allowed[name] or any(d < 0 for d in shape):
                    raise WireError(f"array {name!r} declares shape {tuple(shape)}, larger "
                                    "than the case can produce")
                total += count * dtype.itemsize
                if total > max_total:
                    raise WireError(f"the report declares {total} bytes of arrays, more than "
                                    f"the task's outputs need ({max_total})")
                data = fh.read(count * dtype.itemsize)
                if len(data) != count * dtype.itemsize:
                    raise WireError(f"array {name!r} is shorter than its header says")
                arr = np.frombuffer(data, dtype=dtype)
                arrays[name] = (arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)).copy()
        except WireError:
            raise
        except (ValueError, OSError, zipfile.BadZipFile, EOFError, SyntaxError,
                TypeError, OverflowError) as exc:
            raise WireError(f"unreadable array {name[:60]!r}: {exc}") from None
    return arrays
