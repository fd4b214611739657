"""Tests for autograder/tampering.py: the scan finds evidence that code reaches into the
grading machinery or the kernel, names the cell and line, and stays silent on the ordinary
Python honest students write (a false positive on the solution would flag every student).
"""
from __future__ import annotations

import copy
import keyword
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings, strategies as st

from autograder.assignments.conv_layers.mutants import MUTANTS, apply, load_answer_sources, student_answers
from autograder.grading.submission import Submission, rebuild, student_cells
from autograder.verifying.tampering import LIBRARY, TAMPERING, Finding, StudentCell, TamperingScan
from autograder.grading.worker import load_config

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "source" / "conv_layers" / "conv_layers.ipynb"
RELEASE_NB = REPO / "assignments" / "conv_layers" / "conv_layers.ipynb"
_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)
COURSE_RULES = TamperingScan(config=load_config((REPO / "nbgrader_config.py").read_text()))


def findings(code, rules: TamperingScan = COURSE_RULES, label: str = "cell") -> list[Finding]:
    cells = [code] if isinstance(code, str) else code
    return rules.scan([StudentCell(label, c) for c in cells], "conv_layers")


def scan(code, rules: TamperingScan = COURSE_RULES) -> list[str]:
    """What was found, without where (``Finding.what``), in scan order."""
    return [f.what for f in findings(code, rules)]


