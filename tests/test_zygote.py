"""Kernels forked from the template are what a kernel started from nothing in the sandbox
would be: the sandbox user without privileges, the kernel environment, none of the
grader's modules, their own random state, and a death the kernel manager sees; and they
start fast: the template's objects frozen out of their garbage collections, and a client
that knows they are ready as soon as they said so."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from jupyter_client import KernelManager
from jupyter_core.utils import run_sync

from autograder.running.execute import ZYGOTE, PromptKernelClient, SandboxKernelSpecs
from autograder.running.launcher import kernel_env
from autograder.running.sandbox import (GRADING_IN_SANDBOX, KERNEL_NAME, SCRATCH_IN_SANDBOX, Limits,
                                        Sandbox)
from conftest import REPO

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and (os.geteuid() != 0 or not shutil.which("bwrap")),
    reason="needs root and bwrap (never skipped in CI)")

UID = 61999
IPYKERNEL_ENV = {"TERM": "xterm-color", "CLICOLOR": "1", "FORCE_COLOR": "1",
                 "CLICOLOR_FORCE": "1", "PAGER": "cat", "GIT_PAGER": "cat",
                 "PYDEVD_USE_FRAME_EVAL": "NO"}    # the last one: its debugger

PROBE = """
import json, os, sys
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
import numpy as np
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")],
    "no_new_privs": status["NoNewPrivs"].strip(), "cwd": os.getcwd(), "path": sys.path,
    "env": dict(os.environ), "pid": os.getpid(),
    "grader_modules": sorted(m for m in sys.modules if m.split(".")[0] == "autograder"),
    "random": np.random.rand(),
}))
"""


class SandboxedKernel:
    def __init__(self, base: Path, name: str):
        self.sandbox = Sandbox(base, UID, Limits(), name=name)
        self.sandbox.spec.zygote = ZYGOTE.address(("numpy",), {})
        self.sandbox.create({}, {})
        runtime = self.sandbox.spec.runtime_dir
        self.km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=f"{runtime}/kernel",
                                connection_file=f"{runtime}/kernel.json",
                                kernel_spec_manager=SandboxKernelSpecs(str(self.sandbox.spec_path)))
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        out = []
        reply = self.kc.execute_interactive(code, timeout=60, output_hook=lambda msg: out.append(
            msg["content"].get("text", "") if msg["msg_type"] == "stream" else ""))
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(out)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self.sandbox.destroy()


@pytest.fixture
def kernels(tmp_path):
    made = []
    yield lambda: made.append(SandboxedKernel(tmp_path / f"sb{len(made)}",
                                              f"zygote-test-{os.getpid()}-{len(made)}")) or made[-1]
    for k in made:
        k.close()


def test_forked_kernel_is_the_sandbox_user_with_the_kernel_environment(kernels):
    seen = json.loads(kernels().run(PROBE))
    assert (seen["uid"], seen["gid"], seen["groups"]) == (UID, UID, [])
    assert seen["caps"] == ["0000000000000000"] * 4 and seen["no_new_privs"] == "1"
    assert seen["cwd"] == SCRATCH_IN_SANDBOX
    assert seen["path"][:2] == [SCRATCH_IN_SANDBOX, GRADING_IN_SANDBOX]
    assert not [p for p in seen["path"] if str(REPO) in p or p.startswith(str(REPO.parent) + "/")]
    # The kernel environment, plus what ipykernel's shell sets for every kernel.
    assert seen["env"] == kernel_env(SCRATCH_IN_SANDBOX, GRADING_IN_SANDBOX) | IPYKERNEL_ENV
    assert seen["grader_modules"] == []
    assert seen["pid"] < 10      # in the sandbox's own PID namespace


def test_no_grader_module_is_importable_from_the_kernel(kernels):
    out = kernels().run("try:\n    import autograder.reference\n    print('imported')\n"
                        "except ImportError as e:\n    print(type(e).__name__)")
    assert out.strip() == "ModuleNotFoundError"


def test_each_forked_kernel_has_its_own_random_state(kernels):
    first, second = kernels(), kernels()
    assert json.loads(first.run(PROBE))["random"] != json.loads(second.run(PROBE))["random"]


def test_a_kernel_that_exits_is_seen_dead_by_the_kernel_manager(kernels):
    kernel = kernels()
    kernel.kc.execute("import os; os._exit(3)")
    kernel.km.provisioner.process.wait(timeout=30)
    assert not kernel.km.is_alive()


def test_the_prompt_client_finds_the_kernel_ready_and_the_template_is_frozen(kernels):
    kernel = kernels()
    client = PromptKernelClient(**kernel.km.get_connection_info(session=True))
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=60)
        out = []
        reply = run_sync(client.execute_interactive)(
            "import gc; print(gc.get_freeze_count())", timeout=60,
            output_hook=lambda msg: out.append(msg["content"].get("text", "")))
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok"
    # numpy and ipykernel alone are tens of thousands of objects
    assert int("".join(out)) > 10_000
