"""Untouched template stubs, told from the syntax tree: a stub defines nothing.

A function of a submitted module whose body (after an optional docstring) only raises
``NotImplementedError`` is the template's stub: where the submission also holds a notebook
that defines the same name, the notebook's definition is graded (HOMEWORK.md, Conventions).
A class counts as a stub when one of its methods is (a model whose ``forward`` is still the
template's), and so does an answer the template leaves as ``None`` (``ANSWER = None``: the grader
reads None as not attempted). Everything else in a module, real code, still wins over the notebook.

Decided with :mod:`ast` only: nothing of the submission runs here. The parent uses it for the
notes (:mod:`grader.submission`), the child to pick the definition it grades
(:mod:`grader.probes.student`), so both decide alike.

Standard library only.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _raises_not_implemented(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.Raise) or stmt.exc is None:
        return False
    exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _is_none(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def is_stub(node: ast.AST) -> bool:
    """A def whose body, after an optional docstring, only raises NotImplementedError; a class with such a
    method; an assignment of None (the template's unanswered constant)."""
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return _is_none(node.value)
    if isinstance(node, ast.ClassDef):
        return any(isinstance(s, _DEFS) and is_stub(s) for s in node.body)
    if not isinstance(node, _DEFS):
        return False
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return len(body) == 1 and _raises_not_implemented(body[0])


def _tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None   # a module that does not parse fails its own import: nothing to replace


def stub_names(source: str) -> set[str]:
    """The top-level names of `source` whose last definition is an untouched stub."""
    tree = _tree(source)
    last: dict[str, ast.stmt] = {}
    for node in tree.body if tree else ():
        if isinstance(node, (*_DEFS, ast.ClassDef)):
            last[node.name] = node
        else:
            for name in _bound(node):
                last[name] = node
    return {name for name, node in last.items() if is_stub(node)}


def defined_names(source: str) -> set[str]:
    """What the converted notebook module defines for real: its top-level functions, classes and
    assignments, also those it wraps in ``try`` or ``if`` (grader.notebook keeps them so), less its
    own stubs."""
    tree = _tree(source)
    found: dict[str, bool] = {}   # name -> whether its last definition is real code

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, (*_DEFS, ast.ClassDef)):
                found[node.name] = not is_stub(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                found.update(dict.fromkeys(_bound(node), not is_stub(node)))
            elif isinstance(node, (ast.If, ast.Try)):
                for block in (node.body, *(h.body for h in getattr(node, "handlers", ())), node.orelse):
                    visit(block)

    visit(tree.body if tree else [])
    return {name for name, real in found.items() if real}


def _bound(node: ast.stmt) -> set[str]:
    """Names a top-level statement other than def/class binds (an assignment, an import)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*"}
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    return {t.id for t in targets if isinstance(t, ast.Name)} | {
        n.id for t in targets if isinstance(t, (ast.Tuple, ast.List)) for n in ast.walk(t)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def from_notebook(modules: dict[str, str], notebook: str) -> dict[str, list[str]]:
    """{module: its stubs that the notebook defines}, from their sources; modules without any are left out."""
    defined = defined_names(notebook)
    found = {module: sorted(stub_names(source) & defined) for module, source in modules.items()}
    return {module: names for module, names in found.items() if names}


def from_notebook_files(modules: dict[str, Path], notebook: Path) -> dict[str, list[str]]:
    """:func:`from_notebook` of the files (the modules by contract name, the converted notebook)."""
    sources = {module: _read(path) for module, path in modules.items()}
    return from_notebook({m: text for m, text in sources.items() if text is not None}, _read(notebook) or "")


def _read(path: Path) -> str | None:
    """A .py file's text as Python decodes it (its coding line honoured); None when it cannot be read."""
    try:
        return importlib.util.decode_source(Path(path).read_bytes())
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
        return None
