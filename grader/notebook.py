"""A student's notebook as an importable module: its imports, definitions and constants only.

A notebook mixes what is graded (``def f_true``, ``class MLP``, ``alpha = 0.1``) with
what runs experiments (training loops, plots, ``model = MLP()``). The grader imports
the functions, so :func:`notebook_to_module` keeps, at top level and in order:

- ``import`` / ``from ... import`` (an import of a package the grader does not have is
  wrapped in ``try``, so one ``import sklearn`` cannot hide every function);
- ``def`` and ``class`` statements with their decorators;
- assignments whose value is *cheap*: literals, names, attributes, arithmetic,
  comparisons, containers, lambdas and calls of a small whitelist (tensor and array
  constructors, ``nn`` layers, ``range``, ``len``, ``math.*`` ...), checked recursively
  (``torch.tensor(np.random.normal(...))`` is not cheap);
- ``try`` blocks holding only imports.

Everything else (loops, ``with`` blocks, plots, ``if __name__ == "__main__":``,
assignments that call other code) is left out, and one short note says what. A kept
statement that needs a name only skipped code defines would fail the import, so it is
left out too. The module is written by ``ast.unparse``; cells are numbered by their
position among the notebook's code cells, starting at 1.

Standard library only: nothing of the notebook runs here.
"""
from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NotebookError", "code_cells", "count_definitions", "notebook_to_module"]


class NotebookError(ValueError):
    """The file is not a notebook that can be read (message for the student)."""


# ---------------------------------------------------------------- reading cells

def code_cells(ipynb: Path) -> list[tuple[int, str]]:
    """``(number, source)`` of every code cell, numbered from 1 among code cells.

    nbformat 4 (``cells``, ``source``) and 3 (``worksheets``, ``input``) are read;
    a source may be a string or a list of strings. Raises :class:`NotebookError`.
    """
    try:
        raw = Path(ipynb).read_bytes()
    except OSError as exc:
        raise NotebookError(f"{Path(ipynb).name} could not be opened ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise NotebookError(f"{Path(ipynb).name} is not UTF-8 text, so it is not a saved Jupyter notebook") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise NotebookError(f"{Path(ipynb).name} is not valid notebook JSON{where}; "
                            "save it again from Jupyter and re-upload") from None
    if not isinstance(data, dict):
        raise NotebookError(f"{Path(ipynb).name} is JSON but not a notebook (no cells)")
    if isinstance(data.get("cells"), list):
        cells, key = data["cells"], "source"
    elif isinstance(data.get("worksheets"), list):  # nbformat 3
        cells, key = [c for ws in data["worksheets"] if isinstance(ws, dict)
                      for c in (ws.get("cells") or [])], "input"
    else:
        raise NotebookError(f"{Path(ipynb).name} is JSON but not a notebook (no cells)")
    out: list[tuple[int, str]] = []
    for cell in cells:
        if not isinstance(cell, dict):
            raise NotebookError(f"{Path(ipynb).name} has a cell that is not a JSON object")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get(key, cell.get("source", ""))
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"code cell {len(out) + 1} of {Path(ipynb).name} has a source "
                                "that is neither text nor a list of lines")
        out.append((len(out) + 1, source))
    return out


_MAGIC = re.compile(r"^(\s*)(%|!|\?|[A-Za-z_][\w.,\s]*=\s*[%!])")   # %magic, !shell, ?help, x = !ls


def _without_magics(source: str) -> tuple[str | None, str]:
    """The cell with IPython line magics / shell lines replaced by ``pass`` (line numbers kept).

    Returns ``(None, magic)`` for a cell that starts with a ``%%`` cell magic.
    """
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return None, first.split()[0]
    kept = []
    for line in lines:
        m = _MAGIC.match(line)
        stripped = line.rstrip()
        if m:
            kept.append(m.group(1) + "pass")
        elif stripped.endswith("?") and not stripped.endswith("\\?") and _is_help(stripped):
            kept.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", ""


def _is_help(line: str) -> bool:
    """``np.linspace?`` / ``obj??``: IPython help, not Python."""
    return re.fullmatch(r"\s*[A-Za-z_][\w.]*\?{1,2}", line) is not None


def _parse(source: str) -> ast.Module:
    """Parse a cell, first as is (a ``%`` inside a string must survive), then without magics."""
    try:
        return ast.parse(source)
    except SyntaxError:
        cleaned, _ = _without_magics(source)
        return ast.parse(cleaned or "")