def flagged(found: list[str], needle: str) -> bool:
    return any(needle in f for f in found)


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
    ("from IPython import get_ipython\nget_ipython().user_ns", "`get_ipython().user_ns`"),
    ("import IPython\nsh = IPython.get_ipython()", "uses IPython.get_ipython"),
    ("get_ipython().events.register('pre_run_cell', hook)", "`get_ipython().events.register`"),
    ("from IPython.core.interactiveshell import InteractiveShell\n"
     "shell = InteractiveShell.instance()\n"
     "shell.events.register('post_run_cell', hook)", "uses IPython.core.interactiveshell"),
    ("get_ipython().ast_transformers.append(Rewriter())", "`get_ipython().ast_transformers.append`"),
    ("get_ipython().set_custom_exc((AssertionError,), handler)", "`get_ipython().set_custom_exc`"),
    ("import sys\nsys.excepthook = lambda *a: None", "sys attribute `sys.excepthook`"),
    ("import sys\nsys.displayhook = print", "sys attribute `sys.displayhook`"),
    ("from IPython.core import formatters", "uses IPython.core.formatters"),
    # interpreter internals: writes to sys.modules and builtins, frames, object graph
    ("import sys\nsys.modules['numpy'] = fake", "writes into sys.modules"),
    ("import sys\nsys.modules['numpy'].allclose = ok", "numpy attribute"),
    ("import sys\nsys.modules.get('numpy').allclose = ok", "numpy attribute"),
    ("import sys\nsys.modules.update({'autograder_harness': fake})", "writes into sys.modules"),
    ("import sys\nm = sys.modules\nm['numpy'] = fake", "writes into sys.modules"),
    ("import sys\ndel sys.modules['numpy']", "writes into sys.modules"),
    ("from sys import modules\nmodules['numpy'] = fake", "writes into sys.modules"),
    ("import builtins\nbuiltins.print = quiet", "builtins attribute `builtins.print`"),
    ("import builtins as b\nb.AssertionError = Exception", "builtins attribute `b.AssertionError`"),
    ("b = __import__('builtins')\nb.len = lambda x: 0", "builtins attribute `b.len`"),
    ("setattr(__import__('builtins'), 'len', f)", "builtins attribute"),
    ("__builtins__['len'] = lambda x: 0", "uses __builtins__"),
    ("import sys\nf = sys._getframe(1)", "uses sys._getframe"),
    ("import sys\nsys.settrace(tracer)", "uses sys.settrace"),
    ("import inspect\nframes = inspect.stack()", "uses inspect.stack"),
    ("import gc\nobjs = gc.get_objects()", "uses gc.get_objects"),
    # code this scan cannot see
    ("exec(base64.b64decode(blob))", "runs code built at run time (`exec`"),
    ("eval(compile(src, 'x', 'exec'))", "runs code built at run time"),
    ("exec('import ctypes')", "imports ctypes"),
    ("mod = __import__(name)", "imports a module whose name is computed at run time"),
    ("import importlib\nimportlib.import_module('sub' + 'process')", "computed at run time"),
    ("import os\ngetattr(os, 'sys' + 'tem')('ls')", "reads an attribute of os by a computed name"),
    ("import os\ngetattr(os, 'system')('ls')", "uses os.system"),
    ("__import__('os').system('ls')", "uses os.system"),
    # grading environment variables and the whole environment
    ("import os\nprint(os.environ['NBGRADER_EXECUTION'])", "mentions `NBGRADER_EXECUTION`"),
    ("import os\ngrading = os.getenv('NBGRADER_EXECUTION')", "NBGRADER_EXECUTION"),
    ("if 'NBGRADER_EXECUTION' in env:\n    pass", "mentions `NBGRADER_EXECUTION`"),
    ("import os\nprint(os.environ['AUTOGRADER_GRADING_DIR'])", "AUTOGRADER_GRADING_DIR"),
    ("import os\nprint(dict(os.environ))", "reads the whole environment"),
    ("import os\nfor k, v in os.environ.items():\n    print(k)", "reads the whole environment"),
    ("from os import environ\nprint(environ.copy())", "reads the whole environment"),
    ("import os\nv = os.getenv(name)", "reads the whole environment"),
    # processes, native code, network, threads, signals
    ("import subprocess\nsubprocess.run(['ls', '/'])", "imports subprocess"),
    ("from subprocess import check_output", "imports subprocess"),
    ("import os\nos.system('ls')", "uses os.system"),
    ("from os import system as run\nrun('ls')", "uses os.system"),
    ("import os\npid = os.fork()", "uses os.fork"),
    ("import os\nos.execv('/bin/sh', ['sh'])", "uses os.execv"),
    ("import os\nos.kill(1, 9)", "uses os.kill"),
    ("import ctypes\nctypes.string_at(0)", "imports ctypes"),
    ("from ctypes import CDLL", "imports ctypes"),
    ("import socket\ns = socket.socket(socket.AF_UNIX)", "imports socket"),
    ("import socket as sk", "imports socket"),
    ("import urllib.request", "imports urllib.request"),
    ("import threading\nthreading.Thread(target=f).start()", "imports threading"),
    ("from concurrent.futures import ThreadPoolExecutor", "imports concurrent"),
    ("import multiprocessing", "imports multiprocessing"),
    ("import signal\nsignal.signal(signal.SIGALRM, handler)", "uses signal.signal"),
    ("import signal\nsignal.alarm(1)", "uses signal.alarm"),
    # monkeypatching numpy and other modules
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "`np.allclose` (monkeypatching)"),
    ("import numpy\nnumpy.sum = lambda *a, **k: 0", "`numpy.sum` (monkeypatching)"),
    ("np.testing.assert_allclose = lambda *a, **k: None",
     "`np.testing.assert_allclose` (monkeypatching)"),
    ("np.linalg.norm = fake_norm", "`np.linalg.norm` (monkeypatching)"),
    ("del np.allclose", "`np.allclose` (monkeypatching)"),
    ("np.pi += 1", "`np.pi` (monkeypatching)"),
    ("np.max, np.min = np.min, np.max", "monkeypatching"),
    ("setattr(np, 'allclose', lambda *a: True)", "numpy attribute `numpy.allclose` (monkeypatching)"),
    ("vars(np)['allclose'] = ok", "numpy attribute"),
    ("np.__dict__['allclose'] = ok", "numpy attribute"),
    ("import numpy.testing as npt\nnpt.assert_allclose = ok", "numpy attribute"),
    ("import os\nos.system = fake", "os attribute `os.system`"),
    # magics and shell escapes
    ("%load solution.py", "uses IPython magic `%load solution.py`"),
    ("!cat /etc/passwd", "runs a shell command `!cat /etc/passwd`"),
    ("%%bash\nls /", "uses IPython magic `%%bash`"),
    ("%%writefile autograder_harness.py\ndef check(t, ns): return 30", "IPython magic `%%writefile"),
    ("for i in range(3):\n    !ls", "runs a shell command `!ls`"),
    ("%env NBGRADER_EXECUTION=", "IPython magic `%env"),
    ("files = !cat cases.json", "shell command"),
    ("%%time\nimport ctypes", "imports ctypes"),
    ("%timeit get_ipython().user_ns", "`get_ipython().user_ns`"),
    # paths and names of the grading machinery
    ("open('/autograder/cases.json').read()", "mentions `/autograder/cases.json`"),
    ("data = open('/srv/autograder/grading/inputs.npz', 'rb')", "mentions"),
    ("import autograder_harness", "imports autograder_harness"),
    ("from autograder import reference", "imports autograder"),
    ("p = 'verifier.sock'", "verifier.sock"),
    ("import os\npath = os.path.join(d, 'verifier.sock')", "verifier.sock"),
    ("db = 'gradebook.db'", "gradebook"),
]


