"""Sandboxed kernels forked from a template process instead of started from nothing.

Starting a Python kernel costs about a second of CPU (the interpreter, ipykernel's
imports) before the notebook's first cell imports numpy and matplotlib for another. A
grading process therefore keeps one template ("zygote"): a process that has imported
ipykernel and ``Grading.kernel_preload`` and then only waits. It never runs student code
and never holds anything of the grader's beyond those imports. For each submission:

1. the sandbox launcher (``launcher.py``, started by jupyter_client) starts bubblewrap
   with the submission's namespaces, mounts and cgroups around a placeholder process;
2. it asks the zygote for a kernel; the zygote forks a child that joins the submission's
   cgroups and rlimits, enters the placeholder's namespaces (``setns``: PID, mount,
   network, IPC, UTS, cgroup), and forks the kernel, which drops to the sandbox uid with
   no capabilities and no new privileges, takes the kernel environment, and starts
   ipykernel;
3. the zygote's child reports the kernel's pid, waits for it, and reports its exit to
   the launcher, which exits with it (so jupyter_client sees a kernel that died).

Each kernel is a fresh copy of a never-used template, so nothing passes between students;
the sandbox itself is built by bubblewrap exactly as for a kernel started from nothing.

``python -m autograder.running.zygote SOCKET MODULE...`` is the template; ``Zygote`` starts and
restarts it for a grading process.
"""
from __future__ import annotations

import ctypes
import gc
import importlib
import json
import select
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import asdict
from pathlib import Path

from .launcher import KERNEL_LOG, join_cgroups, kernel_env, set_rlimits
from .sandbox import GRADING_IN_SANDBOX, SCRATCH_IN_SANDBOX, ZYGOTE_PREFIX, SandboxSpec

PR_SET_NO_NEW_PRIVS = 38
NAMESPACES = ("ipc", "uts", "net", "cgroup", "pid", "mnt")   # mnt last: it moves our root
IMPORTS_ENV: dict[str, str] = {}     # set by ``serve``
# What every kernel imports while it starts, beyond ipykernel.kernelapp: its debugger
# (debugpy, a third of a second), IPython's debugger and object inspector, the storemagic
# extension, tornado's asyncio loop.
KERNEL_START_IMPORTS = ("ipykernel.debugger", "IPython.core.debugger", "IPython.core.oinspect",
                        "IPython.core.completerlib", "IPython.extensions.storemagic",
                        "tornado.platform.asyncio", "faulthandler")


class Zygote:
    """The template of one grading process: started on first use, restarted if it died
    or if the modules to preload changed. It exits, and removes its directory, when the
    grading process exits (however it ends)."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._preload: tuple[str, ...] = ()
        self._dir = ""
        self._lock = threading.Lock()      # a Dask worker may grade in several threads

    def address(self, preload: tuple[str, ...], home_files: dict[str, bytes]) -> str:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None or preload != self._preload:
                self.stop()
                self._start(preload, home_files)
            return f"{self._dir}/zygote.sock"

    def _start(self, preload: tuple[str, ...], home_files: dict[str, bytes]) -> None:
        # Named after this process, so that a later run's sweep (sandbox.sweep_stale)
        # removes it if it outlives us after a kill -9.
        self._dir = tempfile.mkdtemp(prefix=f"{ZYGOTE_PREFIX}{os.getpid()}-")
        home = Path(self._dir, "home")
        home.mkdir()
        for name, data in home_files.items():
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_bytes(data)
        # The template sees the kernels' home at the kernels' path (matplotlib remembers its
        # config directory from import time), on a view of the host that hides /home.
        argv = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/home",
                "--bind", str(home), SCRATCH_IN_SANDBOX, "--chdir", SCRATCH_IN_SANDBOX, "--",
                sys.executable, "-m", "autograder.running.zygote", f"{self._dir}/zygote.sock", *preload]
        env = kernel_env(SCRATCH_IN_SANDBOX, GRADING_IN_SANDBOX)
        env["PYTHONPATH"] += os.pathsep + str(Path(__file__).resolve().parents[2])
        log = open(f"{self._dir}/zygote.log", "wb")
        # Its standard input is a pipe only this process holds: closed, the template exits.
        self._proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=log)
        log.close()
        self._preload = preload
        if self._proc.stdout.readline() != b"ready\n":
            self._proc.wait()
            raise RuntimeError("the kernel template did not start: "
                               + Path(self._dir, "zygote.log").read_text(errors="replace")[-2000:])

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""


def serve(address: str, preload: list[str]) -> None:
    """Import, then fork a kernel per connection until standard input closes (the grading
    process stopped us, or exited however it ended); then remove the template's directory."""
    before = dict(os.environ)
    import ipykernel.kernelapp  # noqa: F401  (the point: imported once, here)
    for name in (*KERNEL_START_IMPORTS, *preload):
        importlib.import_module(name)
    if "numpy" in sys.modules:   # which each kernel reseeds (numpy imports it lazily)
        importlib.import_module("numpy.random")
    # A kernel's garbage collections would otherwise walk every object imported here,
    # writing to each and so copying the template's memory page by page (a tenth of a
    # second at start-up alone).
    gc.collect()
    gc.freeze()
    # What these imports put in the environment (the debugger sets a variable): a kernel
    # that imported them itself would see it too.
    IMPORTS_ENV.update({k: v for k, v in os.environ.items() if before.get(k) != v})
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(16)
    # Forked children report to their launcher; nobody waits for them here.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready:
            shutil.rmtree(Path(address).parent, ignore_errors=True)
            return
        conn, _ = listener.accept()
        # The request is read after the fork: the template never holds a submission's data.
        if os.fork() == 0:
            try:
                listener.detach()
                _forker(conn)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(1)
        conn.close()


