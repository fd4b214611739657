"""The trusted verifier: a Unix-socket server in the grading process that hands the hidden
inputs to the in-kernel harness and scores the reports it sends back.

Both happen only while the hidden test cell of that task is executing: no earlier cell can
fetch the inputs, and only the first report that passes the checks of ``wire`` is
recorded, so earlier cells, later cells, or repeated calls cannot change a task's verdict.
Each connection is served on its own thread with a deadline, and at most a few at once, so
a connection that never sends, or a flood of them, costs that student's kernel its own
time and nothing else. Everything refused is kept (one line each) for the reasons.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from typing import Optional

from .cases import CaseSet
from .scoring import TaskVerdict, time_verdict, verify_task
from .wire import WireError, load_arrays, pack_arrays, read_frame, write_frame

CONNECTIONS = 4            # served at once; more are closed unread
CONNECTION_SECONDS = 30.0  # for a whole request to arrive
MAX_PROBLEMS = 20


class Verifier:
    def __init__(self, caseset: CaseSet, socket_path: str):
        self.caseset = caseset
        self.socket_path = socket_path
        self.verdicts: dict[str, TaskVerdict] = {}
        self.problems: list[str] = []              # refused requests, for the reasons
        self.current_task: Optional[str] = None    # the hidden test cell now executing
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(CONNECTIONS)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(socket_path)
        os.chmod(socket_path, 0o666)
        self._sock.listen(16)
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
            if not self._slots.acquire(blocking=False):
                self._refuse(f"more than {CONNECTIONS} connections to the verifier at once")
                conn.close()
                continue
            threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            with conn:
                try:
                    header, body = self._answer(conn)
                except WireError as exc:
                    self._refuse(str(exc))
                    header, body = {"error": str(exc)}, b""
                except Exception as exc:  # a request no check foresaw is refused, never fatal
                    self._refuse(f"a request the verifier could not read ({type(exc).__name__})")
                    header, body = {"error": "unreadable request"}, b""
                try:
                    conn.settimeout(5)
                    write_frame(conn, header, body)
                except OSError:
                    pass
        finally:
            self._slots.release()

    def _refuse(self, why: str) -> None:
        with self._lock:
            line = f"the verifier refused a request: {why}"
            if line not in self.problems and len(self.problems) < MAX_PROBLEMS:
                self.problems.append(line)

    def _answer(self, conn: socket.socket) -> tuple[dict, bytes]:
        header, body = read_frame(conn, time.monotonic() + CONNECTION_SECONDS)
        task_name, op = header.get("task"), header.get("op")
        with self._lock:
            current = self.current_task
        if task_name != current or task_name not in self.caseset.assignment.task_by_name:
            raise WireError(f"a request for {str(task_name)[:40]!r} outside its hidden test cell")
        if op == "inputs":
            spec, arrays = self.caseset.task_view(task_name)
            return {"cases": spec}, pack_arrays(arrays)
        if op != "report":
            raise WireError(f"an unknown request {str(op)[:20]!r}")
        limits = self.caseset.report_limits(task_name)
        arrays = load_arrays(body, limits, 8 * sum(limits.values()))
        with self._lock:
            if task_name not in self.verdicts:
                self.verdicts[task_name] = self._score(task_name, header, arrays)
            verdict = self.verdicts[task_name]
        lines = verdict.lines()
        if self.caseset.assignment.task_by_name[task_name].timed:
            lines.append("  (the speed is judged from this cell's time when the cell ends)")
        return {"lines": lines, "points": verdict.points, "max_points": verdict.max_points}, b""

    def finish_timed(self, task_name: str, seconds: float) -> None:
        """Judge the timed task's verdict by its hidden cell's wall time, taken outside the
        kernel once the cell ended (a cell that reported nothing keeps no verdict)."""
        with self._lock:
            verdict = self.verdicts.get(task_name)
            if verdict is None or verdict.problem:
                return
            try:
                self.verdicts[task_name] = time_verdict(verdict, self.caseset, seconds)
            except Exception as exc:  # a judge's bug costs the speed points, never the run
                self.verdicts[task_name] = TaskVerdict(
                    task_name, verdict.max_points, [],
                    f"the speed could not be judged ({type(exc).__name__})")

    def _score(self, task_name: str, header: dict, arrays: dict) -> TaskVerdict:
        task = self.caseset.assignment.task_by_name[task_name]
        try:
            return verify_task(task, self.caseset, header, arrays)
        except Exception as exc:  # a report no check foresaw scores 0, it never stops us
            return verify_task(task, self.caseset, None, {},
                               problem=f"the report could not be checked: {type(exc).__name__}")
