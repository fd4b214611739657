"""Tests for autograder/tampering.py: ``scan`` flags code that reaches for grading
internals, and stays silent on honest code (a false positive on the solution would flag
every student).
"""
from __future__ import annotations

import copy
import keyword
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings, strategies as st

from autograder.mutants import MUTANTS, apply, load_answer_sources
from autograder.submission import Submission, rebuild, student_cells
from autograder.tampering import DEFAULT_SUSPICIOUS, scan

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "source" / "conv_layers" / "conv_layers.ipynb"
RELEASE_NB = REPO / "assignments" / "conv_layers" / "conv_layers.ipynb"
_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)


def flagged(findings: list[str], needle: str) -> bool:
    return any(needle in f for f in findings)


@pytest.fixture(scope="module")
def raw_answers() -> dict[str, str]:
    return load_answer_sources(SOURCE_NB)


@pytest.fixture(scope="module")
def answers(raw_answers) -> dict[str, str]:
    return {k: _MARKERS.sub("", v) for k, v in raw_answers.items()}


# --------------------------------------------------------------------------- what is flagged

FLAGGED = [
    # IPython shell and its hooks
    ("ip = get_ipython()", "uses get_ipython"),
    ("from IPython import get_ipython\nget_ipython().user_ns", "uses get_ipython"),
    ("import IPython\nsh = IPython.get_ipython()", "uses get_ipython"),
    ("get_ipython().events.register('pre_run_cell', hook)", "uses events.register"),
    ("from IPython.core.interactiveshell import InteractiveShell\n"
     "shell = InteractiveShell.instance()\n"
     "shell.events.register('post_run_cell', hook)", "events.register"),
    ("from IPython.core.interactiveshell import InteractiveShell\n"
     "InteractiveShell.instance().input_transformers_post.append(lambda lines: lines)",
     "input_transformers"),
    ("get_ipython().ast_transformers.append(Rewriter())", "uses ast_transformers"),
    ("get_ipython().set_custom_exc((AssertionError,), handler)", "uses set_custom_exc"),
    ("import sys\nsys.excepthook = lambda *a: None", "uses excepthook"),
    ("import sys\nsys.displayhook = print", "uses displayhook"),
    # interpreter internals
    ("import sys\nsys.modules['numpy'].allclose = ok", "uses sys.modules"),
    ("import sys\nh = sys.modules.get('autograder_harness')", "uses sys.modules"),
    ("from sys import modules\nnumpy_module = modules['numpy']", "sys.modules"),
    ("import builtins\nbuiltins.print = quiet", "uses builtins"),
    ("__builtins__['len'] = lambda x: 0", "uses __builtins__"),
    ("import sys\nf = sys._getframe(1)", "uses sys._getframe"),
    ("import inspect\nframes = inspect.stack()", "uses inspect.stack"),
    ("import gc\nobjs = gc.get_objects()", "uses gc.get_objects"),
    ("mod = __import__('os')", "uses __import__"),
    ("import importlib\nimportlib.reload(np)", "uses importlib"),
    ("exec('x = 1')", "uses exec"),
    ("y = eval('1 + 1')", "uses eval"),
    ("g = globals()", "uses globals"),
    # environment
    ("import os\nprint(os.environ['NBGRADER_EXECUTION'])", "uses os.environ"),
    ("import os\nprint(os.environ['NBGRADER_EXECUTION'])", "uses NBGRADER_EXECUTION"),
    ("import os\ngrading = os.getenv('NBGRADER_EXECUTION')", "uses os.getenv"),
    ("if 'NBGRADER_EXECUTION' in env:\n    pass", "uses NBGRADER_EXECUTION"),
    ("from os import environ\nhome = environ['HOME']", "os.environ"),
    # processes, native code, network
    ("import subprocess\nsubprocess.run(['ls', '/'])", "uses subprocess"),
    ("from subprocess import check_output", "uses subprocess"),
    ("import os\nos.system('ls')", "uses os.system"),
    ("import os\npid = os.fork()", "uses os.fork"),
    ("import os\nos.kill(1, 9)", "uses os.kill"),
    ("import ctypes\nctypes.string_at(0)", "uses ctypes"),
    ("from ctypes import CDLL", "uses ctypes"),
    ("import socket\ns = socket.socket(socket.AF_UNIX)", "uses socket"),
    ("import socket as sk", "uses socket"),
    ("import threading\nthreading.Thread(target=f).start()", "uses threading"),
    ("import multiprocessing", "uses multiprocessing"),
    ("import signal\nsignal.signal(signal.SIGALRM, handler)", "uses signal.signal"),
    # monkeypatching numpy
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "`np.allclose` (monkeypatching)"),
    ("import numpy\nnumpy.sum = lambda *a, **k: 0", "`numpy.sum` (monkeypatching)"),
    ("np.testing.assert_allclose = lambda *a, **k: None",
     "`np.testing.assert_allclose` (monkeypatching)"),
    ("np.linalg.norm = fake_norm", "`np.linalg.norm` (monkeypatching)"),
    ("del np.allclose", "`np.allclose` (monkeypatching)"),
    ("np.pi += 1", "`np.pi` (monkeypatching)"),
    ("np.max, np.min = np.min, np.max", "monkeypatching"),
    ("setattr(np, 'allclose', lambda *a: True)", "uses setattr"),
    # magics and shell escapes
    ("%load solution.py", "uses IPython magic or shell escape `%load solution.py`"),
    ("!cat /etc/passwd", "uses IPython magic or shell escape `!cat /etc/passwd`"),
    ("%%bash\nls /", "uses IPython magic or shell escape `%%bash`"),
    ("for i in range(3):\n    !ls", "uses IPython magic or shell escape `!ls`"),
    ("%env NBGRADER_EXECUTION=", "IPython magic"),
    ("files = !cat cases.json", "shell escape"),
    # paths and names of the grading machinery
    ("open('/autograder/cases.json').read()", "uses /autograder"),
    ("data = open('/srv/autograder/grading/inputs.npz', 'rb')", "uses /autograder"),
    ("import autograder_harness", "uses autograder_harness"),
    ("p = 'verifier.sock'", "verifier.sock"),
    ("import os\npath = os.path.join(d, 'verifier.sock')", "verifier.sock"),
]


