"""Tests for autograder/wire.py and the verifier's socket (autograder/verifier.py): what
comes from the kernel is checked before it is read, inflated or allocated, and a bad
request costs only itself."""
from __future__ import annotations

import io
import json
import pickle
import re
import socket
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.running import harness
from autograder.verifying.cases import CaseSet
from autograder.assignments.conv_layers.tasks import TASKS
from autograder.verifying.verifier import CONNECTIONS, Verifier
from autograder.verifying.wire import WireError, load_arrays, pack_arrays
from autograder.assignments.conv_layers import assignment as CONV_LAYERS

REPO = Path(__file__).resolve().parent.parent
SEED = int(re.search(r"c\.Grading\.seed\s*=\s*(\d+)", (REPO / "nbgrader_config.py").read_text()).group(1))
TASK = TASKS[0].name
LIMITS = {"1/out/out": 6, "1/after/x": 4}


def bomb(name: str = "1/out/out", elements: int = 2**29) -> bytes:
    """An npz whose one member declares ``elements`` float64 (4 GiB) and compresses to
    almost nothing."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(f"{name}.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f8", "fortran_order": False, "shape": (elements,)})
            for _ in range(16):
                f.write(b"\0" * 2**22)
    return buf.getvalue()


class TestLoadArrays:
    def test_round_trip(self):
        arrays = {"1/out/out": np.arange(6.0).reshape(2, 3), "1/after/x": np.ones(4)}
        got = load_arrays(pack_arrays(arrays), LIMITS, 10**6)
        assert got.keys() == arrays.keys()
        for k in arrays:
            np.testing.assert_array_equal(got[k], arrays[k])

    def test_fortran_order_arrays_keep_their_values(self):
        a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
        np.testing.assert_array_equal(load_arrays(pack_arrays({"1/out/out": a}), LIMITS, 10**6)["1/out/out"], a)

    @pytest.mark.parametrize("payload", [b"", b"garbage", b"PK\x03\x04not really a zip",
                                         bytes(range(256)) * 4])
    def test_rejects_garbage(self, payload):
        with pytest.raises(WireError, match="unreadable report"):
            load_arrays(payload, LIMITS, 10**6)

    @pytest.mark.parametrize("arrays, why", [
        ({"1/out/out": np.array([None, 1.0], dtype=object)}, "not a number"),
        ({"1/out/out": np.array(["1.0"])}, "not a number"),
        ({"1/out/out": np.zeros(3, complex)}, "not a number"),
        ({"2/out/out": np.zeros(3)}, "unexpected array"),
        ({"1/out/out": np.zeros(7)}, "larger than the case can produce"),
        ({"1/out/out": np.zeros(2), "1/after/x": np.zeros(2), "1/out/y": np.zeros(1)}, "at most 2"),
    ])
    def test_refuses_what_the_case_cannot_produce(self, arrays, why):
        with pytest.raises(WireError, match=why):
            load_arrays(pack_arrays(arrays), LIMITS, 10**6)

    def test_refuses_a_plain_pickle_and_a_single_npy(self):
        buf = io.BytesIO()
        np.save(buf, np.zeros(3))
        for payload in (pickle.dumps({"1/out/out": np.zeros(3)}), buf.getvalue()):
            with pytest.raises(WireError):
                load_arrays(payload, LIMITS, 10**6)

    def test_refuses_a_total_over_the_limit(self):
        with pytest.raises(WireError, match="more than the task's outputs need"):
            load_arrays(pack_arrays({"1/out/out": np.zeros(6), "1/after/x": np.zeros(4)}),
                        LIMITS, 8 * 9)

    def test_a_bomb_is_refused_before_it_is_inflated(self):
        payload = bomb()
        assert len(payload) < 2**20
        tracemalloc.start()
        with pytest.raises(WireError, match="declares shape"):
            load_arrays(payload, {"1/out/out": 10**6}, 10**8)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 * 2**20

    def test_an_array_shorter_than_its_header(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            with z.open("1/out/out.npy", "w") as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": "<f8", "fortran_order": False, "shape": (6,)})
                f.write(b"\0" * 8)
        with pytest.raises(WireError, match="shorter than its header"):
            load_arrays(buf.getvalue(), LIMITS, 10**6)


@pytest.fixture(scope="module")
def caseset() -> CaseSet:
    return CaseSet.build(CONV_LAYERS, SEED)


@pytest.fixture
def verifier(caseset, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "GRADING_DIR", str(tmp_path))
    with Verifier(caseset, str(tmp_path / "verifier.sock")) as v:
        yield v


def raw_request(v: Verifier, data: bytes, close_write: bool = True) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(v.socket_path)
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        reply = b"".join(iter(lambda: s.recv(65536), b""))
    head_len, _ = struct.unpack(">QQ", reply[:16])
    return json.loads(reply[16:16 + head_len])


def frame(header: dict, body: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack(">QQ", len(head), len(body)) + head + body


class TestVerifierSocket:
    def test_inputs_only_while_the_tasks_hidden_cell_runs(self, verifier, caseset):
        with pytest.raises(RuntimeError, match="outside its hidden test cell"):
            harness._fetch_cases(TASK)
        verifier.current_task = TASKS[1].name          # another task's cell
        with pytest.raises(RuntimeError, match="outside its hidden test cell"):
            harness._fetch_cases(TASK)
        verifier.current_task = TASK
        spec, inputs = harness._fetch_cases(TASK)
        want_spec, want_inputs = caseset.task_view(TASK)
        assert spec == json.loads(json.dumps(want_spec))
        assert inputs.keys() == want_inputs.keys() and all(k.startswith(f"{TASK}/") for k in inputs)
        assert verifier.problems == [f"the verifier refused a request: a request for '{TASK}' "
                                     "outside its hidden test cell"]

    def test_a_bomb_report_costs_nothing_and_is_named(self, verifier):
        verifier.current_task = TASK
        reply = raw_request(verifier, frame({"op": "report", "task": TASK, "cases": []}, bomb()))
        assert "declares shape" in reply["error"]
        assert TASK not in verifier.verdicts          # the real report can still come
        assert any("declares shape" in p for p in verifier.problems)

    @pytest.mark.parametrize("data, why", [
        (struct.pack(">QQ", 2**40, 0), "exceeds the limit"),
        (struct.pack(">QQ", 5, 0) + b"[[[[[", "not JSON"),
        (frame({"op": "nonsense", "task": TASK}), "unknown request"),
        (struct.pack(">QQ", 100, 0) + b"{}", "ended early"),
        (frame({"op": "report", "task": TASK}) [:-1] + b"\xff", "not JSON"),
    ])
    def test_malformed_requests_are_refused_with_a_reason(self, verifier, data, why):
        verifier.current_task = TASK
        assert why in raw_request(verifier, data)["error"]
        assert any(why in p for p in verifier.problems)

    def test_deep_json_is_refused(self, verifier):
        verifier.current_task = TASK
        deep = b"[" * 100_000 + b"]" * 100_000
        assert "not JSON" in raw_request(verifier, struct.pack(">QQ", len(deep), 0) + deep)["error"]

    def test_a_flood_of_silent_connections_is_named_and_served_again_once_closed(self, verifier, caseset):
        silent = []
        for _ in range(CONNECTIONS + 2):      # more than it serves at once, none sends
            s = socket.socket(socket.AF_UNIX)
            s.connect(verifier.socket_path)
            silent.append(s)
        time.sleep(0.2)
        for s in silent[:CONNECTIONS]:        # free the slots, as a kernel's own limit would
            s.close()
        verifier.current_task = TASK
        deadline, spec = time.monotonic() + 5, None
        while spec is None:                   # the serving threads see the close, then free
            try:
                spec, inputs = harness._fetch_cases(TASK)
            except OSError:                   # closed unread: no slot free yet
                assert time.monotonic() < deadline, "the slots were not freed"
                time.sleep(0.05)
        assert len(spec) == len(caseset.cases[TASK])
        for s in silent[CONNECTIONS:]:
            s.close()
        assert any(f"more than {CONNECTIONS} connections" in p for p in verifier.problems)
