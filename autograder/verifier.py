"""The trusted verifier: a Unix-socket server in the grading process that scores the
reports the in-kernel harness sends.

Only a report that arrives while the hidden test cell of that task is executing is
recorded, and only the first one: earlier cells, later cells, or repeated calls cannot
change a task's verdict. The recorded verdicts are the scores that go to the gradebook.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from typing import Optional

from .cases import CaseSet
from .tasks import TASK_BY_NAME
from .verify import MAX_REPORT_BYTES, TaskVerdict, load_report_arrays, verify_task

MAX_HEADER_BYTES = 2**20


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    chunks, size = [], 0
    while size < n:
        chunk = conn.recv(min(65536, n - size))
        if not chunk:
            raise ValueError("report ended early")
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Verifier:
    def __init__(self, caseset: CaseSet, socket_path: str):
        self.caseset = caseset
        self.socket_path = socket_path
        self.verdicts: dict[str, TaskVerdict] = {}
        self.current_task: Optional[str] = None   # the hidden test cell now executing
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(socket_path)
        os.chmod(socket_path, 0o666)
        self._sock.listen(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "Verifier":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)    # wakes the waiting accept()
        except OSError:
            pass
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._stop.is_set():     # shut down by __exit__
                    break
                time.sleep(0.05)
                continue
            with conn:
                conn.settimeout(30)
                try:
                    reply = self._handle(conn)
                except (OSError, ValueError) as exc:
                    reply = {"lines": [f"the report could not be read: {exc}"], "points": 0,
                             "max_points": 0}
                try:
                    conn.sendall(json.dumps(reply).encode())
                except OSError:
                    pass

    def _handle(self, conn: socket.socket) -> dict:
        head_len, body_len = struct.unpack(">QQ", _recv_exact(conn, 16))
        if head_len > MAX_HEADER_BYTES or body_len > MAX_REPORT_BYTES:
            raise ValueError("report too large")
        header = json.loads(_recv_exact(conn, head_len).decode())
        payload = _recv_exact(conn, body_len)
        task_name = header.get("task") if isinstance(header, dict) else None
        with self._lock:
            current = self.current_task
            if task_name != current or task_name not in TASK_BY_NAME:
                raise ValueError(f"a report for {task_name!r} is only accepted while its "
                                 "hidden test cell runs")
            if task_name not in self.verdicts:
                self.verdicts[task_name] = self._score(task_name, header, payload)
            verdict = self.verdicts[task_name]
        return {"lines": verdict.lines(), "points": verdict.points,
                "max_points": verdict.max_points}

    def _score(self, task_name: str, header: dict, payload: bytes) -> TaskVerdict:
        task = TASK_BY_NAME[task_name]
        try:
            arrays = load_report_arrays(payload)
        except ValueError as exc:
            return verify_task(task, self.caseset, None, {}, problem=str(exc))
        try:
            return verify_task(task, self.caseset, header, arrays)
        except Exception as exc:  # a report no check foresaw scores 0, it never stops us
            return verify_task(task, self.caseset, None, {},
                               problem=f"the report could not be checked: {type(exc).__name__}")