class TestFlagged:
    @pytest.mark.parametrize("code, finding", FLAGGED, ids=[re.sub(r"\W+", "_", c[-40:]).strip("_")
                                                             for c, _ in FLAGGED])
    def test_flags(self, code, finding):
        findings = scan(code)
        assert flagged(findings, finding), f"{code!r}: {findings}"

    @pytest.mark.parametrize("code, finding", [
        ("ip = get_ipython()", "uses get_ipython"),
        ("import sys\nh = sys.modules.get('autograder_harness')", "uses sys.modules"),
        ("import os\nflag = os.environ.get('NBGRADER_EXECUTION')", "uses os.environ"),
        ("import numpy as np\nnp.allclose = lambda *a, **k: True", "`np.allclose` (monkeypatching)"),
        ("import subprocess\nsubprocess.run(['ls'])", "uses subprocess"),
        ("!cat /etc/passwd", "`!cat /etc/passwd`"),
        ("open('/autograder/cases.json')", "uses /autograder"),
    ])
    def test_flags_inside_honest_code(self, answers, code, finding):
        # Hidden between honest cells, indented in a function, still found.
        body = "\n".join("    " + l for l in code.splitlines())
        code = answers["conv_forward_naive"] + f"\n\ndef sneaky():\n{body}\n\n" + \
            answers["max_pool_backward_naive"]
        assert flagged(scan(code), finding)

    def test_findings_are_sorted_and_unique(self):
        code = "get_ipython()\nget_ipython()\nimport subprocess\nimport ctypes\n!ls\n!ls"
        findings = scan(code)
        assert findings == sorted(set(findings))
        assert findings == ["uses IPython magic or shell escape `!ls`", "uses ctypes",
                            "uses get_ipython", "uses subprocess"]

    def test_custom_list(self):
        code = "import requests\nget_ipython()"
        assert scan(code, ("requests",)) == ["uses requests"]
        assert scan(code, ("requests", "get_ipython")) == ["uses get_ipython", "uses requests"]
        assert scan("import subprocess", ()) == []

    def test_default_list_covers_the_brief(self):
        for name in ("get_ipython", "sys.modules", "builtins", "os.environ", "subprocess",
                     "ctypes", "socket", "NBGRADER_EXECUTION", "verifier.sock", "/autograder"):
            assert name in DEFAULT_SUSPICIOUS


# --------------------------------------------------------------------------- syntax errors

class TestSyntaxErrors:
    @pytest.mark.parametrize("code", ["def f(:\n    pass", "x = (1,", "class", "\x00", "'''",
                                      "if True:\npass", "return return", "np.allclose = "])
    def test_does_not_raise(self, code):
        assert isinstance(scan(code), list)

    def test_suspicious_names_still_found(self):
        assert "uses get_ipython" in scan("def f(:\n    get_ipython().user_ns")
        assert "uses subprocess" in scan("import subprocess\nx = (1,")
        assert "uses /autograder" in scan("open('/autograder/x')\nx = (")

    def test_magic_still_found(self):
        assert flagged(scan("!ls\ndef f(:"), "`!ls`")

    def test_honest_solution_with_a_syntax_error(self, answers):
        # the demo's syntax_error student
        broken = dict(answers)
        broken["conv_forward_naive"] = answers["conv_forward_naive"].replace("):", ")", 1)
        assert scan("\n\n".join(broken.values())) == []

    def test_honest_names_in_code_with_a_syntax_error(self, answers):
        # The notebook's own helper eval_numerical_gradient_array is not `eval`, also when
        # some other cell has a syntax error.
        check = ("dx_num = eval_numerical_gradient_array(\n"
                 "    lambda x: conv_forward_naive(x, w, b, conv_param)[0], x, dout)\n")
        broken = answers["conv_backward_naive"].replace("):", ")", 1)
        assert scan(check + "\n\n" + answers["conv_forward_naive"]) == []
        assert scan(check + "\n\n" + broken) == []


