"""The kernel command of a sandboxed kernel: ``python -S launcher.py SPEC CONNECTION_FILE [ARGS...]``.

jupyter_client starts it (``execute.SandboxKernelSpecs``) as the kernel's process, as root.
It joins the submission's cgroups, sets the rlimits, has bubblewrap build the sandbox
around a placeholder, and has the grading process's kernel template (``zygote.py``) fork
the kernel into it; then it waits for that kernel and exits with its exit code, so that
jupyter_client sees a kernel that died. Without root (or bubblewrap) it execs a kernel with
rlimits only (``sandbox.missing_protections`` says what is not applied).

It runs once per submission before the kernel can start, so it imports only a few standard
modules and reads the sandbox's spec (``sandbox.SandboxSpec``, written by the grader, the
bubblewrap command line included) as plain JSON. The template's side uses the helpers
here too.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1
# Beside the sandbox's spec: the kernel's start-up output, and the sandbox's own processes.
KERNEL_LOG, KERNEL_PIDS = "kernel.log", "kernel.pids"


def kernel_env(home: str, grading: str) -> dict[str, str]:
    return {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HOME": home,
            "PYTHONPATH": grading, "AUTOGRADER_GRADING_DIR": grading,
            "MPLCONFIGDIR": f"{home}/.matplotlib", "IPYTHONDIR": f"{home}/.ipython",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NBGRADER_EXECUTION": "autograde", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}


def set_rlimits(limits: dict[str, int], cgroups: list[str]) -> None:
    """``limits``: the fields of ``sandbox.Limits``."""
    for res, value in ((resource.RLIMIT_CPU, limits["cpu_seconds"]),
                       (resource.RLIMIT_FSIZE, limits["file_bytes"]),
                       (resource.RLIMIT_NOFILE, limits["open_files"]),
                       (resource.RLIMIT_NPROC, limits["processes"] * 4),
                       (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))
    if not any("/memory/" in c for c in cgroups):   # no memory cgroup: address space
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))


def join_cgroups(cgroups: list[str]) -> None:
    for cgroup in cgroups:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def die_with_parent(parent_pid: int) -> None:
    """Be killed when the parent process dies, and exit now if ``parent_pid`` already did
    (it died before the kernel armed the signal: we are an orphan no one would stop)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        sys.exit("the grading process is gone")


def request_kernel(address: str, spec_path: str, target_pid: int, connection_file: str,
                   extra: list[str]) -> socket.socket:
    """Ask the template for a kernel in the namespaces of ``target_pid``. The returned
    connection carries one line ``{"kernel": pid, "forker": pid}`` and later one line
    ``{"exit": code}``."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(address)
    conn.sendall(json.dumps({"spec": spec_path, "target": target_pid,
                             "connection_file": connection_file, "extra": extra}).encode() + b"\n")
    return conn


def write_kernel_pids(spec_path: str, pids: list[int]) -> None:
    """The sandbox's own processes (launcher, bubblewrap, placeholder, kernel): everything
    else in its cgroups is the submission's leftovers (``Sandbox.kill_strays``)."""
    with open(os.path.join(os.path.dirname(spec_path), KERNEL_PIDS), "w") as f:
        f.write(" ".join(map(str, pids)))


def main(argv: list[str]) -> None:
    spec_path, connection_file, extra = argv[0], argv[1], argv[2:]
    with open(spec_path) as f:
        spec = json.load(f)
    # The kernel's own stdout/stderr (start-up errors) go to a log the grader can show.
    log = os.open(os.path.join(os.path.dirname(spec_path), KERNEL_LOG),
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    join_cgroups(spec["cgroups"])
    # If the grading process dies (kill -9), so does this process and with it the
    # sandbox: jupyter_client puts kernels in a session of their own.
    die_with_parent(spec["owner_pid"])
    set_rlimits(spec["limits"], spec["cgroups"])
    if not spec["isolate"]:
        write_kernel_pids(spec_path, [os.getpid()])
        os.chdir(spec["scratch"])
        os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *extra],
                  kernel_env(spec["scratch"], spec["grading_dir"]))
    # jupyter_client writes the connection file 0600 for its own user.
    os.chown(connection_file, spec["uid"], spec["uid"])
    sys.exit(_run_forked_kernel(spec, spec_path, connection_file, extra))


def _run_forked_kernel(spec: dict, spec_path: str, connection_file: str, extra: list[str]) -> int:
    """Build the sandbox with bubblewrap around a placeholder, have the kernel template
    fork a kernel into it, and wait for that kernel. Returns its exit code."""
    info_r, info_w = os.pipe()
    ready_r, ready_w = os.pipe()
    # The placeholder reads a pipe only this process can write to, so it ends, and with it
    # the sandbox, once this process is gone however it ended. (bwrap's --die-with-parent
    # misses a parent that dies before bwrap has armed it.)
    life_r, life_w = os.pipe()
    os.set_inheritable(info_w, True)
    # The placeholder says "ready" once bubblewrap has finished building the sandbox.
    holder = os.posix_spawnp(
        "bwrap", spec["bwrap"] + ["--info-fd", str(info_w), "--", "/bin/sh", "-c",
                                  "echo ready; exec /bin/cat >/dev/null"], os.environ,
        file_actions=[(os.POSIX_SPAWN_DUP2, life_r, 0), (os.POSIX_SPAWN_DUP2, ready_w, 1)])
    for fd in (info_w, ready_w, life_r):
        os.close(fd)
    if os.read(ready_r, 16) != b"ready\n":
        return 1
    target = json.loads(os.read(info_r, 4096))["child-pid"]
    with request_kernel(spec["zygote"], spec_path, target, connection_file, extra) as conn:
        reports = conn.makefile("rb")
        started = reports.readline()
        if not started:
            print("the kernel template did not start a kernel", file=sys.stderr)
            return 1
        started = json.loads(started)
        with open(f"/proc/{target}/task/{target}/children") as f:
            placeholder = f.read().split()
        write_kernel_pids(spec_path, [os.getpid(), holder, target, *map(int, placeholder),
                                      started["forker"], started["kernel"]])
        ended = reports.readline()
    code = json.loads(ended)["exit"] if ended else 1
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    main(sys.argv[1:])
