"""In-kernel side of the hidden tests (copied as ``autograder_harness.py`` into the
sandbox's read-only grading directory; it imports nothing from this package).

It only runs the student's functions on the hidden inputs, as the assignment's calls module
(``autograder_calls.py`` beside it) says, and sends what came back to the trusted verifier
over a Unix socket. It holds no expected values, thresholds or scoring:
the verdict it prints is the verifier's, and the score that counts is the one the verifier
recorded, whatever happens in this kernel.
"""
import contextlib
import importlib.util
import io
import json
import linecache
import os
import socket
import struct
import sys
import sysconfig
import time

import numpy as np

GRADING_DIR = os.environ.get("AUTOGRADER_GRADING_DIR", os.path.dirname(os.path.abspath(__file__)))
# Code in these files is not the student's: this harness, the standard library, numpy and
# any other installed package. Student code runs from notebook cells.
_NOT_STUDENT = tuple({__file__, os.path.dirname(np.__file__)}
                     | {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})
_not_student = [_NOT_STUDENT]     # and the assignment's calls module, once loaded
# How much of the student's source line a report carries.
MAX_SOURCE_CHARS = 200


def returned(result, n, name, what):
    """``result`` if it is the tuple of ``n`` items that ``name`` must return (``what``
    says which); a TypeError the verifier recognizes otherwise. For the calls module."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        raise TypeError("%s must return %s, got %s" % (name, what, type(result).__name__))
    return result


_CALLS = []


def use_calls(path):
    """Call the student's functions as the module at ``path`` says (an assignment's
    ``calls.py``); by default, ``autograder_calls.py`` beside this harness."""
    # The calls module imports its helpers from this module by its in-kernel name.
    sys.modules.setdefault("autograder_harness", sys.modules[__name__])
    spec = importlib.util.spec_from_file_location("autograder_calls", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _CALLS[:] = [module]
    _not_student[:] = [_NOT_STUDENT + (os.path.abspath(path),)]
    return module


def _calls():
    return _CALLS[0] if _CALLS else use_calls(os.path.join(GRADING_DIR, "autograder_calls.py"))


def _student_frame(exc):
    """Where the exception last went through the student's code: the function's name, the
    line number and the text of that line ("", 0, "" when it never did)."""
    tb, where = exc.__traceback__, ("", 0, "")
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.startswith(_not_student[0]):
            line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
            where = (code.co_name, tb.tb_lineno, line[:MAX_SOURCE_CHARS])
        tb = tb.tb_next
    return where


def _describe(value, items=True):
    """What the report says about a returned value, and the array to send (None if it is
    not numeric); a tuple or list also lists its items (what a misplaced cache holds)."""
    try:
        arr = np.asarray(value)
    except Exception:
        arr = None
    if value is None or arr is None or arr.dtype == object or arr.dtype.kind not in "biuf":
        info = {"type": type(value).__name__}
        if items and isinstance(value, (tuple, list)):
            info["items"] = [_describe(v, items=False)[0] for v in value[:8]]
        return info, None
    return {"dtype": str(arr.dtype), "shape": list(arr.shape)}, arr


def _fetch_cases(task):
    """The task's cases and inputs, which the verifier hands out only while this task's
    hidden test cell runs."""
    reply, body = _request({"op": "inputs", "task": task})
    if "cases" not in reply:
        raise RuntimeError("the verifier gave no inputs: %s" % reply.get("error", reply))
    with np.load(io.BytesIO(body), allow_pickle=False) as npz:
        return reply["cases"], {k: npz[k] for k in npz.files}


def run_cases(task, namespace, spec, all_inputs):
    """Run the functions in ``namespace`` on each case of ``spec`` (a list of
    {"index", "params"}) with inputs named "<task>/<index>/<name>" in ``all_inputs``.
    Returns the report: a JSON header and the arrays that came back."""
    calls = _calls()
    fns = {n: namespace.get(n) for n in calls.FUNCTIONS[task]}
    missing = [n for n, f in fns.items() if not callable(f)]
    # Values the task reads from the notebook (a trained model, ...), None if absent.
    fns.update({n: namespace.get(n) for n in getattr(calls, "VALUES", {}).get(task, ())})
    header, arrays = {"task": task, "cases": []}, {}
    for case in spec:
        i = case["index"]
        inputs = {k.split("/")[2]: v.copy() for k, v in all_inputs.items()
                  if k.startswith("%s/%d/" % (task, i))}
        meta = {"index": i}
        start = time.perf_counter()
        try:
            if missing:
                raise NameError("function %s is not defined" % ", ".join(missing))
            # Warnings and stderr from student code must not zero the cell.
            with contextlib.redirect_stderr(sys.stdout):
                outputs = calls.call(task, fns, case["params"], inputs)
            meta.update(status="ok", outputs={})
            for name, value in outputs.items():
                meta["outputs"][name], arr = _describe(value)
                if arr is not None:
                    arrays["%d/out/%s" % (i, name)] = arr
        except BaseException as exc:  # noqa: B902 - a student's exception of any kind is a result
            if isinstance(exc, KeyboardInterrupt):
                raise
            where, line, source = _student_frame(exc)
            meta.update(status="error", error_type=type(exc).__name__, error=str(exc)[:500],
                        where=where, line=line, source=source)
        meta["seconds"] = round(time.perf_counter() - start, 4)
        for name, value in inputs.items():
            arrays["%d/after/%s" % (i, name)] = value
        header["cases"].append(meta)
    return header, arrays


def _request(header, arrays=None):
    """One request to the verifier (a frame: >QQ lengths, JSON header, npz body) and its
    reply frame."""
    body = b""
    if arrays is not None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        body = buf.getvalue()
    head = json.dumps(header).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(120)
        sock.connect(os.path.join(GRADING_DIR, "verifier.sock"))
        sock.sendall(struct.pack(">QQ", len(head), len(body)) + head + body)
        sock.shutdown(socket.SHUT_WR)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    head_len, body_len = struct.unpack(">QQ", reply[:16])
    return json.loads(reply[16:16 + head_len].decode()), reply[16 + head_len:16 + head_len + body_len]


def check(task, namespace):
    """Run the hidden cases of ``task`` with the functions in ``namespace``; print the
    verifier's verdict and return the points (nbgrader's partial credit)."""
    spec, inputs = _fetch_cases(task)
    header, arrays = run_cases(task, namespace, spec, inputs)
    verdict, _ = _request(dict(header, op="report"), arrays)
    if "lines" not in verdict:
        raise AssertionError("%s: the verifier refused the report: %s"
                             % (task, verdict.get("error", verdict)))
    print("\n".join(verdict["lines"]))
    if verdict["points"] <= 0:
        raise AssertionError("%s: 0 / %g points" % (task, verdict["max_points"]))
    return verdict["points"]
