"""``SandboxedExecute``: nbgrader's Execute preprocessor with the kernel in the sandbox
and the hidden tests scored by the trusted verifier.

It replaces ``Execute`` in ``Autograde.autograde_preprocessors`` (see nbgrader_config.py).
Per notebook it builds the sandbox, starts the verifier, runs every cell in the sandboxed
kernel within the per-cell and per-submission time limits, keeps at most
``Grading.max_output_bytes`` of output per cell, and when the kernel dies or stops
answering marks the remaining cells as not run instead of failing the whole notebook.
What it observed goes to ``<work_dir>/verification.json``, which the grading worker reads.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from nbgrader.utils import determine_grade
from traitlets import Unicode

from ..assignment import load_folder
from ..grading.settings import Grading
from ..verifying.cases import CaseSet
from ..verifying.verifier import Verifier
from .sandbox import KERNEL_NAME, Sandbox, missing_protections
from .zygote import Zygote

HARNESS = Path(__file__).with_name("harness.py")
LAUNCHER = Path(__file__).with_name("launcher.py")
MAX_TIMED_CELLS = 100
# This grading process's kernel template (see zygote.py).
ZYGOTE = Zygote()


class SandboxKernelSpecs(KernelSpecManager):
    """Serves the one kernelspec whose command is this module's launcher."""

    def __init__(self, spec_path: str, **kwargs):
        super().__init__(**kwargs)
        self._spec_path = spec_path

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        # -S: the launcher needs only the standard library, and runs no site hooks as root.
        # No input history: its SQLite file costs every kernel a tenth of a second to start.
        return KernelSpec(argv=[sys.executable, "-S", str(LAUNCHER), self._spec_path,
                                "{connection_file}", "--HistoryManager.enabled=False"],
                          display_name="Python 3 (grading sandbox)", language="python",
                          interrupt_mode="message", resource_dir="")


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's kernel client, but ready as soon as its own ``kernel_info`` request
    has been answered on the shell channel and IOPub has delivered a message, which proves
    IOPub subscribed: ipykernel greets each new subscriber (``iopub_welcome``), and older
    kernels publish the request's "idle" status. jupyter_client's own client instead waits
    for IOPub to stay quiet for 0.2 s, a fifth of a second of every submission."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (math.inf if timeout is None else timeout)
        while True:
            request = self.kernel_info()
            reply = await _first(self.shell_channel, 1.0,
                                 lambda m: m["parent_header"].get("msg_id") == request
                                 and m["msg_type"] == "kernel_info_reply")
            # Nothing on IOPub within 0.2 s: it was not subscribed yet and lost the
            # request's status; ask again.
            if reply is not None and await _first(self.iopub_channel, 0.2, lambda m: True):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


async def _first(channel, quiet: float, wanted) -> dict | None:
    """The first message on ``channel`` that is ``wanted``; None once no message has come
    for ``quiet`` seconds."""
    while True:
        try:
            msg = await channel.get_msg(timeout=quiet)
        except Empty:
            return None
        if wanted(msg):
            return msg


@lru_cache(maxsize=1)
def matplotlib_font_cache() -> dict[str, bytes]:
    """The grader's own matplotlib font list, seeded into each scratch directory so the
    student's kernel does not rebuild it (it names only fonts of the read-only install)."""
    from matplotlib import font_manager, get_cachedir
    name = f"fontlist-v{font_manager.FontManager.__version__}.json"
    path = Path(get_cachedir()) / name
    return {f".matplotlib/{name}": path.read_bytes()} if path.exists() else {}


def start_kernel_template(preload) -> str:
    """The address of this grading process's kernel template (started if needed)."""
    return ZYGOTE.address(tuple(preload), matplotlib_font_cache())


@lru_cache(maxsize=4)
def caseset_for(folder: str, seed: int) -> CaseSet:
    """The cases, inputs and reference outputs of the assignment whose grading folder is
    ``folder``: computed once per process."""
    return CaseSet.build(load_folder(Path(folder)), seed)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _unscored(cell) -> None:
    """A grade cell that is no task's hidden test cell is a public check worth 0 points (it
    makes ``nbgrader validate`` fail, never the score). nbgrader reads an ``execute_result``
    in a grade cell as its partial score, and one above 0 points crashes SaveAutoGrades; only
    student code can put one there (``sys.displayhook``), so it is kept as a display."""
    for i, out in enumerate(cell.outputs):
        if out.get("output_type") == "execute_result":
            cell.outputs[i] = NotebookNode(output_type="display_data", data=out.get("data", {}),
                                           metadata=out.get("metadata", {}))


