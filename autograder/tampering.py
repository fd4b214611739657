"""Spot code that reaches for grading internals, so a human takes a look.

This is not a defence (the sandbox and the trusted verifier are): a flagged submission is
graded like any other, and the instructor sees which APIs it used.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable

from IPython.core.inputtransformer2 import TransformerManager

# Names and dotted chains matched against the code: a dotted entry matches any run of
# attribute access (``shell.events.register`` matches ``events.register``).
DEFAULT_SUSPICIOUS = (
    "get_ipython", "sys.modules", "builtins", "__builtins__", "input_transformers_cleanup",
    "input_transformers_post", "ast_transformers", "events.register", "set_custom_exc",
    "displayhook", "excepthook", "ctypes", "subprocess", "os.system", "os.fork", "os.kill",
    "os._exit", "socket", "signal.signal", "os.environ", "os.getenv", "NBGRADER_EXECUTION",
    "autograder_harness", "verifier.sock", "/autograder", "gradebook", "sys._getframe",
    "inspect.stack", "gc.get_objects", "multiprocessing", "threading", "importlib",
    "__import__", "exec", "eval", "compile", "globals", "setattr",
)
_NUMPY = ("np", "numpy")
# What IPython turns %magics and !shell escapes into.
_MAGIC_CALLS = ("run_line_magic", "run_cell_magic", "system", "getoutput")


def _chain(node: ast.AST) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def _runs(parts: list[str]) -> set[str]:
    """Every contiguous run of a dotted chain: a.b.c -> a, b, c, a.b, b.c, a.b.c."""
    return {".".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}


def _in_string(name: str, text: str) -> bool:
    # Plain words like "exec" also occur in prose, so only distinctive names count here.
    return (bool(set(name) & set("_./")) or name.isupper() or name == "gradebook") and name in text


def _targets(node: ast.AST) -> Iterable[ast.AST]:
    for t in getattr(node, "targets", None) or [getattr(node, "target", None)]:
        yield from (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])


def _scan_cell(source: str, wanted: set[str], found: set[str]) -> None:
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        # Unparsable code: whole-word names and magic-looking lines, as text.
        found.update(f"uses {n}" for n in wanted
                     if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", source))
        found.update(f"uses IPython magic or shell escape `{m.group(2).strip()[:40]}`"
                     for m in re.finditer(r"^\s*(\w+\s*=\s*)?([%!].*)$", source, re.MULTILINE))
        return
    generated: set[int] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _MAGIC_CALLS and _chain(node.func.value) == [] \
                and isinstance(node.func.value, ast.Call) and _chain(node.func.value.func) == ["get_ipython"]:
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            prefix = {"run_line_magic": "%", "run_cell_magic": "%%"}.get(node.func.attr, "!")
            shown = prefix + " ".join(str(a) for a in args[:2] if a).strip()
            found.add(f"uses IPython magic or shell escape `{shown[:40]}`")
            generated.add(id(node.func.value.func))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in generated:
            names |= _runs(_chain(node))
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(n for n in wanted if _in_string(n, node.value))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            for t in _targets(node):
                if isinstance(t, ast.Attribute) and _chain(t)[:1] and _chain(t)[0] in _NUMPY:
                    found.add(f"assigns to numpy attribute `{'.'.join(_chain(t))}` (monkeypatching)")
    found.update(f"uses {n}" for n in wanted & names)


def scan(cells: Iterable[str], suspicious: Iterable[str] = DEFAULT_SUSPICIOUS) -> list[str]:
    """Sorted, de-duplicated findings over the student's code cells, e.g. ``"uses get_ipython"``."""
    if isinstance(cells, str):
        cells = [cells]
    wanted, found = set(suspicious), set()
    for source in cells:
        _scan_cell(source, wanted, found)
    return sorted(found)