def count_definitions(ipynb: Path) -> int:
    """The number of top-level ``def``/``class`` statements; -1 for a notebook that cannot be read."""
    try:
        cells = code_cells(ipynb)
    except NotebookError:
        return -1
    total = 0
    for _, source in cells:
        if _without_magics(source)[0] is None:
            continue
        try:
            tree = _parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        total += sum(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for s in tree.body)
    return total


# ---------------------------------------------------------------- what is cheap

#: Calls a kept assignment may make, by canonical dotted name (aliases resolved).
CHEAP_CALLS = frozenset({
    "range", "len", "int", "float", "bool", "str", "complex", "abs", "min", "max", "round",
    "dict", "list", "tuple", "set", "frozenset",
    "torch.tensor", "torch.as_tensor", "torch.zeros", "torch.ones", "torch.full", "torch.linspace",
    "torch.arange", "torch.eye", "torch.device", "torch.Size",
    "numpy.array", "numpy.asarray", "numpy.zeros", "numpy.ones", "numpy.full", "numpy.linspace",
    "numpy.arange", "numpy.eye", "numpy.float32", "numpy.float64",
})
#: Any call under these prefixes is cheap too (``math.sqrt``; ``nn.Linear``, ``nn.MSELoss``...).
CHEAP_PREFIXES = ("math.",)
_NN_PREFIX = "torch.nn."
#: Conventional aliases, used when the notebook's own imports do not say.
_DEFAULT_ALIASES = {"np": "numpy", "nn": "torch.nn", "F": "torch.nn.functional"}
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__"}
_PLOT_ROOTS = {"plt", "matplotlib", "pyplot", "sns", "seaborn", "pylab"}
_PLOT_METHODS = {"plot", "show", "scatter", "figure", "subplot", "subplots", "legend", "xlabel", "ylabel",
                 "title", "savefig", "hist", "imshow", "grid", "xlim", "ylim", "semilogy", "loglog",
                 "tight_layout", "suptitle", "set_xlabel", "set_ylabel", "set_title", "axis", "bar"}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


@dataclass
class _Scope:
    """What the kept code has defined so far, and how its imports alias modules."""

    aliases: dict[str, str] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    user: set[str] = field(default_factory=set)   # names bound by the notebook's own def/class/assignments
    star: bool = False                              # a kept `from x import *`: any name may exist

    def canonical(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head) or _DEFAULT_ALIASES.get(head, head)
        return f"{base}.{rest}" if rest else base

    def has(self, name: str) -> bool:
        return self.star or name in self.defined or name in _BUILTINS


def _cheap_call(call: ast.Call, scope: _Scope) -> bool:
    dotted = _dotted(call.func)
    if dotted is None:
        return False
    if "." not in dotted and dotted in scope.user:   # the notebook's own function, e.g. MLP()
        return False
    name = scope.canonical(dotted)
    if name in CHEAP_CALLS or name.startswith(CHEAP_PREFIXES):
        return True
    # nn.Linear(1, 64), nn.MSELoss(), nn.Sequential(...): torch.nn classes (capitalized), not nn.init.*
    return name.startswith(_NN_PREFIX) and name.count(".") == 2 and name.rsplit(".", 1)[1][:1].isupper()


def _is_cheap(node: ast.AST | None, scope: _Scope) -> bool:
    if node is None:
        return True
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _is_cheap(node.value, scope)
    if isinstance(node, ast.UnaryOp):
        return _is_cheap(node.operand, scope)
    if isinstance(node, ast.BinOp):
        return _is_cheap(node.left, scope) and _is_cheap(node.right, scope)
    if isinstance(node, ast.BoolOp):
        return all(_is_cheap(v, scope) for v in node.values)
    if isinstance(node, ast.Compare):
        return _is_cheap(node.left, scope) and all(_is_cheap(c, scope) for c in node.comparators)
    if isinstance(node, ast.IfExp):
        return all(_is_cheap(n, scope) for n in (node.test, node.body, node.orelse))
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_cheap(e, scope) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(_is_cheap(k, scope) for k in node.keys) and all(_is_cheap(v, scope) for v in node.values)
    if isinstance(node, ast.Starred):
        return _is_cheap(node.value, scope)
    if isinstance(node, ast.Subscript):
        return _is_cheap(node.value, scope) and _is_cheap(node.slice, scope)
    if isinstance(node, ast.Slice):
        return all(_is_cheap(n, scope) for n in (node.lower, node.upper, node.step))
    if isinstance(node, ast.JoinedStr):
        return all(_is_cheap(v, scope) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return _is_cheap(node.value, scope) and _is_cheap(node.format_spec, scope)
    if isinstance(node, ast.Lambda):  # the body runs only when called
        args = node.args
        return all(_is_cheap(d, scope) for d in [*args.defaults, *args.kw_defaults])
    if isinstance(node, ast.Call):
        return (_cheap_call(node, scope) and all(_is_cheap(a, scope) for a in node.args)
                and all(_is_cheap(k.value, scope) for k in node.keywords))
    return False


def _loaded_names(node: ast.AST | None) -> set[str]:
    """Global names evaluated when `node` runs now (lambda bodies run later: not counted)."""
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.Lambda):
        args = node.args
        return set().union(*(_loaded_names(d) for d in [*args.defaults, *args.kw_defaults] if d is not None))
    names: set[str] = set()
    for child in ast.iter_child_nodes(node):
        names |= _loaded_names(child)
    return names


