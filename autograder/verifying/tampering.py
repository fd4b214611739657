"""Find evidence that a student's code reaches into the grading machinery or the kernel, and
libraries doing a task's work, so that a TA takes a look at the line that did it.

This is not a defence (the sandbox and the trusted verifier are): a flagged submission is
graded like any other. Evidence is specific: the IPython shell and its hooks, writes to
numpy, builtins, ``sys`` or ``sys.modules``, the harness, the verifier socket and grading
environment variables, native code, processes, threads, sockets and signals, and code
hidden from this scan (``exec`` of a computed string). Ordinary Python that honest students
write (``from builtins import range``, ``globals()`` in a helper, ``setattr`` on their own
objects, ``os.environ['OMP_NUM_THREADS'] = '1'``) is never evidence. The lists live in
``c.TamperingScan.*`` (``nbgrader_config.py``).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Iterable, Optional

from IPython.core.inputtransformer2 import TransformerManager
from traitlets import Dict, List, Unicode
from traitlets.config import Configurable

TAMPERING, LIBRARY = "tampering", "library"
# What IPython turns %magics and !shell escapes into: get_ipython().<call>(...).
_MAGIC_CALLS = {"run_line_magic": "%", "run_cell_magic": "%%", "system": "!", "getoutput": "!"}
# Magics whose argument (line magic) or body (cell magic) is Python code to scan in turn.
_CODE_MAGICS = {"time", "timeit", "prun", "capture"}
_CODE_RUNNERS = {"exec", "eval", "compile"}
_IMPORTERS = {"__import__", "importlib.import_module", "importlib.__import__"}
_SYS_MODULES_WRITES = {"pop", "popitem", "update", "setdefault", "clear", "__setitem__",
                       "__delitem__"}
_ENVIRON_BY_KEY = {"get", "pop", "setdefault", "__getitem__"}
_MAX_TEXT = 100


@dataclass(frozen=True)
class StudentCell:
    """A code cell the student wrote or kept; ``label`` says where it is, for a TA."""
    label: str     # an answer cell's grade_id, or e.g. "own cell after <grade_id>"
    source: str


@dataclass(frozen=True, order=True)
class Finding:
    kind: str      # TAMPERING or LIBRARY
    what: str      # e.g. "imports ctypes"
    cell: str      # StudentCell.label
    line: int      # 1-based, in the cell as the student wrote it
    text: str      # that line, stripped and clipped

    def __str__(self) -> str:
        return f"{self.what} ({self.cell}, line {self.line}: `{self.text}`)"


class TamperingScan(Configurable):
    """What counts as evidence of tampering, and which libraries would do a task's work."""

    modules = List(Unicode(), [
        "ctypes", "_ctypes", "cffi", "socket", "_socket", "ssl", "http", "urllib.request",
        "requests", "subprocess", "_posixsubprocess", "multiprocessing", "concurrent",
        "threading", "_thread", "pty", "pexpect", "zmq", "ipykernel", "jupyter_client",
        "nbclient", "nbgrader", "autograder", "autograder_harness",
    ], help="Modules (and their submodules) whose import is evidence: native code, "
            "network, processes, threads, and the grading stack itself.").tag(config=True)
    calls = List(Unicode(), [
        "get_ipython", "IPython.get_ipython", "IPython.core.getipython*",
        "IPython.core.interactiveshell*", "IPython.core.events*", "IPython.core.inputtrans*",
        "IPython.core.ultratb*", "IPython.core.formatters*", "IPython.core.displayhook*",
        "IPython.core.magic*", "os.system", "os.popen", "os.fork", "os.forkpty", "os.kill",
        "os.killpg", "os.exec*", "os.spawn*", "os.posix_spawn*", "os._exit", "os.set*id",
        "os.setpgrp", "signal.signal", "signal.alarm", "signal.setitimer",
        "signal.pthread_kill", "signal.raise_signal", "signal.siginterrupt",
        "signal.pthread_sigmask", "signal.set_wakeup_fd", "sys._getframe",
        "sys._current_frames", "sys.settrace", "sys.setprofile", "sys.addaudithook",
        "inspect.stack", "inspect.currentframe", "inspect.getouterframes",
        "inspect.getinnerframes", "inspect.trace", "gc.get_objects", "gc.get_referrers",
        "gc.get_referents", "asyncio.create_subprocess_*",
    ], help="Dotted names (shell-style patterns), resolved through the student's imports "
            "and aliases, whose use is evidence.").tag(config=True)
    protected = List(Unicode(), ["numpy", "builtins", "sys", "os", "IPython"],
                     help="Modules whose attributes student code must not assign, delete or "
                          "setattr (monkeypatching); writes into sys.modules and any use of "
                          "__builtins__ are evidence too.").tag(config=True)
    grading_strings = List(Unicode(), [
        "NBGRADER_", "AUTOGRADER_", "autograder_harness", "verifier.sock", "/autograder",
        "gradebook", "cases.json", "inputs.npz",
    ], help="Text whose appearance in a name or string is evidence: the harness, the "
            "verifier socket, grading directories and environment variables.").tag(config=True)
    allowed_magics = List(Unicode(), [
        "matplotlib", "autoreload", "load_ext autoreload", "reload_ext autoreload",
        "aimport", "timeit", "time", "prun", "capture", "config InlineBackend", "precision",
        "pylab inline", "who", "whos", "pprint", "xmode",
    ], help="IPython magics an honest notebook uses (name, optionally with its first "
            "words); any other magic, and every !shell escape, is evidence.").tag(config=True)
    work_libraries = Dict(value_trait=List(Unicode()), default_value={},
                          help="Per assignment id, modules or dotted names that would do "
                               "the student's work (e.g. scipy.signal where students "
                               "write a filter by hand); using one is flagged as its own "
                               "kind.").tag(config=True)

    def scan(self, cells: Iterable[StudentCell], assignment: str = "") -> list[Finding]:
        """The findings over the student's cells, the first occurrence of each, sorted."""
        libraries = tuple(self.work_libraries.get(assignment, ()))
        first: dict[tuple[str, str], Finding] = {}
        for cell in cells:
            for f in _CellScan(self, libraries, cell).findings():
                first.setdefault((f.kind, f.what), f)
        return sorted(first.values())


