"""The AST slicer: a notebook's definitions as a module, without its experiments.

A notebook mixes what is graded (``def norm``, ``class Model``, ``rate = 0.1``) with
what runs experiments (training loops, plots, ``model = Model()``). The grader imports
the functions, so :func:`notebook_to_module` keeps, in order:

- ``import`` / ``from ... import`` (an import of a package the grader does not have is
  wrapped in ``try``, so one ``import sklearn`` cannot hide every function);
- ``def`` and ``class`` statements with their decorators;
- assignments whose value is *cheap*: literals, names, attributes, arithmetic,
  comparisons, containers, lambdas and calls of a small whitelist (tensor and array
  constructors, ``nn`` layers, ``range``, ``len``, ``math.*`` ...), checked recursively
  (``torch.tensor(np.random.normal(...))`` is not cheap);
- assignments that call other code when kept code needs their names: a name a kept
  function or class reads (``EPS = np.finfo(np.float64).eps``, ``rng =
  np.random.default_rng(0)``, ``model = Model()``: calls of imported modules, builtins and the
  notebook's classes, never of its functions, which may run for minutes), or an answer the grader
  reads (the template's constants and what they are computed from: the notebook's own functions may
  be called too);
- what ``if``, ``try`` and ``with`` blocks (``if RUN_TESTS:``, ``try: ... except
  ImportError:``) hold of the above: an ``if`` whose test kept code can evaluate and a
  ``try`` are kept with only those statements inside; a ``with`` block (its context
  manager is not entered), an ``if __name__ == "__main__":`` block and an ``if`` whose test
  needs results of skipped code are replaced by what their (first) body keeps.

Everything else (loops and what they define, plots, calls, other assignments) is left
out; the notes say what, and which kept functions read a name only skipped code sets.
A kept statement that needs a name no kept code defines would fail the import, so it is
left out too. What a kept definition runs when it is defined (a class body, a default
argument, a decorator, an annotation) runs as written, and a note says so when it calls
anything beyond the cheap whitelist.

Kept code never stops the import: what may raise (an assignment or an ``if`` test that
calls beyond the cheap whitelist, a definition that runs such code when defined, and any
statement that reads a name which a wrapped statement or an ``if``/``try`` body may have
left undefined) is wrapped in ``try: ... except Exception: pass``, so that it leaves only
its own names undefined. Calls of the cheap whitelist are trusted, as they always were.
The module is written by ``ast.unparse``; cells are numbered by their position among the
notebook's code cells, starting at 1.

Standard library only: nothing of the notebook runs here. What it knows of the assignment is
handed in: the contract's module names and constants (read from the template by `grader.assignment`).
"""
from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from .cell_magics import CellMagic
from .cells import cell_python, parse_cell, without_magics
from .reader import NotebookError, code_cells, read_code_cells
from .syntax import (CHEAP, DEFINITIONS, FOR_ANSWERS, FOR_DEFINITIONS, HARMLESS_DECORATORS, TRY_TYPES, Definition,
                     Scope, assigned, block_bodies, bound_by, catches_import_error, definition_reads, definitions_in,
                     dotted_name, global_reads, is_cheap, is_plot, loaded_names)


def _count_kept_definitions(stmts: list[ast.stmt]) -> int:
    return sum(1 if isinstance(s, DEFINITIONS) else sum(_count_kept_definitions(b) for b in block_bodies(s))
               for s in stmts)