def _target_names(target: ast.AST) -> tuple[set[str], set[str]]:
    """(names bound, names that must already exist) by an assignment target."""
    if isinstance(target, ast.Name):
        return {target.id}, set()
    if isinstance(target, (ast.Tuple, ast.List)):
        bound, needed = set(), set()
        for elt in target.elts:
            b, n = _target_names(elt)
            bound |= b
            needed |= n
        return bound, needed
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return set(), _loaded_names(target)   # x.attr = ..., d[k] = ...


def _def_time_names(stmt: ast.AST, *, annotations: bool = True) -> set[str]:
    """Names a def/class statement evaluates when it runs: decorators, bases, defaults, annotations."""
    nodes: list[ast.AST] = list(stmt.decorator_list)
    if isinstance(stmt, ast.ClassDef):
        nodes += stmt.bases + [k.value for k in stmt.keywords]
    else:
        a = stmt.args
        nodes += [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
        if annotations:
            nodes += [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                      if x is not None and x.annotation is not None]
        if annotations and stmt.returns is not None:
            nodes.append(stmt.returns)
    names: set[str] = set()
    for n in nodes:
        names |= _loaded_names(n)
    return names


# ---------------------------------------------------------------- the conversion

@dataclass
class _Skipped:
    """What was left out, by kind, for the one summary note."""

    order: list[str] = field(default_factory=list)
    cells: dict[str, list[int]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, cell: int, example: str = "") -> None:
        if kind not in self.cells:
            self.order.append(kind)
            self.cells[kind], self.examples[kind] = [], []
        self.cells[kind].append(cell)
        if example and example not in self.examples[kind]:
            self.examples[kind].append(example)

    def note(self) -> str | None:
        if not self.order:
            return None
        parts = []
        for kind in self.order:
            count = len(self.cells[kind])
            singular, plural = _KINDS[kind]
            text = singular if count == 1 else f"{count} {plural}"
            text += " in " + _cells_text(sorted(set(self.cells[kind])))
            shown = sorted(self.examples[kind], key=len)[:2]   # the shortest say it best
            if shown:
                more = ", ..." if count > len(shown) else ""
                text += f" ({', '.join(shown)}{more})"
            parts.append(text)
        return "Skipped top-level code that runs experiments (not graded): " + ", ".join(parts) + "."


_KINDS = {  # kind -> (one, several)
    "cell-magic": ("a cell starting with a %% magic", "cells starting with a %% magic"),
    "main": ('an `if __name__ == "__main__":` block', '`if __name__ == "__main__":` blocks'),
    "for": ("a for-loop", "for-loops"),
    "while": ("a while-loop", "while-loops"),
    "with": ("a with-block", "with-blocks"),
    "if": ("an if-block", "if-blocks"),
    "try": ("a try-block", "try-blocks"),
    "plot": ("a plotting call", "plotting calls"),
    "call": ("a call", "calls"),
    "assign-call": ("an assignment that calls functions", "assignments that call functions"),
    "assign-needs": ("an assignment that uses skipped results", "assignments that use skipped results"),
    "def-needs": ("a definition that uses skipped results", "definitions that use skipped results"),
    "expr": ("a displayed value", "displayed values"),
    "other": ("another statement", "other statements"),
}


def _cells_text(cells: list[int]) -> str:
    runs: list[list[int]] = []
    for c in cells:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    if len(runs) == 1 and len(runs[0]) > 1:
        return f"cells {runs[0][0]}-{runs[0][-1]}"
    if len(cells) == 1:
        return f"cell {cells[0]}"
    return "cells " + ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _short(stmt: ast.AST, limit: int = 40) -> str:
    try:
        text = ast.unparse(stmt).splitlines()[0]
    except Exception:
        return ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_main_guard(stmt: ast.AST) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    sides = [stmt.test.left, *stmt.test.comparators]
    return (len(sides) == 2 and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _is_plot(call: ast.AST) -> bool:
    if not isinstance(call, ast.Call):
        return False
    dotted = _dotted(call.func) or ""
    root = _root(call.func)
    attr = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    return root in _PLOT_ROOTS or attr in _PLOT_METHODS or dotted.startswith("display")


def _import_top(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(stmt, ast.ImportFrom):
        return [stmt.module.split(".")[0]] if stmt.module and stmt.level == 0 else []
    return [a.name.split(".")[0] for a in stmt.names]


def _installed(top: str) -> bool:
    """Whether the grader can import the top-level package `top` (found, never imported)."""
    if not top.isidentifier():
        return False
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError, AttributeError):
        return False


#: The homework's own modules: a notebook may import them, but they are the submission's, not packages.
CONTRACT_MODULES = frozenset({"threelayerSGD", "losses", "activations", "gradients", "softmax",
                              "interpolation", "convolution"})


class _Converter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scope = _Scope()
        self.kept: list[tuple[int, str]] = []
        self.future: list[ast.stmt] = []
        self.skipped = _Skipped()
        self.notes: list[str] = []
        self.missing_packages: dict[str, list[str]] = {}
        self.installed_cache: dict[str, bool] = {}

    def installed(self, top: str) -> bool:
        if top not in self.installed_cache:
            self.installed_cache[top] = _installed(top)
        return self.installed_cache[top]

    def bind_import(self, stmt: ast.Import | ast.ImportFrom, *, available: bool) -> None:
        for alias in stmt.names:
            if alias.name == "*":
                self.scope.star = self.scope.star or available
                continue
            if isinstance(stmt, ast.Import):
                bound = alias.asname or alias.name.split(".")[0]
                target = alias.name if alias.asname else alias.name.split(".")[0]
            else:
                bound = alias.asname or alias.name
                target = f"{stmt.module}.{alias.name}" if stmt.module else alias.name
            self.scope.aliases[bound] = target
            self.scope.user.discard(bound)
            if available:
                self.scope.defined.add(bound)

    def keep(self, cell: int, stmt: ast.stmt) -> None:
        self.kept.append((cell, ast.unparse(stmt)))   # may raise RecursionError: before any scope update

    def local(self, top: str) -> bool:
        """A module of the submission (a contract module or a file next to the notebook)."""
        return top in CONTRACT_MODULES or (self.folder / f"{top}.py").is_file() or (self.folder / top).is_dir()

    def statement(self, cell: int, stmt: ast.stmt) -> None:
        s, scope = stmt, self.scope
        if isinstance(s, ast.ImportFrom) and s.module == "__future__":
            self.future.append(s)
            return
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            if isinstance(s, ast.ImportFrom) and s.level:
                self.skipped.add("other", cell, _short(s))
                return
            # the submission's own modules are guarded even when a same-named package is installed:
            # which one the child finds is the child's business, and a failed import skips only this line
            missing = [t for t in _import_top(s) if self.local(t) or not self.installed(t)]
            if missing:
                for t in missing:
                    if not self.local(t):
                        self.missing_packages.setdefault(t, []).append(_short(s, 60))
                s = ast.Try(body=[s], handlers=[ast.ExceptHandler(
                    type=ast.Name("ImportError", ast.Load()), name=None, body=[ast.Pass()])],
                    orelse=[], finalbody=[])
            self.keep(cell, s)
            self.bind_import(stmt, available=not missing)
            return
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            needed = {n for n in _def_time_names(s, annotations=not self._lazy_annotations()) if not scope.has(n)}
            if needed:
                self.skipped.add("def-needs", cell, f"{s.name} needs {', '.join(sorted(needed))}")
                return
            self.keep(cell, s)
            scope.defined.add(s.name)
            scope.user.add(s.name)
            return
        if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self.assignment(cell, s)
            return
        if isinstance(s, ast.Try) and self._only_imports(s):
            self.keep(cell, s)
            for node in ast.walk(s):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    self.bind_import(node, available=True)
            return
        if isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            return  # a docstring or a `pass` left by a magic: nothing to run, nothing to say
        if _is_main_guard(s):
            kind = "main"
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            kind = "for"
        elif isinstance(s, ast.While):
            kind = "while"
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            kind = "with"
        elif isinstance(s, ast.If):
            kind = "if"
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            kind = "try"
        elif isinstance(s, ast.Expr) and _is_plot(s.value):
            kind = "plot"
        elif isinstance(s, ast.Expr) and isinstance(s.value, (ast.Call, ast.Await)):
            self.skipped.add("call", cell, _short(s))
            return
        elif isinstance(s, ast.Expr):
            kind = "expr"
        else:
            kind = "other"
        self.skipped.add(kind, cell)

    def _lazy_annotations(self) -> bool:
        return any(a.name == "annotations" for f in self.future for a in f.names)

    def assignment(self, cell: int, s: ast.Assign | ast.AnnAssign | ast.AugAssign) -> None:
        scope = self.scope
        value = s.value
        if isinstance(s, ast.AnnAssign) and value is None:
            return  # `x: int` binds nothing
        if not _is_cheap(value, scope):
            self.skipped.add("assign-call", cell, _short(s))
            return
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        bound, needed = set(), _loaded_names(value)
        for t in targets:
            b, n = _target_names(t)
            bound |= b
            needed |= n
        if isinstance(s, ast.AugAssign):
            needed |= bound
        if isinstance(s, ast.AnnAssign) and not self._lazy_annotations():
            needed |= _loaded_names(s.annotation)
        if any(not scope.has(n) for n in needed):
            self.skipped.add("assign-needs", cell, _short(s))
            return
        self.keep(cell, s)
        scope.defined |= bound
        scope.user |= bound

    @staticmethod
    def _only_imports(s: ast.Try) -> bool:
        blocks = [s.body, s.orelse, s.finalbody, *(h.body for h in s.handlers)]
        allowed = (ast.Import, ast.ImportFrom, ast.Pass)
        has_import = any(isinstance(x, (ast.Import, ast.ImportFrom)) for x in s.body)
        docstring = (lambda x: isinstance(x, ast.Expr) and isinstance(x.value, ast.Constant))
        return has_import and all(isinstance(x, allowed) or docstring(x) for block in blocks for x in block)

    def render(self, name: str) -> str:
        safe = "".join(ch if ch.isprintable() else "?" for ch in name)
        lines = [
            f"# Generated by hw3grade from the notebook {safe!r}: only its imports, definitions",
            "# and simple constants are kept; code that runs experiments was left out.",
            "# `# cell N` is the N-th code cell of the notebook.",
        ]
        lines += [ast.unparse(f) for f in self.future]
        previous = None
        for cell, text in self.kept:
            if cell != previous:
                lines += ["", f"# cell {cell}"]
                previous = cell
            lines.append(text)
        return "\n".join(lines) + "\n"


def notebook_to_module(ipynb: Path, out: Path) -> list[str]:
    """Write the graded part of `ipynb` to `out` as a module; return notes for the student.

    Raises :class:`NotebookError` when the file is not a readable notebook.
    """
    ipynb, out = Path(ipynb), Path(out)
    cells = code_cells(ipynb)
    conv = _Converter(ipynb.parent)
    for number, source in cells:
        cleaned, magic = _without_magics(source)
        if cleaned is None:
            conv.skipped.add("cell-magic", number, magic)
            continue
        try:
            tree = _parse(source)
        except SyntaxError as exc:
            line = (exc.text or "").strip()
            shown = f": {line[:60]}" if line else ""
            conv.notes.append(f"Code cell {number} has a syntax error ({exc.msg}, line {exc.lineno}{shown}), "
                              "so the whole cell was skipped.")
            continue
        except (ValueError, RecursionError, MemoryError) as exc:
            conv.notes.append(f"Code cell {number} is nested too deeply to read ({type(exc).__name__}), "
                              "so it was skipped.")
            continue
        for stmt in tree.body:
            try:
                conv.statement(number, stmt)
            except (RecursionError, MemoryError):
                conv.notes.append(f"A statement of code cell {number} (line {getattr(stmt, 'lineno', '?')}) is "
                                  "nested too deeply to convert, so it was skipped.")
    notes = list(conv.notes)
    if conv.missing_packages:
        names = " and ".join(sorted(conv.missing_packages))
        lines = "; ".join(dict.fromkeys(x for v in conv.missing_packages.values() for x in v))
        notes.append(f"{names} {'is' if len(conv.missing_packages) == 1 else 'are'} not installed on the grader, "
                     f"so `{lines}` is skipped when your notebook is imported; "
                     "graded functions should need only torch, numpy and matplotlib.")
    summary = conv.skipped.note()
    if summary:
        notes.append(summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(conv.render(ipynb.name), encoding="utf-8")
    return notes
