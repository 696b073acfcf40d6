"""What a statement or an expression reads, binds and calls, from its syntax alone.

The slicer (:mod:`grader.notebook.slicer`) asks these questions of every top-level statement:
which global names it reads now or when its functions are called (scoping by :mod:`symtable`),
which it binds, which definitions it holds, and whether evaluating it calls nothing beyond what a
kept value may call (:func:`is_cheap`: the :data:`CHEAP_CALLS` whitelist, and at higher levels
imported modules, builtins and the notebook's classes or functions). :class:`Scope` is what the
kept code has defined so far, with an undo log that keeps conversion linear.

Standard library only: nothing of the notebook runs here.
"""
from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass, field


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef   # a statement of DEFINITIONS
TRY_TYPES = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)


def block_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The bodies of a block whose definitions are kept (if, try, with), or [] for any other statement."""
    if isinstance(stmt, ast.If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, TRY_TYPES):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [stmt.body]
    return []


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


def dotted_name(node: ast.AST) -> str | None:
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


#: Builtins a kept assignment never calls: they read files or the keyboard, or run strings as code.
_DENIED_BUILTINS = frozenset({"open", "input", "exec", "eval", "compile", "breakpoint", "exit", "quit", "help",
                              "__import__"})
#: Decorators that only wrap or mark what they decorate (said nothing about in the notes).
HARMLESS_DECORATORS = frozenset({
    "staticmethod", "classmethod", "property", "functools.wraps", "functools.lru_cache", "functools.cache",
    "functools.cached_property", "functools.total_ordering", "dataclasses.dataclass", "abc.abstractmethod",
    "typing.overload", "typing.final", "torch.no_grad", "torch.enable_grad", "torch.inference_mode",
    "numpy.vectorize",
})
#: How much a kept assignment may call: the cheap whitelist only; for a name kept code reads, also
#: imported modules, builtins, methods of kept values and the notebook's classes; for what an answer
#: the grader reads (the template's constants) is computed from, also the notebook's functions.
CHEAP, FOR_DEFINITIONS, FOR_ANSWERS = 0, 1, 2


@dataclass
class Scope:
    """What the kept code has defined so far, and how its imports alias modules."""

    aliases: dict[str, str] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    user: set[str] = field(default_factory=set)       # names bound by the notebook's own def/class/assignments
    functions: set[str] = field(default_factory=set)  # ... by a kept `def`
    classes: set[str] = field(default_factory=set)    # ... by a kept `class`
    uncertain: set[str] = field(default_factory=set)  # bound only by kept code wrapped in try: may be missing
    star: bool = False                                  # a kept `from x import *`: any name may exist
    # how to undo each change since `begin` (a statement that cannot be converted is undone): changes
    # cost their own size, never the scope's, so converting stays linear in the notebook
    undo: list = field(default_factory=list, repr=False)

    def canonical(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head) or _DEFAULT_ALIASES.get(head, head)
        return f"{base}.{rest}" if rest else base

    def has(self, name: str) -> bool:
        return self.star or name in self.defined or name in _BUILTINS

    def bind(self, names: set[str], kind: str = "value", *, certain: bool = True) -> None:
        if certain:
            self._remove(self.uncertain, names)
        else:   # a name defined for sure before keeps that value when the wrapped statement fails
            self._add(self.uncertain, {n for n in names if n not in self.defined or n in self.uncertain})
        self._add(self.defined, names)
        self._add(self.user, names)
        (self._add if kind == "function" else self._remove)(self.functions, names)
        (self._add if kind == "class" else self._remove)(self.classes, names)

    def bind_module(self, name: str, target: str, *, available: bool) -> None:
        """`name` is an imported module or object (`target`), no longer one of the notebook's own."""
        old = self.aliases.get(name, _UNSET)
        self.aliases[name] = target
        self.undo.append((self.aliases.pop, name) if old is _UNSET else (self.aliases.__setitem__, name, old))
        self._remove(self.user, {name})
        self._remove(self.functions, {name})
        self._remove(self.classes, {name})
        if available:
            self._add(self.defined, {name})

    def bind_star(self) -> None:
        if not self.star:
            self.star = True
            self.undo.append((setattr, self, "star", False))

    def may_be_missing(self, names: set[str]) -> None:
        self._add(self.uncertain, names)

    def certain(self, names: set[str]) -> set[str]:
        """Those of `names` defined for sure."""
        return {n for n in names if n in self.defined and n not in self.uncertain}

    def begin(self) -> None:
        """From here on, `rollback` undoes every change."""
        self.undo.clear()

    def rollback(self) -> None:
        while self.undo:
            action, *args = self.undo.pop()
            action(*args)

    def _add(self, names: set[str], new: set[str]) -> None:
        for n in new:
            if n not in names:
                names.add(n)
                self.undo.append((names.discard, n))

    def _remove(self, names: set[str], gone: set[str]) -> None:
        for n in gone:
            if n in names:
                names.discard(n)
                self.undo.append((names.add, n))