def count_definitions(ipynb: Path) -> int:
    """The number of ``def``/``class`` statements at top level or in ``if``/``try``/``with`` blocks;
    -1 for a notebook that cannot be read."""
    try:
        cells = code_cells(ipynb)
    except NotebookError:
        return -1
    total = 0
    for _, source in cells:
        if without_magics(source)[0] is None:
            continue
        try:
            total += _count_kept_definitions(parse_cell(source).body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return total


# ---------------------------------------------------------------- what kept code needs

@dataclass
class _Needs:
    """Found before converting: which names kept code reads, and what reads them."""

    names: set[str]                 # read by a definition or an answer (transitively)
    answers: set[str]               # what the answers the grader reads are computed from (transitively)
    readers: dict[str, set[str]]    # name -> what reads it (for the notes)
    lazy_annotations: bool


def _analyse(trees: list[ast.Module], constants: frozenset[str]) -> _Needs:
    readers: dict[str, set[str]] = {}
    start: set[str] = set()
    assignments: list[tuple[set[str], set[str]]] = []
    lazy = False

    def read_by(names: set[str], reader: str) -> None:
        for n in names:
            start.add(n)
            readers.setdefault(n, set()).add(reader)

    def visit(stmts: list[ast.stmt]) -> None:
        nonlocal lazy
        for s in stmts:
            if isinstance(s, ast.ImportFrom) and s.module == "__future__":
                lazy = lazy or any(a.name == "annotations" for a in s.names)
            elif isinstance(s, DEFINITIONS):
                read_by(global_reads(s, deferred=True) - {s.name}, s.name)
            elif isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and s.value is not None:
                bound, needed = assigned(s)
                assignments.append((bound, needed | global_reads(s.value, deferred=True)
                                    | (bound if isinstance(s, ast.AugAssign) else set())))
            else:   # an if test or an except clause reads names too, but never one that may be missing
                for body in block_bodies(s):
                    visit(body)

    for tree in trees:
        for s in tree.body:
            try:
                visit([s])
            except (RecursionError, MemoryError):
                continue

    binding: dict[str, list[int]] = {}   # name -> the assignments that bind it
    for i, (bound, _) in enumerate(assignments):
        for n in bound:
            binding.setdefault(n, []).append(i)

    def close(names: set[str]) -> set[str]:
        """`names` and, transitively, what the assignments binding them read: each name is followed
        once (a pass over every assignment per step of a chain would be quadratic)."""
        names, todo = set(names), list(names)
        while todo:
            name = todo.pop()
            for i in binding.get(name, ()):
                for n in assignments[i][1]:
                    if n != name:
                        readers.setdefault(n, set()).add(name)
                    if n not in names:
                        names.add(n)
                        todo.append(n)
        return names

    return _Needs(close(start | constants), close(set(constants)), readers, lazy)


# ---------------------------------------------------------------- the conversion

@dataclass
class _Skipped:
    """What was left out, by kind, for the one summary note."""

    order: list[str] = field(default_factory=list)
    cells: dict[str, list[int]] = field(default_factory=dict)
    examples: dict[str, dict[str, None]] = field(default_factory=dict)   # distinct, in order

    def add(self, kind: str, cell: int, example: str = "") -> None:
        if kind not in self.cells:
            self.order.append(kind)
            self.cells[kind], self.examples[kind] = [], {}
        self.cells[kind].append(cell)
        if example:
            self.examples[kind].setdefault(example)

    def mark(self) -> dict[str, tuple[int, int]]:
        """What `restore` goes back to: only ever appended to, the record is marked by its lengths
        (a copy would cost the whole record at every block)."""
        return {kind: (len(self.cells[kind]), len(self.examples[kind])) for kind in self.order}

    def restore(self, mark: dict[str, tuple[int, int]]) -> None:
        for kind in self.order[len(mark):]:
            del self.cells[kind], self.examples[kind]
        del self.order[len(mark):]
        for kind, (cells, examples) in mark.items():
            del self.cells[kind][cells:]
            while len(self.examples[kind]) > examples:
                self.examples[kind].popitem()   # the latest first

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


def _and(items: list[str], limit: int = 4) -> str:
    items = list(dict.fromkeys(items))
    if len(items) > limit:
        items = items[:limit] + [f"{len(items) - limit} more"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _is_main_guard(stmt: ast.AST) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    sides = [stmt.test.left, *stmt.test.comparators]
    return (len(sides) == 2 and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


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


def _guarded(node: ast.stmt, exception: str) -> ast.Try:
    return ast.Try(body=[node], handlers=[ast.ExceptHandler(type=ast.Name(exception, ast.Load()), name=None,
                                                            body=[ast.Pass()])], orelse=[], finalbody=[])


class _Converter:
    def __init__(self, folder: Path, needs: _Needs, constants: frozenset[str], modules: tuple[str, ...]) -> None:
        self.folder = folder
        self.needs = needs
        self.constants = constants
        self.modules = modules           # the contract's: a notebook may import them, but they are the submission's
        self.scope = Scope()
        self.kept: list[tuple[int, str]] = []
        self.future: list[ast.stmt] = []
        self.skipped = _Skipped()
        self.missing_packages: dict[str, list[str]] = {}
        self.installed_cache: dict[str, bool] = {}
        self.ran: list[tuple[int, str, set[str]]] = []           # kept assignments that call functions
        self.definition_time: list[str] = []                     # what kept definitions run when defined
        self.unwrapped: list[str] = []                           # blocks replaced by what they keep
        self.loop_definitions: list[tuple[str, int, list[str]]] = []
        self.set_by_skipped: dict[str, list[int]] = {}           # name -> cells of skipped code binding it
        self.kept_definitions: list[Definition] = []
        self.magic_cells: dict[tuple[str, str], list[tuple[int, list[str]]]] = {}   # (magic, why) -> cells

    # ------------------------------------------------------------ bookkeeping

    def installed(self, top: str) -> bool:
        if top not in self.installed_cache:
            self.installed_cache[top] = _installed(top)
        return self.installed_cache[top]

    def local(self, top: str) -> bool:
        """A module of the submission (a contract module or a file next to the notebook)."""
        return top in self.modules or (self.folder / f"{top}.py").is_file() or (self.folder / top).is_dir()

    def bind_import(self, stmt: ast.Import | ast.ImportFrom, *, available: bool) -> None:
        for alias in stmt.names:
            if alias.name == "*":
                if available:
                    self.scope.bind_star()
                continue
            if isinstance(stmt, ast.Import):
                bound = alias.asname or alias.name.split(".")[0]
                target = alias.name if alias.asname else alias.name.split(".")[0]
            else:
                bound = alias.asname or alias.name
                target = f"{stmt.module}.{alias.name}" if stmt.module else alias.name
            self.scope.bind_module(bound, target, available=available)

    def lazy(self) -> bool:
        return self.needs.lazy_annotations

    def evaluable(self, node: ast.AST | None) -> bool:
        """Whether kept code can evaluate `node` now: names it has, calls it may make (it may still raise)."""
        return (is_cheap(node, self.scope, FOR_DEFINITIONS)
                and all(self.scope.has(n) for n in global_reads(node, deferred=False)))

    def risky(self, node: ast.AST | None) -> bool:
        """Whether evaluating `node` may raise: it calls beyond the cheap list, or reads a name that may be missing."""
        return not is_cheap(node, self.scope) or bool(global_reads(node, deferred=False) & self.scope.uncertain)

    def certain(self, s: ast.stmt) -> set[str]:
        """What `s` may bind that is defined for sure now (what a block keeps of it binds no other name)."""
        return self.scope.certain(bound_by(s))

    def conditional(self, node: ast.stmt, before: set[str]) -> None:
        """Names that kept code binds inside an if or a try may be missing afterwards."""
        self.scope.may_be_missing(bound_by(node) - before)

    def skip(self, cell: int, s: ast.stmt, kind: str | None = None, example: str = "") -> None:
        if kind is None:
            if isinstance(s, (ast.For, ast.AsyncFor)):
                kind = "for"
            elif isinstance(s, ast.While):
                kind = "while"
            elif isinstance(s, ast.Expr) and is_plot(s.value):
                kind = "plot"
            elif isinstance(s, ast.Expr) and isinstance(s.value, (ast.Call, ast.Await)):
                kind, example = "call", _short(s)
            elif isinstance(s, ast.Expr):
                kind = "expr"
            else:
                kind = "other"
        self.skipped.add(kind, cell, example)
        for name in bound_by(s):
            self.set_by_skipped.setdefault(name, []).append(cell)
        if kind in ("for", "while", "other"):
            inside = definitions_in([s])
            if inside:
                self.loop_definitions.append((kind, cell, inside))

    def magic_cell(self, cell: int, magic: CellMagic) -> None:
        """A cell whose cell magic does not run its body as the notebook's Python: it defines nothing."""
        try:
            body = ast.parse(without_magics(magic.body)[0] or "").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            body = []   # not Python (a shell script, HTML ...): nothing it could define
        for s in body:
            for name in bound_by(s):
                self.set_by_skipped.setdefault(name, []).append(cell)
        self.magic_cells.setdefault((magic.name, magic.why_not), []).append((cell, definitions_in(body)))

    # ------------------------------------------------------------ statements

    def statement(self, cell: int, s: ast.stmt, guarded: bool = False) -> list[ast.stmt]:
        """What is kept of one statement (nothing, itself, or a filtered or wrapped version)."""
        if isinstance(s, ast.ImportFrom) and s.module == "__future__":
            self.future.append(s)
            return []
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            return self.import_(cell, s, guarded)
        if isinstance(s, DEFINITIONS):
            return self.definition(cell, s)
        if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self.assignment(cell, s)
        if isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            return []  # a docstring or a `pass` left by a magic: nothing to run, nothing to say
        if isinstance(s, ast.If):
            return self.if_block(cell, s, guarded)
        if isinstance(s, TRY_TYPES):
            return self.try_block(cell, s, guarded)
        if isinstance(s, (ast.With, ast.AsyncWith)):
            return self.unwrap("with", cell, s, s.body, guarded, "a with-block in cell {cell} (the with statement "
                                                                  "itself was not run)")
        self.skip(cell, s)
        return []

    def block(self, cell: int, stmts: list[ast.stmt], guarded: bool) -> list[ast.stmt]:
        kept: list[ast.stmt] = []
        for s in stmts:
            kept += self.statement(cell, s, guarded)
        return kept

    def import_(self, cell: int, s: ast.Import | ast.ImportFrom, guarded: bool) -> list[ast.stmt]:
        if isinstance(s, ast.ImportFrom) and s.level:
            self.skip(cell, s, "other")
            return []
        # the submission's own modules are guarded even when a same-named package is installed:
        # which one the child finds is the child's business, and a failed import skips only this line
        missing = [t for t in _import_top(s) if self.local(t) or not self.installed(t)]
        for t in missing:
            if not self.local(t):
                self.missing_packages.setdefault(t, []).append(_short(s, 60))
        self.bind_import(s, available=not missing)
        # inside a try that catches ImportError, the notebook's own handler decides what happens
        return [_guarded(s, "ImportError") if missing and not guarded else s]

    def definition(self, cell: int, s: Definition) -> list[ast.stmt]:
        reads = definition_reads(s, lazy=self.lazy())
        needed = {n for n in reads if not self.scope.has(n)}
        if needed:
            self.skipped.add("def-needs", cell, f"{s.name} needs {', '.join(sorted(needed))}")
            self.set_by_skipped.setdefault(s.name, []).append(cell)
            return []
        runs = self.runs_when_defined(s)
        self.definition_time += [f"{what} in cell {cell}" for what in runs]
        # what runs when it is defined, or a name that may be missing, may make the definition raise
        certain = not runs and not reads & self.scope.uncertain
        self.scope.bind({s.name}, "class" if isinstance(s, ast.ClassDef) else "function", certain=certain)
        self.kept_definitions.append(s)
        return [s] if certain else [_guarded(s, "Exception")]

    def harmless(self, decorator: ast.expr) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(decorator, ast.Call) and not is_cheap(ast.Tuple([*decorator.args, *(
                k.value for k in decorator.keywords)], ast.Load()), self.scope):
            return False
        if isinstance(target, ast.Attribute) and target.attr in ("setter", "getter", "deleter"):
            return True
        dotted = dotted_name(target)
        return dotted is not None and self.scope.canonical(dotted) in HARMLESS_DECORATORS

    def runs_when_defined(self, s: Definition, owner: str = "") -> list[str]:
        """What a def/class statement runs when it is defined, beyond cheap values (for the notes)."""
        name = owner + s.name
        found = [f"the decorator @{_short(d, 30)} of {name}" for d in s.decorator_list if not self.harmless(d)]
        if isinstance(s, ast.ClassDef):
            if not all(is_cheap(b, self.scope) for b in [*s.bases, *(k.value for k in s.keywords)]):
                found.append(f"the bases of class {name}")
            for st in s.body:
                if isinstance(st, DEFINITIONS):
                    found += self.runs_when_defined(st, owner=f"{name}.")
                elif not (isinstance(st, (ast.Pass, ast.Import, ast.ImportFrom))
                          or (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))
                          or (isinstance(st, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                              and is_cheap(st.value, self.scope))):
                    found.append(f"the body of class {name} ({_short(st, 30)})")
                    break
            return found
        a = s.args
        found += [f"a default argument of {name} ({_short(d, 30)})"
                  for d in [*a.defaults, *(x for x in a.kw_defaults if x is not None)] if not is_cheap(d, self.scope)]
        if not self.lazy():
            annotations = [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                           if x is not None and x.annotation is not None] + [s.returns]
            if not all(is_cheap(x, self.scope) for x in annotations):
                found.append(f"an annotation of {name}")
        return found

    def assignment(self, cell: int, s: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[ast.stmt]:
        scope, value = self.scope, s.value
        if isinstance(s, ast.AnnAssign) and value is None:
            return []  # `x: int` binds nothing
        bound, needed = assigned(s)
        wanted = bound & self.needs.names
        level = FOR_ANSWERS if bound & self.needs.answers else FOR_DEFINITIONS if wanted else CHEAP
        cheap = is_cheap(value, scope)
        if not cheap and not (level and is_cheap(value, scope, level)):
            self.skip(cell, s, "assign-call", _short(s))
            return []
        needed |= global_reads(value, deferred=False)
        if isinstance(s, ast.AugAssign):
            needed |= bound
        if isinstance(s, ast.AnnAssign) and not self.lazy():
            needed |= loaded_names(s.annotation)
        if any(not scope.has(n) for n in needed):
            self.skip(cell, s, "assign-needs", _short(s))
            return []
        # one that calls code, or reads a name that may be missing, may raise when the notebook is imported:
        # wrapped, so that it leaves its own names undefined instead of stopping the import
        certain = cheap and not needed & scope.uncertain
        scope.bind(bound, certain=certain)
        if not cheap:
            self.ran.append((cell, _short(s), wanted))
        return [s] if certain else [_guarded(s, "Exception")]

    def if_block(self, cell: int, s: ast.If, guarded: bool) -> list[ast.stmt]:
        if _is_main_guard(s):   # in a notebook __name__ is "__main__": the body runs, the else never does
            return self.unwrap("main", cell, s, s.body, guarded, 'an `if __name__ == "__main__":` block in cell {cell}')
        if self.evaluable(s.test):   # kept as an if, holding what its branches keep
            before, risky, certain = self.skipped.mark(), self.risky(s.test), self.certain(s)
            body, orelse = self.block(cell, s.body, guarded), self.block(cell, s.orelse, guarded)
            if body or orelse:
                node = ast.If(test=s.test, body=body or [ast.Pass()], orelse=orelse)
                self.conditional(node, certain)
                return [_guarded(node, "Exception")] if risky else [node]
            if not definitions_in([s]):
                self.skipped.restore(before)
            self.skip(cell, s, "if")
            return []
        # the test needs skipped results: the first branch stands in for the block
        others = definitions_in(s.orelse)
        text = (f"the if-block in cell {{cell}} (its test `{_short(s.test, 30)}` needs results of code that is "
                "skipped or may fail, so its first branch was kept as if the test held"
                + (f"; its else branch, which defines {_and(others)}, was not)" if others else ")"))
        kept = self.unwrap("if", cell, s, s.body, guarded, text)
        if kept:
            for name in {n for st in s.orelse for n in bound_by(st)}:
                self.set_by_skipped.setdefault(name, []).append(cell)
        return kept

    def unwrap(self, kind: str, cell: int, s: ast.stmt, body: list[ast.stmt], guarded: bool,
               text: str) -> list[ast.stmt]:
        """A block that is not kept as such: what its body keeps takes its place."""
        before = self.skipped.mark()
        kept = self.block(cell, body, guarded)
        if kept:
            self.unwrapped.append(text.format(cell=cell))
            return kept
        if not definitions_in(body):   # only experiments inside: said as one block
            self.skipped.restore(before)
        self.skip(cell, s, kind)
        return []

    def try_block(self, cell: int, s: ast.Try, guarded: bool) -> list[ast.stmt]:
        before, certain = self.skipped.mark(), self.certain(s)
        catches = any(catches_import_error(h.type) for h in s.handlers)
        body = self.block(cell, s.body, guarded or catches)
        handlers, kept_handler = [], False
        for h in s.handlers:
            if h.type is not None and (not self.evaluable(h.type) or self.risky(h.type)):
                self.skipped.add("try", cell)   # an except clause naming what kept code may not have
                for name in {n for st in h.body for n in bound_by(st)}:
                    self.set_by_skipped.setdefault(name, []).append(cell)
                continue
            kept = self.block(cell, h.body, guarded)
            kept_handler = kept_handler or bool(kept)
            handlers.append(ast.ExceptHandler(type=h.type, name=h.name, body=kept or [ast.Pass()]))
        orelse, final = self.block(cell, s.orelse, guarded), self.block(cell, s.finalbody, guarded)
        if not (body or kept_handler or orelse or final):
            if not definitions_in([s]):
                self.skipped.restore(before)
            self.skip(cell, s, "try")
            return []
        if not handlers:   # every handler needed skipped results
            if not final:
                return body + orelse
            node = ast.Try(body=body + orelse, handlers=[], orelse=[], finalbody=final)
        else:
            node = type(s)(body=body or [ast.Pass()], handlers=handlers, orelse=orelse, finalbody=final)
        self.conditional(node, certain)
        return [node]

    # ------------------------------------------------------------ notes and output

    def readers_of(self, names: set[str]) -> list[str]:
        """What kept code reads these names (for the notes)."""
        return sorted({r for n in names for r in self.needs.readers.get(n, ())
                       if r not in names and self.scope.has(r)})

    def summary_notes(self) -> list[str]:
        notes = []
        if self.ran:
            groups: list[tuple[int, str, list[str]]] = []   # (cell, why, names), in order
            for cell, _, wanted in self.ran:
                readers = self.readers_of(wanted)
                why = ("an answer the grader reads" if wanted & self.constants
                       else f"read by {_and(readers, 2)}" if readers else "read by kept code")
                if groups and groups[-1][:2] == (cell, why):
                    groups[-1][2].extend(sorted(wanted))
                else:
                    groups.append((cell, why, sorted(wanted)))
            shown = [f"{_and(names, 3)} (cell {cell}, {why})" for cell, why, names in groups]
            notes.append("Also kept, although they call functions, the assignments of names that kept code needs: "
                         f"{_and(shown, 4)}. They run when the notebook is imported; one that raises leaves its "
                         "name undefined.")
        if self.definition_time:
            notes.append("Kept definitions run some code as soon as the notebook is imported (Python runs it when "
                         f"it defines them, so it is not skipped): {_and(self.definition_time, 4)}.")
        if self.unwrapped:
            notes.append("From blocks that are not run as such, only their definitions, imports and constants were "
                         f"kept: {_and(self.unwrapped, 4)}.")
        if self.loop_definitions:
            parts = [f"{_and(names, 3)} in cell {cell} ({_KINDS[kind][0] if kind != 'other' else 'a block'})"
                     for kind, cell, names in self.loop_definitions]
            notes.append("Definitions inside loops and other blocks that are not run are not kept: "
                         f"{_and(parts, 4)}. Define them at the top level of a cell.")
        return notes

    def magic_cells_notes(self) -> list[str]:
        """Which cells define nothing because of their cell magic, and why (IPython's reason): a note a magic."""
        parts = []
        for (name, why), cells in self.magic_cells.items():
            numbers = [c for c, _ in cells]
            one = len(numbers) == 1
            text = (f"{_cells_text(numbers).capitalize()} start{'s' if one else ''} with %%{name}: {why}, "
                    f"so {'it defines' if one else 'they define'} nothing")
            defined = [d for _, names in cells for d in names]
            if defined:
                text += (f" ({_and(defined, 4)} there {'is' if len(defined) == 1 else 'are'} not graded: define "
                         f"{'it' if len(defined) == 1 else 'them'} in a cell without %%{name})")
            parts.append(text + ".")
        return parts

    def dropped_names_note(self) -> str | None:
        """Which kept functions (and answers) read a name that only skipped code sets."""
        scope = self.scope
        readers: list[str] = []
        for d in self.kept_definitions:
            dropped = sorted(n for n in global_reads(d, deferred=True) - {d.name}
                             if not scope.has(n) and n in self.set_by_skipped)
            if dropped:
                cells = sorted({c for n in dropped for c in self.set_by_skipped[n]})
                readers.append(f"{d.name} reads {_and(dropped, 3)} ({_cells_text(cells)})")
        answers = sorted(c for c in self.constants if c in self.set_by_skipped and not scope.has(c))
        parts = []
        if readers:
            parts.append("Kept code reads names that only skipped code sets, so it raises NameError when the grader "
                         f"calls it: {_and(readers, 4)}.")
        if answers:
            cells = sorted({c for n in answers for c in self.set_by_skipped[n]})
            parts.append(f"{_and(answers)} {'is' if len(answers) == 1 else 'are'} set only by skipped code "
                         f"({_cells_text(cells)}), so the grader does not find "
                         f"{'it' if len(answers) == 1 else 'them'}.")
        return " ".join(parts) or None

    def render(self, name: str) -> str:
        safe = "".join(ch if ch.isprintable() else "?" for ch in name)
        lines = [
            f"# Generated by hw3grade from the notebook {safe!r}: its imports, definitions and the",
            "# constants they need are kept; other top-level code was left out (what a definition runs",
            "# when it is defined, such as a class body or a default argument, runs as written).",
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


def notebook_to_module(ipynb: Path, out: Path, modules: tuple[str, ...] = (),
                       constants: frozenset[str] = frozenset()) -> list[str]:
    """Write the graded part of `ipynb` to `out` as a module; return notes for the student.
    `modules` and `constants`: the contract's module names and module constants (answers a student fills in).

    Raises :class:`NotebookError` when the file is not a readable notebook.
    """
    text, notes = module_text(ipynb, modules, constants)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return notes


def module_text(ipynb: Path, modules: tuple[str, ...] = (),
                constants: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """The graded part of `ipynb` as a module's text, and notes for the student (see
    :func:`notebook_to_module`). A MemoryError is the notebook's size, never its nesting: it
    propagates (grader/confined_notebook.py converts under a memory limit and says so)."""
    ipynb = Path(ipynb)
    cells, notes = read_code_cells(ipynb)
    not_run: list[tuple[int, CellMagic]] = []
    parsed: list[tuple[int, ast.Module]] = []
    for number, source in cells:
        python, magics = cell_python(source)
        if python is None:
            not_run.append((number, magics[-1]))
            continue
        try:
            parsed.append((number, parse_cell(source)))
        except SyntaxError as exc:
            line = (exc.text or "").strip()
            shown = f": {line[:60]}" if line else ""
            notes.append(f"Code cell {number} has a syntax error ({exc.msg}, line {exc.lineno}{shown}), "
                         "so the whole cell was skipped.")
        except (ValueError, RecursionError) as exc:
            notes.append(f"Code cell {number} is nested too deeply to read ({type(exc).__name__}), "
                         "so it was skipped.")
    constants = frozenset(constants)
    conv = _Converter(ipynb.parent, _analyse([tree for _, tree in parsed], constants), constants, tuple(modules))
    for number, magic in not_run:
        conv.magic_cell(number, magic)
    for number, tree in parsed:
        for stmt in tree.body:
            conv.scope.begin()
            try:
                texts = [ast.unparse(node) for node in conv.statement(number, stmt)]
            except RecursionError:
                conv.scope.rollback()
                notes.append(f"A statement of code cell {number} (line {getattr(stmt, 'lineno', '?')}) is "
                             "nested too deeply to convert, so it was skipped.")
                continue
            conv.kept += [(number, text) for text in texts]
    if conv.missing_packages:
        names = " and ".join(sorted(conv.missing_packages))
        lines = "; ".join(dict.fromkeys(x for v in conv.missing_packages.values() for x in v))
        notes.append(f"{names} {'is' if len(conv.missing_packages) == 1 else 'are'} not installed on the grader, "
                     f"so `{lines}` is skipped when your notebook is imported; "
                     "graded functions should need only torch, numpy and matplotlib.")
    notes += conv.summary_notes()
    notes += conv.magic_cells_notes()
    summary = conv.skipped.note()
    if summary:
        notes.append(summary)
    dropped = conv.dropped_names_note()
    if dropped:
        notes.append(dropped)
    return conv.render(ipynb.name), notes
