"""The adversarial corpus: submissions that try to fool or break the grader.

Each attack is graded in the same run as the honest synthetic class (conftest.py). An
attack names the honest score the submission deserves (what its real code earns), the
status and a reason it must get. Attacks use ``STUB`` (nothing implemented), ``GOOD``
(the solution) or a mutant's answers, so the honest score is known independently.
"""
from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import nbformat

from autograder.assignments.conv_layers import mutants
from autograder.answers import insert_first_statement
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK
from conftest import free_port

REPO = Path(__file__).resolve().parent.parent
GOOD = mutants.student_answers(REPO / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
STUB: dict[str, str] = {}
FULL = {"conv_forward_naive": 30, "conv_backward_naive": 30, "max_pool_forward_naive": 15,
        "max_pool_backward_naive": 25}
ZERO = {k: 0 for k in FULL}
# A host loopback listener the network attacks try to reach (a free port, so that test runs
# can overlap).
LISTENER_PORT = free_port()


def mutant(name: str) -> dict[str, str]:
    return mutants.apply(next(m for m in mutants.MUTANTS if m.name == name), GOOD)


@dataclass
class Attack:
    sid: str
    answers: Optional[dict[str, str]]          # None: files come from ``raw`` only
    status: str
    reason: str = ""                            # substring of reasons (or notes)
    expect: Optional[dict[str, float]] = None   # honest per-task points; None: mutant's own
    first: list[str] = field(default_factory=list)           # cells before the first answer
    after: dict[str, list[str]] = field(default_factory=dict)  # cells after an answer cell
    edit: Optional[Callable] = None             # edits the notebook node
    raw: Optional[Callable] = None              # returns {filename: bytes} instead
    extra: dict[str, bytes] = field(default_factory=dict)
    # Makes the student's directory on disk instead (links, FIFOs): (course, student dir).
    disk: Optional[Callable[[Path, Path], None]] = None
    withheld: tuple[str, ...] = ()              # tasks whose score must wait for a human
    forbidden: tuple[str, ...] = ()             # text the autograded notebook must not hold


def code(s: str) -> str:
    return textwrap.dedent(s).strip("\n")


FAKE_HARNESS = "def check(task, namespace):\n    return 30.0\n"
PROBE = code('''
    import os, glob
    def probe(label, fn):
        try:
            fn(); print("LEAKED", label)
        except Exception as exc:
            print("BLOCKED", label, type(exc).__name__)
    for path in ["/work/main/source/conv_layers/conv_layers.ipynb", "/work/main/autograder/reference.py",
                 "../../../source/conv_layers/conv_layers.ipynb", "../../../gradebook.db",
                 "../../correct/conv_layers/conv_layers.ipynb", "/root/.bash_history", "/etc/shadow"]:
        probe(path, lambda p=path: open(p, "rb").read(1))
    found = [p for root in ["/home", "/root", "/tmp", "/work", "/autograder", "/var", "/srv"]
             for pattern in ["gradebook.db", "reference.py", "*.ipynb"]
             for p in glob.glob(f"{root}/**/{pattern}", recursive=True)
             if "autograder" in p or "gradebook" in p or "submitted" in p or "source" in p]
    print("LEAKED found" if found else "BLOCKED search", found[:3])
''')
WRITER = code('''
    import os, glob, sqlite3
    for path in [p for root in ["/home", "/root", "/tmp", "/work", "/var"]
                 for p in glob.glob(f"{root}/**/gradebook.db", recursive=True)] + ["../../../gradebook.db"]:
        try:
            db = sqlite3.connect(path); db.execute("update grade set manual_score = 1000"); db.commit()
            print("LEAKED wrote", path)
        except Exception as exc:
            print("BLOCKED", path, exc)
    for path in ["/autograder/inputs.npz", "/autograder/x", "/usr/x", "/root/x", "/etc/x",
                 "/work/main/x"]:
        try:
            open(path, "wb").write(b"x"); print("LEAKED wrote", path)
        except Exception as exc:
            print("BLOCKED", path, type(exc).__name__)
''')

ATTACKS: list[Attack] = [
    # IPython hooks of every kind.
    Attack("hook_input_transformer", STUB, "flagged", "disagreement", ZERO,
           first=["get_ipython().input_transformers_cleanup.append(lambda lines: [])"]),
    Attack("hook_ast_transformer", STUB, "flagged", "disagreement", ZERO, first=[code('''
        import ast
        class Strip(ast.NodeTransformer):
            def visit_Module(self, node):
                return ast.Module(body=[], type_ignores=[])
        get_ipython().ast_transformers.append(Strip())''')]),
    Attack("hook_event_fake_harness", STUB, "flagged", "disagreement", ZERO, first=[code('''
        import sys, types
        fake = types.ModuleType("autograder_harness")
        fake.check = lambda task, ns: 15.0
        def hook(*args):
            sys.modules["autograder_harness"] = fake
        get_ipython().events.register("pre_run_cell", hook)''')]),
    Attack("hook_custom_exc", STUB, "flagged", "set_custom_exc", ZERO, first=[
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"]),
    Attack("hook_display_formatter", mutant("pool_overwrite"), "flagged", "disagreement", first=[
        "get_ipython().display_formatter.formatters['text/plain'].for_type("
        "float, lambda obj, p, cycle: p.text('1000'))"]),
    # Monkeypatching numpy, builtins and the public helpers.
    Attack("patch_numpy", mutant("bias_missing"), "flagged", "monkeypatching", first=[code('''
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)''')]),
    Attack("patch_builtins", mutant("kernel_flipped"), "flagged", "builtins", first=[code('''
        import builtins
        builtins.AssertionError = type("AssertionError", (Exception,), {})
        builtins.print = lambda *a, **k: None''')]),
    Attack("patch_helpers", mutant("db_wrong"), "ok", "", first=[code('''
        import conv_helpers
        conv_helpers.rel_error = lambda x, y: 0.0''')]),
    # Shadow modules: submitted beside the notebook, or written at run time.
    Attack("shadow_files", STUB, "ok", "extra files are not used", ZERO,
           extra={"numpy.py": b"raise ImportError('shadow')\n",
                  "autograder_harness.py": FAKE_HARNESS.encode(),
                  "conv_helpers.py": b"def rel_error(x, y):\n    return 0.0\n"}),
    Attack("shadow_written", STUB, "flagged", "disagreement", ZERO, first=[
        f"open('autograder_harness.py', 'w').write({FAKE_HARNESS!r})\n"
        "import importlib, sys\nimportlib.invalidate_caches()\nsys.path.insert(0, '')"]),
    # Grading environment, instructor files, other submissions, writing outside.
    Attack("detect_environment", STUB, "flagged", "NBGRADER_EXECUTION", ZERO, first=[code('''
        import os
        if os.environ.get("NBGRADER_EXECUTION"):
            print("grading now")''')]),
    Attack("read_instructor_files", STUB, "flagged", "tampering: mentions `/autograder`", ZERO, first=[PROBE],
           forbidden=("LEAKED",)),
    Attack("write_gradebook_and_outside", STUB, "flagged", "gradebook", ZERO, first=[WRITER],
           forbidden=("LEAKED",)),
    # Processes, network, time, memory, disk, output, crashes.
    Attack("outliving_processes", GOOD, "flagged", "processes running", FULL, first=[code('''
        import subprocess, os, time
        subprocess.Popen(["sleep", "600"], start_new_session=True)
        if os.fork() == 0:
            if os.fork() == 0:
                os.setsid(); time.sleep(600)
            os._exit(0)
        os.wait()''')]),
    Attack("network", STUB, "flagged", "socket", ZERO, first=[code(f'''
        import socket
        # Loopback only: were the sandbox ever off, no packet may leave this machine.
        for addr in [("127.0.0.1", {LISTENER_PORT}), ("127.0.0.53", 53), ("::1", {LISTENER_PORT})]:
            try:
                socket.create_connection(addr, timeout=2); print("LEAKED", addr)
            except OSError as exc:
                print("BLOCKED", addr, exc)''')], forbidden=("LEAKED",)),
    Attack("loop_sigint_ignored", GOOD | {"max_pool_backward_naive": insert_first_statement(
        GOOD["max_pool_backward_naive"],
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")},
        "flagged", "stopped responding", FULL | {"max_pool_backward_naive": 0}),
    Attack("sleeping", GOOD | {"conv_backward_naive": insert_first_statement(
        GOOD["conv_backward_naive"], "import time\ntime.sleep(1000)")},
        "flagged", "timed out", FULL | {"conv_backward_naive": 0}),
    Attack("memory_growth", GOOD, "flagged", "memory limit hit",
           FULL | {"max_pool_backward_naive": 0}, after={"max_pool_backward_naive": [code('''
        hog = []
        while True:
            hog.append(np.ones(2**24))''')]}),
    # The bomb's children share the kernel's ZMQ sockets, so the kernel stops answering and
    # the cells after it do not run (like os._exit); nothing of it may survive grading.
    Attack("fork_bomb", GOOD, "flagged", "process limit hit", FULL | {"max_pool_backward_naive": 0},
           after={"max_pool_backward_naive": [code('''
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass''')]}),
    Attack("fill_disk", GOOD, "flagged", "disk limit hit", FULL, after={"conv_forward_naive": [code('''
        i = 0
        try:
            while True:
                open(f"junk{i}", "wb").write(b"x" * 2**20); i += 1
        except OSError as exc:
            print("disk full after", i, "MiB:", exc)''')]}),
    Attack("huge_outputs", GOOD | {"conv_forward_naive": insert_first_statement(
        GOOD["conv_forward_naive"], "print('y' * 200000)")}, "ok", "", FULL,
        after={"conv_backward_naive": ["for i in range(300000):\n    print(i)",
                                       "print('z' * 30_000_000)"]}),
    Attack("os_exit", GOOD, "flagged", "kernel died",
           FULL | {"max_pool_forward_naive": 0, "max_pool_backward_naive": 0},
           after={"max_pool_forward_naive": ["import os\nos._exit(1)"]}),
    Attack("segfault", GOOD, "flagged", "kernel died", FULL | {"max_pool_backward_naive": 0},
           after={"max_pool_backward_naive": ["import ctypes\nctypes.string_at(0)"]}),
    # Honest edge case: a correct solution that writes warnings and debug lines to stderr
    # (nbgrader alone would zero such a test cell).
    Attack("warns_on_stderr", GOOD | {"conv_forward_naive": insert_first_statement(
        GOOD["conv_forward_naive"],
        "import sys, warnings\nwarnings.warn('this loop is slow')\nprint('debug', file=sys.stderr)")},
        "ok", "", FULL),
    # Wrong API: renamed function, wrong signature, wrong result types.
    Attack("renamed_function", GOOD | {"conv_forward_naive": GOOD["conv_forward_naive"].replace(
        "def conv_forward_naive(", "def conv_forward(", 1)}, "ok", "",
        FULL | {"conv_forward_naive": 0, "conv_backward_naive": 0}),
    Attack("wrong_signature", GOOD | {"max_pool_forward_naive": GOOD["max_pool_forward_naive"].replace(
        "def max_pool_forward_naive(x, pool_param):", "def max_pool_forward_naive(x):", 1)},
        "ok", "", FULL | {"max_pool_forward_naive": 0, "max_pool_backward_naive": 0}),
    Attack("wrong_result_types", GOOD | {
        "conv_forward_naive": GOOD["conv_forward_naive"].replace("return out, cache", "return out", 1),
        "max_pool_forward_naive": GOOD["max_pool_forward_naive"].replace(
            "return out, cache", "return out * np.nan, cache", 1)},
        "ok", "", {"conv_forward_naive": 0, "conv_backward_naive": 0,
                   "max_pool_forward_naive": 0, "max_pool_backward_naive": 25}),
]


def _with_cells(nb, gid_filter, fn):
    nb.cells = [fn(c) if gid_filter(c.metadata.get("nbgrader", {}).get("grade_id", "")) else c
                for c in nb.cells]


def _shuffle(nb):
    """Delete one test cell, turn one into markdown, edit one, add a fake 1000-point
    test cell, and reverse the order of all cells."""
    gid = lambda c: c.metadata.get("nbgrader", {}).get("grade_id", "")
    nb.cells = [c for c in nb.cells if gid(c) != "test_conv_forward_naive"]
    for c in nb.cells:
        if gid(c) == "test_conv_backward_naive":
            c.cell_type = "markdown"
            c.pop("outputs", None), c.pop("execution_count", None)
        if gid(c) == "test_max_pool_forward_naive":
            c.source = "15"
    fake = nbformat.v4.new_code_cell("1000")
    fake.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": False,
                                 "points": 1000, "grade_id": "bonus", "schema_version": 3}
    nb.cells = list(reversed(nb.cells + [fake]))


def _strip_metadata(nb):
    for c in nb.cells:
        c.metadata = {}


def _duplicate_answer(nb):
    i = next(i for i, c in enumerate(nb.cells)
             if c.metadata.get("nbgrader", {}).get("grade_id") == "conv_forward_naive")
    wrong = nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))
    wrong.source = mutant("bias_missing")["conv_forward_naive"]
    wrong.id = "duplicate"
    nb.cells.insert(i, wrong)


def _good_bytes(release_nb: Path) -> bytes:
    return nbformat.writes(build(Attack("x", GOOD, "ok"), release_nb)).encode()


def _edited_json(release_nb: Path, edit: Callable[[dict], None]) -> bytes:
    nb = json.loads(_good_bytes(release_nb))
    edit(nb)
    return json.dumps(nb).encode()


ATTACKS += [
    Attack("bad_invalid_json", None, "not graded", "not valid JSON",
           raw=lambda r: {"conv_layers.ipynb": b'{"cells": [ {"cell_type": oops'}),
    Attack("bad_nbformat3", None, "ok", "converted from nbformat 3", FULL,
           raw=lambda r: {"conv_layers.ipynb": nbformat.writes(
               nbformat.convert(build(Attack("x", GOOD, "ok"), r), 3), version=3).encode()}),
    Attack("bad_missing_notebook", None, "not graded", "no notebook submitted",
           raw=lambda r: {"notes.txt": b"I forgot to attach it"}),
    Attack("bad_renamed_notebook", None, "ok", "graded the one notebook submitted", FULL,
           raw=lambda r: {"My conv layers (1).ipynb": _good_bytes(r)}),
    Attack("bad_extra_notebooks", None, "ok", "extra notebooks ignored", FULL,
           raw=lambda r: {"conv_layers.ipynb": _good_bytes(r), "scratch.ipynb": b"{}",
                          "weights.npy": b"\x93NUMPY junk"}),
    Attack("bad_non_utf8", None, "not graded", "not UTF-8",
           raw=lambda r: {"conv_layers.ipynb": _good_bytes(r).replace(b"Inputs", b"In\xff\xfeputs", 1)}),
    Attack("bad_huge", None, "not graded", "the limit is",
           raw=lambda r: {"conv_layers.ipynb": _good_bytes(r).replace(
               b'"cells": [', b'"cells": [{"cell_type": "raw", "metadata": {}, "source": "'
               + b"x" * (21 * 2**20) + b'"},', 1)}),
    # Damaged files of every kind: not graded, final, with a one-line reason.
    Attack("bad_nested_deep", None, "not graded", "nested too deeply",
           raw=lambda r: {"conv_layers.ipynb": b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"}),
    Attack("bad_binary_garbage", None, "not graded", "not UTF-8",
           raw=lambda r: {"conv_layers.ipynb": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64}),
    Attack("bad_empty_file", None, "not graded", "conv_layers.ipynb is empty",
           raw=lambda r: {"conv_layers.ipynb": b""}),
    Attack("bad_number_too_long", None, "not graded", "a number in it is too long",
           raw=lambda r: {"conv_layers.ipynb": _good_bytes(r).replace(
               b'"nbformat_minor": 5', b'"nbformat_minor": ' + b"9" * 5000, 1)}),
    Attack("bad_lone_surrogate", None, "not graded", "not valid Unicode (\\ud800)",
           raw=lambda r: {"conv_layers.ipynb": _good_bytes(r).replace(b"Inputs", b"In\\ud800puts", 1)}),
    Attack("bad_cells_not_a_list", None, "not graded", "its cells are not a list",
           raw=lambda r: {"conv_layers.ipynb": b'{"cells": "oops", "metadata": {}, '
                                               b'"nbformat": 4, "nbformat_minor": 5}'}),
    Attack("bad_cell_not_an_object", None, "not graded", "cell 2 is not a JSON object",
           raw=lambda r: {"conv_layers.ipynb": b'{"cells": [{"cell_type": "code", "source": "", '
                                               b'"metadata": {}, "outputs": []}, 7], "metadata": {}, '
                                               b'"nbformat": 4, "nbformat_minor": 5}'}),
    Attack("bad_source_not_text", None, "not graded", "cell 4 has a source that is not text",
           raw=lambda r: {"conv_layers.ipynb": _edited_json(r, lambda nb: nb["cells"][3].update(source=[1, 2]))}),
    Attack("bad_unknown_nbformat", None, "not graded", "not a readable Jupyter notebook",
           raw=lambda r: {"conv_layers.ipynb": _good_bytes(r).replace(
               b'"nbformat": 4', b'"nbformat": 99', 1)}),
    Attack("bad_byte_order_mark", None, "ok", "byte-order mark", FULL,
           raw=lambda r: {"conv_layers.ipynb": b"\xef\xbb\xbf" + _good_bytes(r)}),
    Attack("bad_cells_shuffled", GOOD, "ok", "", FULL, edit=_shuffle),
    Attack("bad_metadata_stripped", GOOD, "ok", "recognized by its", FULL, edit=_strip_metadata),
    Attack("bad_duplicated_answer", GOOD, "ok", "appears more than once", FULL,
           edit=_duplicate_answer),
]


# Sent from inside the student's own function while its hidden test cell runs: a report
# whose one array declares 4 GiB of float64 (4 MB of it sent), which a verifier that trusts
# npz headers allocates in full.
BOMB_SENDER = code('''
    def _send_bomb():
        import io, json, os, socket, struct, zipfile
        import numpy as np
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("1/out/out.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": "<f8", "fortran_order": False, "shape": (2**29,)})
                f.write(b"\\0" * 4 * 2**20)
        head = json.dumps({"op": "report", "task": "conv_forward_naive", "cases": []}).encode()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(os.path.join(os.environ["AUTOGRADER_GRADING_DIR"], "verifier.sock"))
            s.sendall(struct.pack(">QQ", len(head), len(buf.getvalue())) + head + buf.getvalue())
            s.shutdown(socket.SHUT_WR)
            s.recv(1 << 16)
''')
HUNT_INPUTS = code('''
    import glob, json, os, socket, struct
    # The harness and the assignment's calls module hold no case, input or expected value.
    grading = [p for p in glob.glob("/autograder/**", recursive=True)
               if not p.endswith(("/autograder/", "autograder_harness.py", "autograder_calls.py",
                                  "verifier.sock"))]
    print("LEAKED files" if grading else "BLOCKED files", grading)
    env = {k: v for k, v in os.environ.items() if "npz" in v or "json" in v or "CASE" in k}
    print("LEAKED env" if env else "BLOCKED env")
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect("/autograder/verifier.sock")
            head = json.dumps({"op": "inputs", "task": "conv_forward_naive"}).encode()
            s.sendall(struct.pack(">QQ", len(head), 0) + head)
            s.shutdown(socket.SHUT_WR)
            reply = b"".join(iter(lambda: s.recv(65536), b""))
        print("LEAKED socket" if b'"cases"' in reply else "BLOCKED socket", reply[16:120])
    except OSError as exc:
        print("BLOCKED socket", exc)
    try:
        import autograder_harness
        autograder_harness._fetch_cases("conv_forward_naive")
        print("LEAKED harness")
    except Exception as exc:
        print("BLOCKED harness", type(exc).__name__)
''')


def _link_to_master_notebook(course: Path, d: Path) -> None:
    d.mkdir()
    (d / f"{NOTEBOOK}.ipynb").symlink_to(course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")


def _fifo_notebook(course: Path, d: Path) -> None:
    d.mkdir()
    os.mkfifo(d / f"{NOTEBOOK}.ipynb")


def _link_with_good_notebook(course: Path, d: Path) -> None:
    d.mkdir()
    (d / f"{NOTEBOOK}.ipynb").write_bytes(_good_bytes(course / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"))
    (d / "conv_helpers.py").symlink_to(course / "source" / ASSIGNMENT / "conv_helpers.py")
    (d / "gradebook.db").symlink_to(course / "gradebook.db")


ATTACKS += [
    # The trusted side reads nothing it should not: links, special files, reports.
    Attack("disk_linked_notebook", None, "not graded", "is a symbolic link, not the notebook",
           disk=_link_to_master_notebook),
    Attack("disk_linked_directory", None, "not graded",
           f"the submission directory {ASSIGNMENT} is a symbolic link",
           disk=lambda course, d: d.symlink_to(course / "source" / ASSIGNMENT)),
    Attack("disk_linked_extra_files", None, "ok", "not followed or read: conv_helpers.py "
           "(a symbolic link), gradebook.db (a symbolic link)", FULL, disk=_link_with_good_notebook),
    Attack("disk_fifo_notebook", None, "not graded", "is a FIFO (named pipe), not the notebook",
           disk=_fifo_notebook),
    # Sent on every call: outside the hidden cell it is refused for that, inside for its size.
    # The master notebook itself (what `nbgrader collect` copies when a student leaves a
    # link to it), and its solutions with markers, comments and hidden tests stripped.
    Attack("master_copy", None, "flagged", "contains the instructor's solution or hidden tests",
           raw=lambda r: {"conv_layers.ipynb": (REPO / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes()},
           withheld=tuple(FULL)),
    Attack("master_solution_stripped", {k: "\n".join(line.split("#")[0].rstrip() for line in v.splitlines())
                                        for k, v in mutants.load_answer_sources(
                                            REPO / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").items()},
           "flagged", "solution of conv_forward_naive", withheld=tuple(FULL)),
    Attack("report_bomb", GOOD | {"conv_forward_naive": BOMB_SENDER + "\n\n\n" + insert_first_statement(
        GOOD["conv_forward_naive"], "_send_bomb()")}, "flagged", "larger than the case can produce",
        FULL),
    Attack("hunt_hidden_inputs", STUB, "flagged", "outside its hidden test cell", ZERO,
           first=[HUNT_INPUTS], forbidden=("LEAKED",)),
]


def build(attack: Attack, release_nb: Path):
    """The attack's notebook: the release with its answers and cells in it."""
    nb = nbformat.read(str(release_nb), as_version=4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "conv_forward_naive":
            cells += [nbformat.v4.new_code_cell(s) for s in attack.first]
        if attack.answers and gid in attack.answers:
            cell.source = attack.answers[gid]
        cells.append(cell)
        cells += [nbformat.v4.new_code_cell(s) for s in attack.after.get(gid, [])]
    nb.cells = cells
    if attack.edit:
        attack.edit(nb)
    return nb


def write_attack(attack: Attack, course: Path, release_nb: Path) -> None:
    d = course / "submitted" / attack.sid / ASSIGNMENT
    if attack.disk:
        d.parent.mkdir(parents=True)
        attack.disk(course, d)
        return
    d.mkdir(parents=True)
    files = attack.raw(release_nb) if attack.raw else {
        f"{NOTEBOOK}.ipynb": nbformat.writes(build(attack, release_nb)).encode()}
    for name, data in (files | attack.extra).items():
        (d / name).write_bytes(data)

# Output crafted to run script in the pages instructors open (feedback, formgrader, class
# report), beside a plot and a table that must still show. Each payload would set the page
# title to PW+NED or add an element whose id starts with pw+ned- (spelled apart, so that only
# a payload that ran writes the marker: test_inert_pages.py looks for it).
ATTACKS += [
    Attack("active_outputs", GOOD, "ok", "", FULL, after={"conv_forward_naive": [code('''
        from html import escape
        from IPython.display import HTML, SVG, Javascript, Markdown, display
        import matplotlib.pyplot as plt
        def mark(how):
            return ("document.title='PW'+'NED';document.body.insertAdjacentHTML("
                    f"'beforeend','<b id=pw'+'ned-{how}>ran</b>')")
        display(HTML(
            f"<script>{mark('script')}</script>"
            f"<img src=x onerror=\\"{mark('onerror')}\\">"
            f"<a href=\\"javascript:{mark('link')}\\">a link</a>"
            f"<details open ontoggle=\\"{mark('ontoggle')}\\">details</details>"
            f"<iframe srcdoc=\\"<script>parent.{escape(mark('srcdoc'))}</script>\\"></iframe>"
            f"<object data=\\"javascript:{mark('object')}\\"></object>"
            f"<embed src=\\"javascript:{mark('embed')}\\">"
            f"<meta http-equiv=refresh content=\\"0;url=javascript:{mark('refresh')}\\">"
            f"<base href=\\"javascript:{mark('base')}//\\">"
            f"<svg onload=\\"{mark('svg-onload')}\\"><script>{mark('svg-script')}</script></svg>"
            f"<math><mtext><table><mglyph><style><img src=x onerror=\\"{mark('mxss')}\\">"
            "</style></mglyph></table></mtext></math>"
            "<table class=dataframe><tr><th>kept</th></tr><tr><td>inert-table-cell</td></tr></table>"))
        display(Javascript(mark("javascript")))
        display({"application/vnd.jupyter.widget-view+json": {
            "model_id": "0", "version_major": 2, "version_minor": 0}, "text/plain": "a widget"},
            raw=True)
        display(SVG(
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="40" height="40" onload="{escape(mark("svg-doc"))}">'
            f'<script>{escape(mark("svg-doc-script"))}</script>'
            f'<foreignObject><img xmlns="http://www.w3.org/1999/xhtml" src="x" '
            f'onerror="{escape(mark("foreign"))}"/></foreignObject>'
            f'<a xlink:href="javascript:{escape(mark("svg-link"))}"><text y="20">t</text></a>'
            '<circle cx="20" cy="20" r="10" fill="teal"/></svg>'))
        display(Markdown(f"**inert-markdown** <img src=x onerror=\\"{mark('markdown')}\\"> "
                         f"[a link](javascript:{mark('markdown-link')})"))
        print(f"<script>{mark('stream')}</script>")
        plt.figure(figsize=(2, 2))
        plt.plot([0, 1], [1, 0])
        plt.show()''')]}),
]