_UNSET = object()


def _cheap_call(call: ast.Call, scope: Scope) -> bool:
    dotted = dotted_name(call.func)
    if dotted is None:
        return False
    if "." not in dotted and dotted in scope.user:   # the notebook's own function, e.g. Model()
        return False
    name = scope.canonical(dotted)
    if name in CHEAP_CALLS or name.startswith(CHEAP_PREFIXES):
        return True
    # nn.Linear(1, 64), nn.MSELoss(), nn.Sequential(...): torch.nn classes (capitalized), not nn.init.*
    return name.startswith(_NN_PREFIX) and name.count(".") == 2 and name.rsplit(".", 1)[1][:1].isupper()


def _callee_ok(call: ast.Call, scope: Scope, level: int) -> bool:
    """Whether a kept value may make this call at this level (the arguments are checked apart)."""
    if _cheap_call(call, scope):
        return True
    if level == CHEAP or is_plot(call):
        return False
    func = call.func
    if isinstance(func, ast.Name):
        name = func.id
        if name in scope.classes:
            return True
        if name in scope.user:             # the notebook's own function (or a value it calls)
            return level == FOR_ANSWERS
        return name not in _DENIED_BUILTINS  # a builtin, or a name imported from a module
    if isinstance(func, ast.Attribute):    # np.finfo, np.random.default_rng, rng.normal, Gen().manual_seed
        if _root(func) in scope.functions:
            return level == FOR_ANSWERS
        return is_cheap(func.value, scope, level)
    return level == FOR_ANSWERS and is_cheap(func, scope, level)


def is_cheap(node: ast.AST | None, scope: Scope, level: int = CHEAP) -> bool:
    """Whether evaluating `node` calls nothing beyond what `level` allows (names are checked apart)."""
    if node is None:
        return True
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return is_cheap(node.value, scope, level)
    if isinstance(node, ast.UnaryOp):
        return is_cheap(node.operand, scope, level)
    if isinstance(node, ast.BinOp):
        return is_cheap(node.left, scope, level) and is_cheap(node.right, scope, level)
    if isinstance(node, ast.BoolOp):
        return all(is_cheap(v, scope, level) for v in node.values)
    if isinstance(node, ast.Compare):
        return is_cheap(node.left, scope, level) and all(is_cheap(c, scope, level) for c in node.comparators)
    if isinstance(node, ast.IfExp):
        return all(is_cheap(n, scope, level) for n in (node.test, node.body, node.orelse))
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(is_cheap(e, scope, level) for e in node.elts)
    if isinstance(node, ast.Dict):
        return (all(is_cheap(k, scope, level) for k in node.keys)
                and all(is_cheap(v, scope, level) for v in node.values))
    if isinstance(node, ast.Starred):
        return is_cheap(node.value, scope, level)
    if isinstance(node, ast.Subscript):
        return is_cheap(node.value, scope, level) and is_cheap(node.slice, scope, level)
    if isinstance(node, ast.Slice):
        return all(is_cheap(n, scope, level) for n in (node.lower, node.upper, node.step))
    if isinstance(node, ast.JoinedStr):
        return all(is_cheap(v, scope, level) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return is_cheap(node.value, scope, level) and is_cheap(node.format_spec, scope, level)
    if isinstance(node, ast.Lambda):  # the body runs only when called
        args = node.args
        return all(is_cheap(d, scope, level) for d in [*args.defaults, *args.kw_defaults])
    if isinstance(node, ast.Call):
        return (_callee_ok(node, scope, level) and all(is_cheap(a, scope, level) for a in node.args)
                and all(is_cheap(k.value, scope, level) for k in node.keywords))
    if level and isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return (all(not g.is_async and is_cheap(g.iter, scope, level) and all(is_cheap(i, scope, level)
                                                                                 for i in g.ifs)
                    for g in node.generators)
                and all(is_cheap(n, scope, level) for n in parts))
    return False


def loaded_names(node: ast.AST | None) -> set[str]:
    """Global names evaluated when `node` runs now (lambda bodies run later: not counted)."""
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.Lambda):
        args = node.args
        return set().union(*(loaded_names(d) for d in [*args.defaults, *args.kw_defaults] if d is not None))
    names: set[str] = set()
    for child in ast.iter_child_nodes(node):
        names |= loaded_names(child)
    return names


