"""OS isolation for everything that runs student code.

A sandboxed kernel runs as an unprivileged uid inside bubblewrap: new mount, PID, network,
IPC and UTS namespaces; a filesystem that holds only the system, the Python installation
(read-only), the submission's scratch directory and the read-only grading directory; rlimits
on CPU time, file size, open files and processes; cgroup v1 limits on memory and
processes; a size-limited tmpfs for scratch and /tmp. Killing the kernel's PID namespace
and cgroup ends every process of the submission.

The kernel command (``launcher.py``, run as root) joins the cgroups, sets the rlimits, has
bubblewrap build the sandbox around a placeholder (with the command line built here), and
has the grading process's kernel template (``zygote.py``) fork the kernel into it. Without
root (or bubblewrap) it execs a kernel with rlimits only, and ``missing_protections`` says
plainly what is not applied.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, asdict, field
from pathlib import Path

from .launcher import KERNEL_LOG, KERNEL_PIDS

CGROUP_ROOT = Path("/sys/fs/cgroup")
KERNEL_NAME = "autograder-sandbox"
SCRATCH_IN_SANDBOX = "/home/student"
GRADING_IN_SANDBOX = "/autograder"
ZYGOTE_PREFIX = "autograder-zygote-"    # kernel template directories: + the grading pid + "-"


@dataclass
class Limits:
    memory_bytes: int = 2 * 2**30
    cpu_seconds: int = 300
    processes: int = 64
    file_bytes: int = 64 * 2**20
    open_files: int = 256
    disk_bytes: int = 256 * 2**20


def _root() -> bool:
    return os.geteuid() == 0


def can_isolate() -> bool:
    """Whether kernels run in bubblewrap (root and bubblewrap present)."""
    return _root() and bool(shutil.which("bwrap"))


def _cgroup(controller: str) -> Path | None:
    base = CGROUP_ROOT / controller
    return base if _root() and (base / "cgroup.procs").exists() else None


def missing_protections() -> list[str]:
    """Protections this machine cannot apply (empty when fully sandboxed)."""
    missing = []
    if not _root():
        missing.append("not root: student code runs as the grader's own user, with no "
                       "namespaces, no private filesystem view and no cgroup limits")
    elif not shutil.which("bwrap"):
        missing.append("bubblewrap (bwrap) not installed: no namespaces, network or "
                       "private filesystem view")
    if _root() and not _cgroup("memory"):
        missing.append("no cgroup v1 memory controller: memory is limited by RLIMIT_AS only")
    if _root() and not _cgroup("pids"):
        missing.append("no cgroup v1 pids controller: processes are limited by RLIMIT_NPROC only")
    return missing


@dataclass
class SandboxSpec:
    scratch: str
    grading_dir: str
    runtime_dir: str
    uid: int
    limits: Limits
    cgroups: list[str] = field(default_factory=list)
    isolate: bool = True
    owner_pid: int = 0      # the grading process, which starts the launcher
    zygote: str = ""        # the kernel template's socket (isolated sandboxes)
    bwrap: list[str] = field(default_factory=list)   # the launcher's bubblewrap command

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)

    @classmethod
    def read(cls, path: str) -> "SandboxSpec":
        d = json.loads(Path(path).read_text())
        return cls(**(d | {"limits": Limits(**d["limits"])}))


class Sandbox:
    """The directories, mounts and cgroups of one submission's sandbox."""

    def __init__(self, base: Path, uid: int, limits: Limits, name: str):
        self.base = base
        self.name = name
        self.isolate = can_isolate()
        self.spec = SandboxSpec(str(base / "scratch"), str(base / "grading"),
                                str(base / "runtime"), uid, limits, isolate=self.isolate,
                                owner_pid=os.getpid())
        self.spec_path = base / "sandbox.json"
        self._mounted = False

    def create(self, helper_files: dict[str, bytes], grading_files: dict[str, bytes]) -> None:
        scratch, grading, runtime = (Path(p) for p in
                                     (self.spec.scratch, self.spec.grading_dir, self.spec.runtime_dir))
        for d in (scratch, grading, runtime):
            d.mkdir(parents=True)
        self.base.chmod(0o711)
        if self.isolate:
            subprocess.run(["mount", "-t", "tmpfs", "-o",
                            f"size={self.spec.limits.disk_bytes},mode=0700", "tmpfs", str(scratch)],
                           check=True)
            self._mounted = True
        for name, data in helper_files.items():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_bytes(data)
        for name, data in grading_files.items():
            (grading / name).write_bytes(data)
            (grading / name).chmod(0o644)
        grading.chmod(0o755)
        if _root():
            for d in (scratch, runtime):
                for p in [d, *d.rglob("*")]:
                    os.chown(p, self.spec.uid, self.spec.uid)
        self.spec.cgroups = self._make_cgroups()
        self.spec.bwrap = _bwrap_argv(self.spec)
        self.spec.write(self.spec_path)

    def _make_cgroups(self) -> list[str]:
        made = []
        name = f"autograder/{self.name}"
        for controller, settings in (
                ("memory", {"memory.limit_in_bytes": self.spec.limits.memory_bytes}),
                ("pids", {"pids.max": self.spec.limits.processes}),
                # At most one core per submission: a fork bomb cannot starve the others.
                ("cpu", {"cpu.cfs_period_us": 100000, "cpu.cfs_quota_us": 100000})):
            root = _cgroup(controller)
            if root is None:
                continue
            path = root / name
            path.mkdir(parents=True, exist_ok=True)
            for key, value in settings.items():
                (path / key).write_text(str(value))
            made.append(str(path))
        return made

    def kernel_log(self, limit: int = 2000) -> str:
        """The end of the kernel's own start-up output, for a kernel that did not start."""
        path = self.base / KERNEL_LOG
        return path.read_text(errors="replace")[-limit:] if path.exists() else ""

    def events(self) -> list[str]:
        """Resource limits the submission ran into, as sentences."""
        found = []
        for path in map(Path, self.spec.cgroups):
            if "/memory/" in str(path):
                oom = (path / "memory.oom_control").read_text()
                kills = [int(l.split()[1]) for l in oom.splitlines() if l.startswith("oom_kill ")]
                if (kills and kills[0]) or int((path / "memory.failcnt").read_text()):
                    found.append(f"memory limit hit ({self.spec.limits.memory_bytes // 2**20} MiB)")
            elif (path / "pids.events").exists():
                hits = int((path / "pids.events").read_text().split()[1])
                if hits:
                    found.append(f"process limit hit ({self.spec.limits.processes} processes)")
        return found

    def disk_full(self) -> bool:
        usage = shutil.disk_usage(self.spec.scratch)
        return self._mounted and usage.used >= 0.95 * usage.total

    def _pids_cgroup(self) -> Path | None:
        return next((Path(p) for p in self.spec.cgroups if "/pids/" in p), None)

    def _procs(self) -> list[int]:
        path = self._pids_cgroup()
        return [int(p) for p in (path / "cgroup.procs").read_text().split()] if path else []

    def hold_processes(self, hold: bool) -> None:
        """While held, the submission cannot start processes or threads (a fork bomb stops
        refilling what ``kill_strays`` clears); released, the normal limit applies again."""
        path = self._pids_cgroup()
        if path:
            (path / "pids.max").write_text("1" if hold else str(self.spec.limits.processes))

    def kill_strays(self) -> int:
        """Kill the submission's processes other than the kernel and the sandbox's own
        (what a cell left behind: background jobs, daemons, fork bombs). Returns how many
        were killed."""
        pids = self.base / KERNEL_PIDS      # written by the launcher once the kernel runs
        if not pids.exists():
            return 0
        keep = {int(p) for p in pids.read_text().split()}
        strays = [p for p in self._procs() if p not in keep]
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(strays)

    def kill_all(self) -> None:
        """SIGKILL every process left in the submission's cgroups."""
        for path in map(Path, self.spec.cgroups):
            _empty(path)

    def destroy(self) -> None:
        self.kill_all()
        for path in map(Path, self.spec.cgroups):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)
        if self._mounted:
            subprocess.run(["umount", "-l", self.spec.scratch], check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def _empty(cgroup: Path) -> None:
    """SIGKILL the processes of a cgroup until none is left (a fork can race a kill)."""
    for attempt in range(60):
        pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Killed processes leave within a few milliseconds; a fork bomb takes longer.
        time.sleep(min(0.02, 0.0005 * 2 ** attempt))


def sweep_stale() -> list[str]:
    """Remove what sandboxes of killed grading runs left (their grading process is gone):
    processes still in their cgroups, the cgroups, scratch tmpfs mounts and kernel template
    directories. Returns what it removed."""
    removed = []
    for line in Path("/proc/mounts").read_text().splitlines():
        mount = line.split()[1]
        owner = re.search(r"/sandbox-(\d+)/scratch$", mount)
        if owner and line.startswith("tmpfs ") and not Path(f"/proc/{owner.group(1)}").exists():
            subprocess.run(["umount", "-l", mount], check=False)
            removed.append(mount)
    for template in Path(tempfile.gettempdir()).glob(f"{ZYGOTE_PREFIX}*"):
        owner = re.match(rf"{ZYGOTE_PREFIX}(\d+)-", template.name)
        if owner and not Path(f"/proc/{owner.group(1)}").exists():
            shutil.rmtree(template, ignore_errors=True)
            removed.append(str(template))
    for controller in ("memory", "pids", "cpu"):
        root = _cgroup(controller)
        for group in (root / "autograder").glob("*") if root else ():
            pid = re.search(r"-(\d+)-\d+$", group.name)
            if not (group.is_dir() and pid) or Path(f"/proc/{pid.group(1)}").exists():
                continue
            _empty(group)
            try:
                group.rmdir()
                removed.append(str(group))
            except OSError:
                pass
    return removed


def _bwrap_argv(spec: SandboxSpec) -> list[str]:
    argv = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(64 * 2**20), "--tmpfs", "/tmp"]
    # The Python installation read-only at its own path, and the kernel's connection
    # directory at its own path (the client names its sockets by host path).
    binds = [("--ro-bind", p, p) for p in sorted({sys.base_prefix, sys.prefix})
             if not p.startswith("/usr/")]
    binds += [("--bind", spec.scratch, SCRATCH_IN_SANDBOX),
              ("--ro-bind", spec.grading_dir, GRADING_IN_SANDBOX),
              ("--bind", spec.runtime_dir, spec.runtime_dir)]
    for kind, src, dest in binds:
        # bwrap would give missing parents the host's modes (/root is 0700): make them
        # traversable for the sandbox user.
        parts = Path(dest).parts
        for i in range(2, len(parts)):
            argv += ["--perms", "0755", "--dir", str(Path(*parts[:i]))]
        argv += [kind, src, dest]
    # Only the placeholder runs under bubblewrap itself; the kernel's environment and
    # working directory are set by the kernel template (zygote.py).
    return argv + ["--clearenv"]
