"""The sandbox's own promises that the end-to-end corpus does not show directly."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from autograder.running import sandbox
from autograder.running.execute import LAUNCHER


def test_without_root_it_says_which_protections_are_missing(monkeypatch):
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    missing = sandbox.missing_protections()
    assert len(missing) == 1 and "not root" in missing[0]
    assert "no namespaces" in missing[0] and "no cgroup limits" in missing[0]


def test_without_bubblewrap_it_says_so(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    if os.geteuid() != 0:
        pytest.skip("needs root")
    assert any("bubblewrap" in m for m in sandbox.missing_protections())


@pytest.mark.skipif(not os.environ.get("CI") and (os.geteuid() != 0 or not shutil.which("bwrap")),
                    reason="needs root and bwrap (never skipped in CI)")
def test_this_machine_applies_every_protection():
    # CI runs as root with bubblewrap and cgroup v1: the real sandbox, not a fallback.
    assert sandbox.missing_protections() == []


def test_a_launcher_orphaned_before_it_could_arm_pdeathsig_starts_no_kernel(tmp_path):
    # The grading process can die (kill -9) between starting the launcher and the launcher's
    # prctl(PR_SET_PDEATHSIG): the launcher must notice and not start a kernel no one stops.
    spec = sandbox.SandboxSpec(str(tmp_path), str(tmp_path), str(tmp_path), os.getuid(),
                               sandbox.Limits(), isolate=False, owner_pid=1)
    spec.write(tmp_path / "sandbox.json")
    done = subprocess.run([sys.executable, "-S", str(LAUNCHER), str(tmp_path / "sandbox.json"),
                           str(tmp_path / "kernel.json")], cwd=tmp_path, timeout=60)
    assert done.returncode != 0
    assert "the grading process is gone" in (tmp_path / "kernel.log").read_text()
    assert not (tmp_path / "kernel.json").exists()