_COMPREHENSIONS = {"listcomp", "setcomp", "dictcomp", "genexpr"}


def global_reads(node: ast.AST | None, *, deferred: bool) -> set[str]:
    """The global names `node` reads when it runs (comprehensions and class bodies included); with
    `deferred`, also what the functions and lambdas it defines read when they are called (scoping by
    :mod:`symtable`: parameters and locals are not globals)."""
    if node is None:
        return set()
    without_scopes = _reads_without_scopes(node)
    if without_scopes is not None:
        return without_scopes
    try:
        mode = "eval" if isinstance(node, ast.expr) else "exec"
        table = symtable.symtable(ast.unparse(node), "<cell>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return loaded_names(node)
    names: set[str] = set()

    def visit(t: symtable.SymbolTable, top: bool) -> None:
        for sym in t.get_symbols():
            if sym.is_referenced() and (top or sym.is_global()):
                names.add(sym.get_name())
        for child in t.get_children():
            if deferred or child.get_name().strip("<>") in _COMPREHENSIONS or child.get_type() == "class":
                visit(child, False)

    visit(table, True)
    return names


_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.FunctionDef,
           ast.AsyncFunctionDef, ast.ClassDef, ast.Global, ast.Nonlocal)


def _reads_without_scopes(node: ast.AST) -> set[str] | None:
    """The names `node` reads when it opens no scope of its own (most assignments and tests): every
    loaded name, as symtable would say, without unparsing it; None when it does open one."""
    names = set()
    for n in ast.walk(node):
        if isinstance(n, _SCOPES):
            return None
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            names.add(n.id)
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
    return set(), loaded_names(target)   # x.attr = ..., d[k] = ...


def assigned(s: ast.Assign | ast.AnnAssign | ast.AugAssign) -> tuple[set[str], set[str]]:
    targets = s.targets if isinstance(s, ast.Assign) else [s.target]
    bound, needed = set(), set()
    for t in targets:
        b, n = _target_names(t)
        bound |= b
        needed |= n
    return bound, needed


def _def_time_names(stmt: Definition, *, annotations: bool = True) -> set[str]:
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
        names |= loaded_names(n)
    return names


def definition_reads(stmt: Definition, *, lazy: bool) -> set[str]:
    """The names a def/class statement reads when it runs: decorators, bases, defaults, annotations
    (unless lazy), and a class body's own statements."""
    names = _def_time_names(stmt, annotations=not lazy)
    if isinstance(stmt, ast.ClassDef):
        names |= global_reads(stmt, deferred=False) - {stmt.name}
    return names


def bound_by(stmt: ast.stmt) -> set[str]:
    """Every global name a statement may bind when it runs (definitions' bodies excluded)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, DEFINITIONS):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(stmt)
    return names


def definitions_in(stmts: list[ast.stmt]) -> list[str]:
    """The names of the def/class statements anywhere in these statements (not inside definitions)."""
    found: list[str] = []
    for s in stmts:
        if isinstance(s, DEFINITIONS):
            found.append(s.name)
            continue
        for child in ast.iter_child_nodes(s):
            if isinstance(child, ast.stmt):
                found += definitions_in([child])
            elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                found += definitions_in(child.body)
    return list(dict.fromkeys(found))


def catches_import_error(handler_type: ast.AST | None) -> bool:
    if handler_type is None:
        return True
    types = handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type]
    return any((dotted_name(t) or "").rsplit(".", 1)[-1] in {"ImportError", "ModuleNotFoundError", "Exception",
                                                          "BaseException"} for t in types)


def is_plot(call: ast.AST) -> bool:
    if not isinstance(call, ast.Call):
        return False
    dotted = dotted_name(call.func) or ""
    root = _root(call.func)
    attr = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    return root in _PLOT_ROOTS or attr in _PLOT_METHODS or dotted.startswith("display")