class SandboxedExecute(Execute):
    work_dir = Unicode("", help="Private directory for this submission's sandbox and "
                               "verification record (set per submission).").tag(config=True)
    assignment_folder = Unicode("", help="The grading folder of the assignment being graded "
                                         "(set per submission).").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        started = time.perf_counter()
        settings = Grading(config=self.config)
        work = Path(self.work_dir or resources["metadata"]["path"])
        caseset = caseset_for(self.assignment_folder, settings.seed)
        self._tasks = caseset.assignment.task_by_test_id
        coursedir = CourseDirectory(config=self.config)
        release = Path(coursedir.format_path(coursedir.release_directory, ".",
                                             resources["nbgrader"]["assignment"]))
        helpers = {p.name: p.read_bytes() for p in release.iterdir()
                   if p.is_file() and p.suffix != ".ipynb"} | matplotlib_font_cache()
        student = resources["nbgrader"]["student"]
        self._sandbox = Sandbox(work / f"sandbox-{os.getpid()}",
                                settings.sandbox_uid_base + os.getpid() % 1000, settings.limits(),
                                name=re.sub(r"[^\w.-]", "_", student)[:60]
                                + f"-{os.getpid()}-{time.time_ns()}")
        if self._sandbox.isolate:
            self._sandbox.spec.zygote = start_kernel_template(settings.kernel_preload)
        self._sandbox.create(helpers, {"autograder_harness.py": HARNESS.read_bytes(),
                                      "autograder_calls.py": caseset.assignment.calls.read_bytes()})
        # Where a submission's time goes (seconds), for benchmarks/grading_speed.py.
        self._phases = {"sandbox": time.perf_counter() - started, "kernel start": 0.0,
                        "notebook cells": 0.0, "hidden test cells": 0.0}
        self._ready = time.perf_counter()
        self._cells_done: float | None = None
        self._settings = settings
        self._configured_timeout = settings.cell_timeout.get(resources["nbgrader"]["assignment"],
                                                             self.timeout)
        self._deadline = time.monotonic() + settings.submission_seconds
        self._problem = ""
        self._out_bytes: dict[int, int] = {}
        record = self._record = {"verdicts": {}, "problem": "", "events": [],
                                 "disagreements": [], "in_kernel": {}, "timeouts": [],
                                 "strays": [], "refused": [],
                                 "missing_protections": missing_protections(),
                                 "phases": self._phases}
        try:
            with Verifier(caseset, f"{self._sandbox.spec.grading_dir}/verifier.sock") as verifier:
                self._verifier = verifier
                try:
                    nb, resources = super().preprocess(nb, resources, km)
                finally:
                    record["verdicts"] = {k: v.to_dict() for k, v in verifier.verdicts.items()}
                    record["refused"] = verifier.problems
        except Exception as exc:  # the kernel never started: nothing of the student's ran
            self._problem = self._problem or (f"the kernel could not run: {exc}\n"
                                              f"{self._sandbox.kernel_log()}")
            raise
        finally:
            record["events"] = self._sandbox.events() + (
                ["disk limit hit (the scratch directory is full)"] if self._sandbox.disk_full() else [])
            record["problem"] = self._problem
            ended = time.perf_counter()
            if self._cells_done is not None:
                self._phases["kernel shutdown"] = ended - self._cells_done
            self._sandbox.destroy()
            self._phases["sandbox teardown"] = time.perf_counter() - ended
            self._phases["execute"] = time.perf_counter() - started
            (work / "verification.json").write_text(json.dumps(record))
        return nb, resources

    def create_kernel_manager(self):
        runtime = self._sandbox.spec.runtime_dir
        self.km = self.kernel_manager_class(
            kernel_name=KERNEL_NAME, config=self.config,
            kernel_spec_manager=SandboxKernelSpecs(str(self._sandbox.spec_path)),
            client_factory=PromptKernelClient,
            transport="ipc", ip=f"{runtime}/kernel",
            connection_file=f"{runtime}/kernel.json")
        # The kernel binds its sockets a tenth of a second after it is launched, and the
        # client's sockets, connected at once, retry every 0.1 s by default.
        self.km.context.setsockopt(zmq.RECONNECT_IVL, 2)
        return self.km

    def preprocess_cell(self, cell, resources, index):
        try:
            return self._run_cell(cell, resources, index)
        finally:
            if index == len(self.nb.cells) - 1:
                # The kernel has nothing left to do. Ended here, it is already dead when
                # nbclient shuts it down, which would otherwise poll for its end every 0.1 s.
                self._sandbox.kill_all()

    def _run_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if not self._problem and time.monotonic() >= self._deadline:
            self._problem = (f"submission time limit ({self._settings.submission_seconds} s) "
                             "reached")
        if self._problem:
            cell.outputs = [_error("NotRun", f"not run: {self._problem}")]
            return cell, resources
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        task = self._tasks.get(grade_id) if cell.metadata.get("nbgrader", {}).get("grade") else None
        is_check = task is None and bool(cell.metadata.get("nbgrader", {}).get("grade"))
        self.timeout = max(1, min(self._configured_timeout, math.ceil(self._deadline - time.monotonic())))
        self._verifier.current_task = task.name if task else None
        self._reaper, self._reaped = None, 0
        started = time.perf_counter()
        if self._ready is not None:     # the kernel has started: this is its first cell
            self._phases["kernel start"] = started - self._ready
            self._ready = None
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            seconds = time.perf_counter() - started
            self._phases["hidden test cells" if task else "notebook cells"] += seconds
            # By its id (student-chosen text in the student's own cells: made a plain word,
            # at most MAX_TIMED_CELLS of them), for the benchmark's table of cells.
            if grade_id and len(self._phases) < MAX_TIMED_CELLS:
                self._phases["cell " + re.sub(r"[^\w.-]", "_", grade_id)[:60]] = seconds
            self._time(task, started)
            if self._reaper is not None:
                self._reaper.set()
                self._sandbox.hold_processes(False)
            killed = self._reaped + self._sandbox.kill_strays()
            if killed:
                self._record["strays"].append(f"cell {grade_id or index} left {killed} "
                                              "processes running (killed)")
            if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                self._record["timeouts"].append(
                    f"cell {grade_id or index} timed out after {self.timeout} s (interrupted)")
            if task:
                self._settle(task, cell)
            elif is_check:
                _unscored(cell)
            return cell, resources
        except DeadKernelError:
            events = self._sandbox.events()
            self._problem = "the kernel died" + (f": {', '.join(events)}" if events else "")
        except CellTimeoutError:
            self._problem = (f"the kernel stopped responding after the {self.timeout} s "
                             "cell timeout (interrupt ignored)")
            self._sandbox.kill_all()
            run_sync(self.km.shutdown_kernel)(now=True)
        finally:
            self._cells_done = time.perf_counter()
            self._verifier.current_task = None
            if self._reaper is not None:
                self._reaper.set()
                self._sandbox.hold_processes(False)
        if is_check:
            _unscored(cell)
        cell.outputs.append(_error("KernelError", self._problem))
        if task:
            self._time(task, started)
            self._settle(task, cell)
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        # A cell over its time may have filled the sandbox with processes that starve the
        # kernel of CPU: keep clearing them until the cell ends, so the interrupt is handled.
        if self._reaper is None:
            self._sandbox.hold_processes(True)
            self._reaper = threading.Event()
            threading.Thread(target=self._reap, args=(self._reaper,), daemon=True).start()
        return await super()._async_handle_timeout(timeout, cell)

    def _reap(self, stop: threading.Event) -> None:
        while not stop.wait(0.05):
            self._reaped += self._sandbox.kill_strays()

    def _time(self, task, started: float) -> None:
        """A timed task is judged by its hidden cell's wall time, taken here, outside the
        kernel: the cell's inputs reached the kernel only when it started."""
        if task is not None and task.timed:
            self._verifier.finish_timed(task.name, time.perf_counter() - started)

    def _settle(self, task, cell) -> None:
        """Compare what the notebook shows for a hidden test cell with the verifier's
        verdict, record any disagreement, and show the verdict in the cell."""
        verdict = self._verifier.verdicts.get(task.name)
        verified = verdict.points if verdict else 0.0
        try:
            shown, _ = determine_grade(cell)
            why = f"the notebook's output scored {shown:g}"
        except (ValueError, TypeError) as exc:
            shown, why = None, f"the notebook's output could not be scored ({exc})"
        # The notebook cannot know a timed task's score: it is decided after the cell.
        if not task.timed and (shown is None or abs(shown - verified) > 1e-6):
            self._record["disagreements"].append(
                f"disagreement on {task.name}: {why}, the verifier {verified:g}")
        self._record["in_kernel"][task.name] = shown
        lines = verdict.lines() if verdict else [
            f"{task.name}: no result reached the verifier"
            + (f" ({self._problem})" if self._problem else "") + f"; 0 / {task.points:g} points"]
        outputs = [NotebookNode(output_type="stream", name="stdout", text="\n".join(lines) + "\n")]
        if verified > 0:
            outputs.append(NotebookNode(output_type="execute_result", execution_count=None,
                                        metadata={}, data={"text/plain": repr(verified)}))
        else:
            outputs.append(_error("HiddenTestsFailed", f"0 / {task.points:g} points"))
        cell.outputs = outputs

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        used = self._out_bytes.get(cell_index, 0)
        self._out_bytes[cell_index] = used + size
        limit = self._settings.max_output_bytes
        if used + size <= limit:
            return super().output(outs, msg, display_id, cell_index)
        if used <= limit:
            note = NotebookNode(output_type="stream", name="stdout",
                                text=f"\n[output truncated: more than {limit} bytes]\n")
            outs.append(note)
        return None
