"""The sandbox's own promises that the end-to-end corpus does not show directly."""
from __future__ import annotations

import os
import shutil

import pytest

from autograder import sandbox


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
