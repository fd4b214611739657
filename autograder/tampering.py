"""Spot code that reaches for grading internals, so a human takes a look.

This is not a defence (the sandbox and the trusted verifier are): a flagged submission is
graded like any other, and the instructor sees which APIs it used and where.
"""
from __future__ import annotations

import ast
import re

# Attribute chains or names, matched against dotted names in the code.
DEFAULT_SUSPICIOUS = (
    "get_ipython", "sys.modules", "builtins", "__builtins__", "input_transformers",
    "ast_transformers", "events.register", "set_custom_exc", "displayhook", "excepthook",
    "ctypes", "subprocess", "os.system", "os.fork", "os.kill", "os._exit", "socket",
    "signal.signal", "os.environ", "os.getenv", "NBGRADER_EXECUTION", "autograder_harness",
    "verifier.sock", "/autograder", "gradebook", "sys._getframe", "inspect.stack",
    "gc.get_objects", "multiprocessing", "threading", "importlib", "__import__",
    "exec", "eval", "compile", "globals", "setattr",
)
_NUMPY = ("np", "numpy")


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def scan(code: str, suspicious=DEFAULT_SUSPICIOUS) -> list[str]:
    """Sorted, de-duplicated findings, e.g. ``"uses get_ipython"``."""
    wanted = set(suspicious)
    found: set[str] = set()
    # IPython magics and shell escapes are not Python; look at them as text.
    for line in code.splitlines():
        if re.match(r"\s*(%|!)", line):
            found.add(f"uses IPython magic or shell escape `{line.strip()[:40]}`")
    try:
        tree = ast.parse("\n".join(l for l in code.splitlines() if not re.match(r"\s*(%|!)", l)))
    except SyntaxError:
        tree = None
    names: set[str] = set()
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute)):
                dotted = _dotted(node)
                names.update(".".join(dotted.split(".")[:i + 1])
                             for i in range(len(dotted.split("."))))
                names.add(dotted.split(".")[-1])
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = getattr(node, "module", None)
                names.update(a.name for a in node.names)
                if mod:
                    names.add(mod)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # Names written into strings (paths, module names, environment variables);
                # plain words like "exec" would match ordinary prose, so they are skipped.
                names.update(s for s in wanted if (set(s) & set("_./") or s.isupper()
                                                   or s == "gradebook") and s in node.value)
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
                for t in targets:
                    if isinstance(t, ast.Attribute) and _dotted(t).split(".")[0] in _NUMPY:
                        found.add(f"assigns to numpy attribute `{_dotted(t)}` (monkeypatching)")
    else:
        names.update(w for w in wanted if w in code)
    found.update(f"uses {n}" for n in wanted & names)
    return sorted(found)