def _matches(dotted: str, entries: Iterable[str]) -> Optional[str]:
    """The entry that ``dotted`` (a module or a dotted name) is, or lies inside of."""
    return next((e for e in entries if fnmatchcase(dotted, e) or dotted.startswith(e + ".")), None)


def _const_str(node: Optional[ast.AST]) -> Optional[str]:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_shell(node: ast.AST) -> bool:
    """``get_ipython()``"""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and node.func.id == "get_ipython"


class _CellScan:
    """One cell: parse it (after IPython's own transforms) and collect what it reaches."""

    def __init__(self, rules: TamperingScan, libraries: tuple[str, ...], cell: StudentCell):
        self.rules, self.libraries, self.cell = rules, libraries, cell
        self.lines = cell.source.splitlines()
        # The release imports numpy as np in a locked cell, which is not scanned.
        self.aliases: dict[str, str] = {"np": "numpy"}
        self.parents: dict[int, ast.AST] = {}
        self.out: list[Finding] = []
        # Modules that any list names: reading one of their attributes by a computed name
        # (``getattr(os, name)``) hides which one is used.
        self.sensitive = set(rules.protected) | {m.split(".")[0] for m in rules.modules} \
            | {c.split(".")[0] for c in rules.calls if "." in c}

    # ----------------------------------------------------------------- bookkeeping
    def add(self, what: str, line: int, kind: str = TAMPERING) -> None:
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        self.out.append(Finding(kind, what, self.cell.label, line, text[:_MAX_TEXT]))

    def qualify(self, node: ast.AST) -> Optional[str]:
        """The dotted name a Name/Attribute chain refers to, through imports and aliases."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call) and node.args and self.qualify(node.func) in _IMPORTERS \
                and _const_str(node.args[0]):
            parts.append(_const_str(node.args[0]))       # __import__('os').system
        elif isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        else:
            return None
        return ".".join(reversed(parts))

    def module_of(self, node: ast.AST) -> Optional[str]:
        """The protected module, or ``sys.modules``, that an expression is: ``np``,
        ``np.__dict__``, ``vars(np)``, ``sys.modules``, ``sys.modules['numpy']``,
        ``sys.modules.get(name)``, ``getattr(sys, 'modules')``, ``__import__('builtins')``."""
        if isinstance(node, ast.Subscript):
            if self.module_of(node.value) == "sys.modules":
                return _const_str(node.slice) or "sys.modules"
            return None
        if isinstance(node, ast.Call):
            func, first = self.qualify(node.func), node.args[0] if node.args else None
            if first is None:
                return None
            if func in _IMPORTERS:
                return _const_str(first) if _const_str(first) in self.rules.protected else None
            if func == "vars":
                return self.module_of(first)
            if func == "getattr" and len(node.args) > 1:
                inner = self.module_of(first)
                return "sys.modules" if inner == "sys" and _const_str(node.args[1]) == "modules" \
                    else inner
            if isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                    and self.module_of(node.func.value) == "sys.modules":
                return _const_str(first) or "sys.modules"
            return None
        name = self.qualify(node)
        name = name[:-len(".__dict__")] if name and name.endswith(".__dict__") else name
        return name if name == "sys.modules" or name in self.rules.protected else None

    def protected_root(self, node: ast.AST) -> Optional[str]:
        """The protected module an attribute's owner lives in: ``numpy`` for the owner
        ``np.testing`` of ``np.testing.assert_allclose`` (or ``npt`` after ``import
        numpy.testing as npt``), ``sys.modules['numpy'].testing``."""
        while True:
            name = self.qualify(node) or ""
            mod = self.module_of(node) or next(
                (p for p in self.rules.protected if name.startswith(p + ".")), None)
            if mod or not isinstance(node, ast.Attribute):
                return mod
            node = node.value

    # ----------------------------------------------------------------- the scan
    def findings(self) -> list[Finding]:
        try:
            tree = ast.parse(TransformerManager().transform_cell(self.cell.source))
        except (SyntaxError, ValueError):
            self.scan_text()
            return self.out
        # IPython's transforms drop the cell's leading blank lines: count them back in.
        blank = next((i for i, line in enumerate(self.lines) if line.strip()), 0)
        ast.increment_lineno(tree, blank)
        self.collect_aliases(tree)
        self.parents = {id(child): node for node in ast.walk(tree)
                        for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            self.visit(node)
        return self.out

    def collect_aliases(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        # Names bound to a protected module (``m = sys.modules``, ``b = builtins``); twice,
        # so that an alias of an alias is known too.
        for _ in range(2):
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    mod = self.module_of(node.value)
                    if mod:
                        self.aliases[node.targets[0].id] = mod

    def visit(self, node: ast.AST) -> None:
        parent = self.parents.get(id(node))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.check_import(node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            self.check_write(node)
        elif isinstance(node, ast.Call):
            self.check_call(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.check_text(node.value, node.lineno)
        elif isinstance(node, (ast.Name, ast.Attribute)) \
                and not (isinstance(parent, ast.Attribute) and parent.value is node):
            self.check_name(node, parent)

    def check_import(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            return
        for name in names:
            module = _matches(name, self.rules.modules)
            if module:
                self.add(f"imports {module}", node.lineno)
            self.check_dotted(name, node.lineno, use=False)

    def check_dotted(self, name: str, line: int, use: bool = True) -> None:
        """A dotted name the code refers to (``use``) or imports."""
        if _matches(name, self.rules.calls):
            self.add(f"uses {name}", line)
        library = _matches(name, self.libraries) if use else None
        if library:
            self.add(f"uses {library}, a library that does the task's work", line, LIBRARY)
        self.check_text(name, line)

    def check_name(self, node: ast.AST, parent: Optional[ast.AST]) -> None:
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            self.add("uses __builtins__", node.lineno)
            return
        if _is_shell(parent) and isinstance(self.parents.get(id(parent)), ast.Attribute):
            return      # get_ipython().x: judged as a whole below
        shell = self.shell_chain(node)
        if shell is not None:
            if shell:
                self.add(f"uses the IPython shell (`get_ipython().{shell}`)", node.lineno)
            return
        name = self.qualify(node)
        if name == "os.environ" and not self.keyed_environ_use(node, parent):
            self.add("reads the whole environment (`os.environ`)", node.lineno)
        if name:
            self.check_dotted(name, node.lineno)

    def shell_chain(self, node: ast.AST) -> Optional[str]:
        """"a.b" for ``get_ipython().a.b``; "" for a magic's generated call (magics are
        judged on their own); None when the chain does not start at the shell."""
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if not _is_shell(node) or not attrs:
            return None
        return "" if attrs == [attrs[0]] and attrs[0] in _MAGIC_CALLS else ".".join(reversed(attrs))

    @staticmethod
    def keyed_environ_use(node: ast.AST, parent: Optional[ast.AST]) -> bool:
        """``os.environ['X']`` or ``'X' in os.environ``: one variable by a literal name,
        which the grading strings judge on its own."""
        if isinstance(parent, ast.Subscript) and parent.value is node:
            return _const_str(parent.slice) is not None
        return isinstance(parent, ast.Compare) and _const_str(parent.left) is not None \
            and all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops)

    def check_write(self, node: ast.AST) -> None:
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        flat: list[ast.AST] = []
        for t in targets:
            flat += t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
        for t in flat:
            # An item of a module's namespace (``vars(np)['x'] =``), not of a container
            # that a module holds (``os.environ['X'] =`` is honest).
            mod = self.module_of(t.value) if isinstance(t, ast.Subscript) else \
                self.protected_root(t.value) if isinstance(t, ast.Attribute) else None
            if mod == "sys.modules":
                self.add("writes into sys.modules", node.lineno)
            elif mod:
                self.add(f"assigns to {mod.split('.')[0]} attribute `{ast.unparse(t)[:60]}` "
                         "(monkeypatching)", node.lineno)

    def check_call(self, node: ast.Call) -> None:
        func = self.qualify(node.func)
        args = node.args
        literal = _const_str(args[0]) if args else None
        if isinstance(node.func, ast.Attribute) and _is_shell(node.func.value) \
                and node.func.attr in _MAGIC_CALLS:
            self.check_magic(node)
        elif func in ("setattr", "delattr") and args and self.module_of(args[0]):
            mod = self.module_of(args[0])
            attr = _const_str(args[1]) if len(args) > 1 else None
            self.add(f"assigns to {mod.split('.')[0]} attribute `{mod}.{attr or '?'}` "
                     "(monkeypatching)", node.lineno)
        elif func == "getattr" and len(args) > 1:
            owner = self.module_of(args[0]) or self.qualify(args[0])
            attr = _const_str(args[1])
            if owner and attr:
                self.check_dotted(f"{owner}.{attr}", node.lineno)
            elif owner and owner.split(".")[0] in self.sensitive:
                self.add(f"reads an attribute of {owner} by a computed name", node.lineno)
        elif func in _IMPORTERS:
            if literal is None:
                self.add("imports a module whose name is computed at run time", node.lineno)
            elif _matches(literal, self.rules.modules):
                self.add(f"imports {_matches(literal, self.rules.modules)}", node.lineno)
        elif func in _CODE_RUNNERS and args:
            if literal is None:
                self.add(f"runs code built at run time (`{func}` of a computed value)",
                         node.lineno)
            else:
                self.nested(literal, node.lineno)
        elif func == "os.getenv" and literal is None:
            self.add("reads the whole environment (`os.getenv` by a computed name)", node.lineno)
        elif isinstance(node.func, ast.Attribute):
            owner = self.module_of(node.func.value) or self.qualify(node.func.value)
            method = node.func.attr
            if owner == "sys.modules" and method in _SYS_MODULES_WRITES:
                self.add("writes into sys.modules", node.lineno)
            elif owner == "os.environ" and (method not in _ENVIRON_BY_KEY or literal is None):
                self.add("reads the whole environment (`os.environ`)", node.lineno)

    def check_magic(self, node: ast.Call) -> None:
        args = [_const_str(a) or "" for a in node.args] + ["", "", ""]
        prefix = _MAGIC_CALLS[node.func.attr]
        if prefix == "!":
            self.add(f"runs a shell command `!{args[0][:40]}`", node.lineno)
            return
        name, line = args[0], args[1]
        magic = f"{name} {line}".strip()
        if not any(re.match(re.escape(a) + r"(?!\w)", magic) for a in self.rules.allowed_magics):
            self.add(f"uses IPython magic `{prefix}{magic[:40]}`", node.lineno)
        elif name in _CODE_MAGICS:
            # A line magic's code is on its own line; a cell magic's body starts below it.
            self.nested(args[2], node.lineno + 1, keep_lines=True) if prefix == "%%" \
                else self.nested(line, node.lineno)

    def nested(self, code: str, line: int, keep_lines: bool = False) -> None:
        """Scan code held in a string (``exec("...")``, a ``%%time`` body) starting at
        ``line``; with ``keep_lines`` its own lines map to the cell's from there."""
        sub = _CellScan(self.rules, self.libraries, StudentCell(self.cell.label, code))
        sub.aliases = dict(self.aliases)
        for f in sub.findings():
            self.add(f.what, line - 1 + f.line if keep_lines else line, f.kind)

    def check_text(self, text: str, line: int) -> None:
        if any(s in text for s in self.rules.grading_strings):
            self.add(f"mentions `{text.strip()[:50]}`", line)

    # ----------------------------------------------------------------- unparsable cells
    def scan_text(self) -> None:
        """A cell with a syntax error: imports, dotted names, writes and magics, line by line."""
        for n, line in enumerate(self.lines, 1):
            m = _IMPORT_LINE.match(line)
            names = []
            if m and m.group(1):
                names = [m.group(1)] + [f"{m.group(1)}.{a.split()[0]}"
                                        for a in m.group(2).split(",") if a.split()]
            elif m:
                names = [a.split()[0] for a in m.group(3).split(",") if a.split()]
            for name in names:
                module = _matches(name, self.rules.modules)
                if module:
                    self.add(f"imports {module}", n)
            for word in _DOTTED.findall(line):
                if word == "__builtins__":
                    self.add("uses __builtins__", n)
                else:
                    self.check_dotted(self.aliases.get(word, word), n)
            self.check_text(line, n)
            w = _WRITE_LINE.match(line)
            if w:
                self.add(f"assigns to {w.group(1).split('.')[0]} attribute `{w.group(1)}` "
                         "(monkeypatching)", n)
            magic = _MAGIC_LINE.match(line)
            if magic and not (magic.group(1) == "%" and any(
                    re.match(re.escape(a) + r"(?!\w)", magic.group(2).strip())
                    for a in self.rules.allowed_magics)):
                self.add(f"uses IPython magic or a shell escape `{line.strip()[:40]}`", n)


_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w\s,]+)|import\s+([\w\s.,]+))")
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_WRITE_LINE = re.compile(r"^\s*((?:np|numpy|builtins|sys)\.[\w.]+)\s*[-+*/]?=(?!=)")
_MAGIC_LINE = re.compile(r"^\s*(?:\w+\s*=\s*)?(%%?|!)(.*)$")