# --------------------------------------------------------------------------- honest code

HONEST = [
    "import numpy as np\nout = np.zeros((2, 3))\nout[:] = np.maximum(out, 0)",
    "x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))\ncols = np.einsum('ij,jk->ik', a, b)",
    "from numpy.lib.stride_tricks import sliding_window_view\nv = sliding_window_view(x, (2, 2))",
    "np.random.seed(0)\nrng = np.random.default_rng(1)",
    "cache = {'x': x}\ncache['x'] = x.copy()\nself.w = w",
    "dx = np.zeros_like(x)\ndx[n, c, hs + a, ws + b] += dout[n, c, i, j]",
    "print('stride', stride, 'pad', pad)\nassert out.shape == (1, 2)",
    "import math\nH_out = 1 + math.floor((H + 2 * pad - HH) / stride)",
    "err = rel_error(out, correct_out)\nprint('difference: ', err)",
    "# uses get_ipython? no, only a comment mentioning subprocess and sys.modules",
    "def evaluate(model):\n    return model.compile_time",
    "environment = 'local'\nmodules = ['conv', 'pool']\nsocket_count = 0",
    "total = (i * stride\n         % H)",
    "s = '100% done'\nprint(f'{s}!')",
    "x = 5 % 3\ny = not x != 2",
]


class TestHonestCode:
    def test_each_solution_answer(self, raw_answers, answers):
        assert set(answers) == {"conv_forward_naive", "conv_backward_naive",
                                "max_pool_forward_naive", "max_pool_backward_naive"}
        for name in answers:
            assert scan(raw_answers[name]) == [], name     # with the nbgrader markers
            assert scan(answers[name]) == [], name         # as a student writes it

    def test_whole_solution(self, raw_answers, answers):
        assert scan("\n\n".join(raw_answers.values())) == []
        assert scan("\n\n".join(answers.values())) == []

    def test_student_cells_of_a_correct_submission(self, answers):
        # What the worker actually scans: student_cells of the rebuilt notebook.
        release = nbformat.read(str(RELEASE_NB), as_version=4)
        nb = copy.deepcopy(release)
        for cell in nb.cells:
            g = cell.metadata.get("nbgrader", {}).get("grade_id")
            if g in answers:
                cell.source = answers[g]
        rebuilt = rebuild(Submission(nb), release).notebook
        code = student_cells(rebuilt, release)
        assert answers["conv_forward_naive"] in code
        assert scan(code) == []

    def test_blank_release(self):
        release = nbformat.read(str(RELEASE_NB), as_version=4)
        assert scan(student_cells(release, release)) == []

    @pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
    def test_honest_mistakes(self, answers, mutant):
        # Wrong code is not tampering (input_modified writes into a view of x, not numpy).
        assert scan("\n\n".join(apply(mutant, answers).values())) == []

    @pytest.mark.parametrize("code", HONEST)
    def test_honest_snippets(self, code):
        assert scan(code) == [], code


_SUSPICIOUS_PARTS = {p for s in DEFAULT_SUSPICIOUS for p in re.split(r"[./]", s) if p}
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in _SUSPICIOUS_PARTS
    and s not in {"np", "numpy"})


class TestProperties:
    @settings(max_examples=60, deadline=None)
    @given(st.text(max_size=200))
    def test_never_raises_and_is_sorted(self, code):
        findings = scan(code)
        assert findings == sorted(set(findings))
        assert all(isinstance(f, str) for f in findings)

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.tuples(identifiers, identifiers, identifiers,
                              st.sampled_from(["sum", "max", "pad", "zeros_like", "einsum"])),
                    min_size=1, max_size=6))
    def test_plain_numpy_code_is_not_flagged(self, rows):
        lines = ["import numpy as np"]
        for target, a, b, fn in rows:
            lines.append(f"{target} = np.{fn}({a} * {b} + 1, axis=(2, 3))")
            lines.append(f"{a}.{b} = {target}[:, :, ::2] % 3")
        assert scan("\n".join(lines)) == []

    @settings(max_examples=30, deadline=None)
    @given(identifiers, st.sampled_from(["allclose", "sum", "max", "testing.assert_allclose"]),
           st.sampled_from(["np", "numpy"]))
    def test_any_numpy_attribute_assignment_is_flagged(self, name, attr, mod):
        findings = scan(f"import numpy as np\n{mod}.{attr} = {name}")
        assert findings == [f"assigns to numpy attribute `{mod}.{attr}` (monkeypatching)"]