class TestFlagged:
    @pytest.mark.parametrize("code, finding", FLAGGED, ids=[re.sub(r"\W+", "_", c[-40:]).strip("_")
                                                             for c, _ in FLAGGED])
    def test_flags(self, code, finding):
        found = scan(code)
        assert flagged(found, finding), f"{code!r}: {found}"
        assert all(f.kind == TAMPERING for f in findings(code))

    @pytest.mark.parametrize("code, finding", [
        ("ip = get_ipython()", "uses get_ipython"),
        ("import sys\nsys.modules['autograder_harness'] = fake", "writes into sys.modules"),
        ("import os\nflag = os.environ.get('NBGRADER_EXECUTION')", "NBGRADER_EXECUTION"),
        ("import numpy as np\nnp.allclose = lambda *a, **k: True", "`np.allclose` (monkeypatching)"),
        ("import subprocess\nsubprocess.run(['ls'])", "imports subprocess"),
        ("!cat /etc/passwd", "`!cat /etc/passwd`"),
        ("open('/autograder/cases.json')", "/autograder"),
    ])
    def test_flags_inside_honest_code(self, answers, code, finding):
        # Hidden between honest cells, indented in a function, still found.
        body = "\n".join("    " + l for l in code.splitlines())
        code = answers["conv_forward_naive"] + f"\n\ndef sneaky():\n{body}\n\n" + \
            answers["max_pool_backward_naive"]
        assert flagged(scan(code), finding)

    def test_names_the_cell_and_line(self, answers):
        honest = answers["conv_forward_naive"]
        code = honest + "\n\nimport ctypes\n"
        found = COURSE_RULES.scan([StudentCell("own cell before the first answer", "x = 1"),
                                   StudentCell("conv_forward_naive", code)], "conv_layers")
        line = code.splitlines().index("import ctypes") + 1
        assert found == [Finding(TAMPERING, "imports ctypes", "conv_forward_naive", line,
                                 "import ctypes")]
        assert str(found[0]) == f"imports ctypes (conv_forward_naive, line {line}: `import ctypes`)"

    def test_the_line_after_leading_blank_lines(self):
        found = findings("\n   \nx = 1\nimport ctypes\n")
        assert [(f.what, f.line, f.text) for f in found] == [("imports ctypes", 4, "import ctypes")]
        found = findings("\n%%time\nx = 1\nimport socket")
        assert [(f.what, f.line, f.text) for f in found] == [("imports socket", 4, "import socket")]

    def test_the_line_of_code_hidden_in_a_cell_magic(self):
        found = findings("%%time\nx = 1\nimport socket")
        assert [(f.what, f.line, f.text) for f in found] == [("imports socket", 3, "import socket")]

    def test_first_occurrence_of_each_finding_sorted(self):
        code = "get_ipython()\nget_ipython()\nimport subprocess\nimport ctypes\n!ls\n!ls"
        found = findings(code)
        assert found == sorted(found)
        assert [(f.what, f.line) for f in found] == [
            ("imports ctypes", 4), ("imports subprocess", 3), ("runs a shell command `!ls`", 5),
            ("uses get_ipython", 1)]

    def test_long_lines_are_clipped(self):
        (f,) = findings("import ctypes; x = '" + "y" * 500 + "'")
        assert len(f.text) <= 100

    def test_lists_come_from_configuration(self):
        code = "import requests_html\nget_ipython()"
        config = load_config("c = get_config()\nc.TamperingScan.modules.append('requests_html')\n"
                             "c.TamperingScan.calls = []\n")
        assert scan(code, TamperingScan(config=config)) == ["imports requests_html"]
        assert scan(code, TamperingScan(modules=[], calls=[])) == []
        magic = "%env X=1"
        assert scan(magic) == ["uses IPython magic `%env X=1`"]
        assert scan(magic, TamperingScan(allowed_magics=["env"])) == []

    def test_the_course_config_sets_this_assignments_libraries(self):
        assert "scipy.signal" in COURSE_RULES.work_libraries["conv_layers"]


class TestLibraryDoingTheWork:
    @pytest.mark.parametrize("code, library", [
        ("from scipy import signal\nout = signal.correlate2d(a, k, mode='valid')", "scipy.signal"),
        ("import scipy.signal\nout = scipy.signal.convolve(a, k[::-1, ::-1])", "scipy.signal"),
        ("from scipy.ndimage import correlate\nout = correlate(a, k)", "scipy.ndimage"),
        ("import torch.nn.functional as F\nout = F.conv2d(torch.tensor(x), torch.tensor(w))", "torch"),
        ("out = np.convolve(row, k[::-1], 'valid')", "numpy.convolve"),
        ("import tensorflow as tf\nout = tf.nn.max_pool2d(x, 2, 2, 'VALID')", "tensorflow"),
    ])
    def test_flagged_as_its_own_kind(self, code, library):
        (f,) = [f for f in findings(code, label="conv_forward_naive")]
        assert f.kind == LIBRARY and f.cell == "conv_forward_naive"
        assert f.what == f"uses {library}, a library that does the task's work"

    def test_an_import_alone_is_not_the_work(self):
        assert findings("import scipy.signal") == []

    def test_only_for_the_assignment_that_lists_it(self):
        cells = [StudentCell("conv_forward_naive", "import scipy.signal\nscipy.signal.correlate(a, b)")]
        assert COURSE_RULES.scan(cells, "another_assignment") == []
        assert COURSE_RULES.scan(cells, "conv_layers") != []