def _forker(conn: socket.socket) -> None:
    """In the forked child (root, outside the sandbox): enter the submission's sandbox,
    fork the kernel, and report on it."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    request = json.loads(conn.makefile("rb").readline())
    spec = SandboxSpec.read(request["spec"])
    join_cgroups(spec.cgroups)
    set_rlimits(asdict(spec.limits), spec.cgroups)
    log = os.open(Path(request["spec"]).with_name(KERNEL_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    libc = ctypes.CDLL(None, use_errno=True)
    for kind in NAMESPACES:
        fd = os.open(f"/proc/{request['target']}/ns/{kind}", os.O_RDONLY)
        if libc.setns(fd, 0) != 0:
            raise OSError(ctypes.get_errno(), f"entering the sandbox's {kind} namespace")
        os.close(fd)
    os.chdir(SCRATCH_IN_SANDBOX)
    kernel = os.fork()
    if kernel == 0:
        try:
            os.close(conn.detach())
            _become_kernel(spec, request, libc)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(1)
    conn.sendall(json.dumps({"kernel": kernel, "forker": os.getpid()}).encode() + b"\n")
    _, status = os.waitpid(kernel, 0)
    conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    os._exit(0)


def _become_kernel(spec: SandboxSpec, request: dict, libc) -> None:
    """In the kernel process, inside the sandbox's namespaces: become what
    ``python -m ipykernel_launcher -f CONNECTION_FILE`` would be, as the sandbox user."""
    os.closerange(3, 1 << 16)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs")
    os.setgroups([])
    os.setresgid(spec.uid, spec.uid, spec.uid)
    os.setresuid(spec.uid, spec.uid, spec.uid)   # clears every capability
    os.environ.clear()
    os.environ.update(kernel_env(SCRATCH_IN_SANDBOX, GRADING_IN_SANDBOX) | IMPORTS_ENV)
    package_parent = str(Path(__file__).resolve().parents[2])
    sys.path[:] = [SCRATCH_IN_SANDBOX] + [p for p in sys.path[1:] if p != package_parent]
    # The template looked for modules where the sandbox's directories were not mounted yet.
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    for name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")]:
        del sys.modules[name]
    if "numpy" in sys.modules:   # a fork inherits the template's random state
        sys.modules["numpy"].random.seed()
    from ipykernel import kernelapp
    sys.argv = [kernelapp.__file__, "-f", request["connection_file"], *request["extra"]]
    try:
        kernelapp.launch_new_instance(argv=sys.argv[1:])
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    os._exit(0)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