# --------------------------------------------------------------------------- syntax errors

class TestSyntaxErrors:
    @pytest.mark.parametrize("code", ["def f(:\n    pass", "x = (1,", "class", "\x00", "'''",
                                      "if True:\npass", "return return", "np.allclose = "])
    def test_does_not_raise(self, code):
        assert isinstance(scan(code), list)

    def test_evidence_still_found_line_by_line(self):
        assert "uses get_ipython" in scan("def f(:\n    get_ipython().user_ns")
        assert "imports subprocess" in scan("import subprocess\nx = (1,")
        assert flagged(scan("open('/autograder/x')\nx = ("), "/autograder")
        assert flagged(scan("np.allclose = f\nx = ("), "`np.allclose` (monkeypatching)")
        assert [(f.what, f.line) for f in findings("x = (\nimport ctypes")] == [("imports ctypes", 2)]

    def test_honest_lines_of_an_unparsable_cell(self):
        code = ("from builtins import range\nimport math\n%matplotlib inline\n"
                "g = globals()\nx = (")
        assert scan(code) == []

    def test_magic_still_found(self):
        assert flagged(scan("!ls\ndef f(:"), "`!ls`")
        assert flagged(scan("%load x.py\ndef f(:"), "`%load x.py`")

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
    "from numpy.lib.stride_tricks import sliding_window_view, as_strided\n"
    "v = sliding_window_view(x, (2, 2))",
    "np.random.seed(0)\nrng = np.random.default_rng(1)\nnp.set_printoptions(precision=4)",
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
    # Python 2 compatibility lines of the CS231n starter code
    "from builtins import range\nfrom builtins import object\n"
    "from __future__ import print_function, division\nfrom past.builtins import xrange",
    "import builtins\nn = builtins.len(x)",
    # ordinary Python that looks like the machinery's but reaches nothing
    "def f():\n    return globals()['conv_forward_naive']",
    "g = globals()\nlocal_names = vars()\nfn = lambda a: a * 2",
    "setattr(self, 'cache', cache)\nsetattr(layer, name, value)\ngetattr(layer, name)",
    "exec('x = 1')\ny = eval('1 + 1')",
    "import importlib\nimportlib.reload(conv_helpers)",
    "import os\nos.environ['OMP_NUM_THREADS'] = '1'\nhome = os.environ.get('HOME', '/')",
    "import os\nif 'COLAB_GPU' in os.environ:\n    print('colab')\npath = os.path.join('a', 'b')",
    "import sys\nsys.path.append('..')\nsys.setrecursionlimit(5000)\nprint(sys.version)",
    "import sys\nif 'google.colab' in sys.modules:\n    pass",
    "import gc, time\ngc.collect()\nt0 = time.time()",
    "from IPython.display import display, HTML, clear_output\ndisplay(HTML('<b>done</b>'))",
    "from IPython.core.display import Image",
    "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
    "%timeit conv_forward_naive(x, w, b, conv_param)",
    "%%time\nout, _ = conv_forward_naive(x, w, b, conv_param)",
    "%config InlineBackend.figure_format = 'retina'",
    "import scipy.signal  # to compare with my own code, never called",
    "def signal(x):\n    return x\nsignal(3)",
    "out.shape = (N, F, H_out, W_out)\nnp.zeros(3).shape\nz = np.zeros(3)\nz[0] = 1",
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
        cells = student_cells(rebuilt, release)
        assert StudentCell("conv_forward_naive", answers["conv_forward_naive"]) in cells
        assert COURSE_RULES.scan(cells, "conv_layers") == []

    def test_blank_release(self):
        release = nbformat.read(str(RELEASE_NB), as_version=4)
        assert COURSE_RULES.scan(student_cells(release, release), "conv_layers") == []

    @pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
    def test_honest_mistakes(self, mutant):
        # Wrong code is not tampering (input_modified writes into a view of x, not numpy).
        assert scan("\n\n".join(apply(mutant, student_answers(RELEASE_NB)).values())) == []

    @pytest.mark.parametrize("code", HONEST)
    def test_honest_snippets(self, code):
        assert scan(code) == [], code


_RULES = TamperingScan()
_EVIDENCE_PARTS = {p for s in _RULES.calls + _RULES.modules + _RULES.protected
                   for p in re.split(r"[./*]", s) if p}
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in _EVIDENCE_PARTS
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
