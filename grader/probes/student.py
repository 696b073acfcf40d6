"""Loading the student's modules inside the child, and finding their functions.

The seven modules are loaded by path under their contract names (so that
``from vectors import dot`` inside ``stats.py`` works), and the folders
holding them are *appended* to ``sys.path``: a ``numpy.py`` or ``torch.py`` in a
submission can never shadow the real package, which is found first.

Only source runs: every module of the submission is compiled from the text of its
``.py`` file, never from bytecode (``__pycache__/*.pyc``, checked or not, a sourceless
``x.pyc``) nor from an extension module (``x.so``), and no bytecode is ever written.
In the child, :meth:`Student.guard_imports` extends that to every import of student
code (a sibling module, a helper file, a package of the submission, a notebook's
imports): folders of the submission get a finder that knows ``.py`` files only.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TypeGuard

from . import stubs

class Missing(Exception):
    """The module or name a check needs is not in the submission."""


class ImportFailed(Exception):
    """A module of the submission raised while being imported."""


class Student:
    """The submission as the probes see it: modules by contract name, plus a notebook fallback."""

    def __init__(self, modules: dict[str, str], notebook: str | None) -> None:
        self._paths = {name: Path(path) for name, path in modules.items()}
        self._notebook = Path(notebook) if notebook else None
        # the converted notebook's module: its file's name, which the parent chose (the assignment's)
        self._notebook_module = self._notebook.stem if self._notebook else None
        self._loaded: dict[str, ModuleType] = {}
        self._failed: dict[str, str] = {}
        self._from_notebook: dict[str, list[str]] | None = None
        for folder in {p.parent for p in self._paths.values()}:
            if str(folder) not in sys.path:
                sys.path.append(str(folder))

    def guard_imports(self) -> None:
        """Make every import of the submission's code compile its source (the child calls this once,
        before any student code runs): the contract names resolve to the located files, and every
        folder of the submission gets a finder that knows .py files only. Global: not for tests
        that load a submission into their own process."""
        sys.dont_write_bytecode = True
        roots = {p.parent for p in self._paths.values()} | ({self._notebook.parent} if self._notebook else set())
        hook = _SourceOnlyFolders(roots, installed=[p for p in sys.path if p])
        sys.path_hooks.insert(0, hook)
        for entry in list(sys.path_importer_cache):
            if hook.claims(entry):
                del sys.path_importer_cache[entry]
        sys.meta_path.insert(0, _ContractModules(self._paths))

    def load(self, name: str) -> ModuleType:
        """Import one module of the submission (or the notebook) once; failures are remembered."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise ImportFailed(self._failed[name])
        path = self._notebook if name == self._notebook_module else self._paths.get(name)
        if path is None:
            raise Missing(f"{name}.py is not in the submission")
        imported = sys.modules.get(name)   # already imported by a sibling module (`from vectors import dot`)
        if _is_source_module(imported, path):
            module = imported
        else:
            try:
                module = _import_from(name, path)
            except BaseException as exc:  # SystemExit and friends included: the import itself is student code
                self._failed[name] = describe_exception(exc, [path])
                raise ImportFailed(self._failed[name]) from None
        self._loaded[name] = module
        if name != self._notebook_module:
            self._take_from_notebook(name, module)
        return module

    def from_notebook(self) -> dict[str, list[str]]:
        """{module: its untouched stubs that the notebook defines} (grader.probes.stubs, from the sources: the
        parent's notes say the same)."""
        if self._from_notebook is None:
            self._from_notebook = {}
            if self._notebook is not None:
                self._from_notebook = stubs.from_notebook_files(self._paths, self._notebook)
        return self._from_notebook

    def _take_from_notebook(self, name: str, module: ModuleType) -> None:
        """The module's stub functions and classes that the notebook defines become the notebook's, in the
        module's namespace too, so that the module's own code calls them (a failed notebook import: `resolve`
        says so)."""
        names = self.from_notebook().get(name, [])
        if not names:
            return
        try:
            notebook = self._load_notebook()
        except ImportFailed:
            return
        for attr in names:
            # a None answer is replaced for the grader only (`resolve`): the module's code may test it
            if hasattr(notebook, attr) and getattr(module, attr, None) is not None:
                setattr(module, attr, getattr(notebook, attr))

    def resolve(self, target: str):
        """``"vectors.dot"`` -> the student's object; the notebook fills in what no module defines, and
        the stubs it defines again."""
        module_name, _, attr = target.partition(".")
        if module_name in self._paths:
            module = self.load(module_name)
            if attr in self.from_notebook().get(module_name, []):
                notebook = self._load_notebook()   # its import failure is this check's
                if hasattr(notebook, attr):
                    return getattr(notebook, attr)
            if hasattr(module, attr):
                return getattr(module, attr)
        if self._notebook is not None:
            notebook = self._load_notebook()
            if hasattr(notebook, attr):
                return getattr(notebook, attr)
        where = f"{module_name}.py" if module_name in self._paths else "the submission"
        raise Missing(f"`{attr}` is not defined in {where}")

    def has_module(self, name: str) -> bool:
        return name in self._paths

    def notebook_module(self) -> ModuleType | None:
        """The converted notebook, imported (None without one; its import failure raises as `load`'s)."""
        return self._load_notebook() if self._notebook is not None else None

    def _load_notebook(self) -> ModuleType:
        """`load` of the converted notebook, for a caller that knows the submission has one."""
        assert self._notebook_module is not None
        return self.load(self._notebook_module)

    def source_paths(self) -> list[Path]:
        paths = list(self._paths.values())
        return paths + ([self._notebook] if self._notebook else [])


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles the .py file's text at every import: never reads, checks or writes bytecode
    (a hash-based "unchecked" .pyc in __pycache__ would otherwise run instead of the source)."""

    def get_code(self, fullname: str):
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def set_data(self, *args, **kwargs) -> None:
        return None


def _source_spec(name: str, path: Path | str):
    return importlib.util.spec_from_file_location(name, path, loader=SourceOnlyLoader(name, str(path)))


def _is_source_module(module: ModuleType | None, path: Path) -> TypeGuard[ModuleType]:
    spec = getattr(module, "__spec__", None)
    return (spec is not None and isinstance(spec.loader, SourceOnlyLoader)
            and os.path.realpath(str(spec.origin)) == os.path.realpath(path))


class _ContractModules:
    """Meta path finder, first in line: `import vectors` anywhere is the located vectors.py, compiled
    from source (never a vectors.pyc, a vectors.so, nor another vectors.py further down sys.path)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = dict(paths)

    def find_spec(self, fullname: str, path=None, target=None):
        located = self._paths.get(fullname)
        return _source_spec(fullname, located) if located is not None else None

    def invalidate_caches(self) -> None:
        return None


class _NothingHere:
    """Path entry finder for a file of the submission put on sys.path (a zip of .pyc files): finds nothing."""

    def find_spec(self, fullname: str, target=None):
        return None

    def invalidate_caches(self) -> None:
        return None


class _SourceOnlyFolders:
    """sys.path hook, first in line: a path entry inside a folder of the submission (its folders
    appended to sys.path, a package of its own, a folder the student code adds) is searched for
    .py files only; what is installed (the sys.path entries of the child's own start) keeps the
    normal finders, even when it sits inside the submission."""

    def __init__(self, roots, installed) -> None:
        self._roots = tuple(os.path.realpath(r) for r in roots)
        self._installed = tuple(r for r in (os.path.realpath(p) for p in installed)
                                if r not in self._roots and any(_within(r, root) for root in self._roots))

    def claims(self, entry: str) -> bool:
        try:
            real = os.path.realpath(entry or os.getcwd())
        except (OSError, ValueError, TypeError):
            return False
        return (any(_within(real, root) for root in self._roots)
                and not any(_within(real, place) for place in self._installed))

    def __call__(self, entry: str):
        if not self.claims(entry):
            raise ImportError("not a folder of the submission")
        if not os.path.isdir(entry or os.getcwd()):
            return _NothingHere()
        return importlib.machinery.FileFinder(entry, (SourceOnlyLoader, [".py"]))


def _within(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:
        return False


def _import_from(name: str, path: Path) -> ModuleType:
    spec = _source_spec(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def describe_exception(exc: BaseException, student_files: list[Path]) -> str:
    """`ValueError: msg (at vectors.py line 12, in dot)`: the student's innermost frame."""
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        text = f"called sys.exit({exc.code!r}) (exit is not allowed in graded code)"
    else:
        text = f"{name}: {_safe_str(exc)}" if _safe_str(exc) else name
    where = _student_frame(exc, {str(p) for p in student_files})
    return f"{text} ({where})" if where else text


def _student_frame(exc: BaseException, files: set[str]) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in files]
    if not frames:
        return ""
    last = frames[-1]
    return f"at {Path(last.filename).name} line {last.lineno}, in {last.name}"


def _safe_str(exc: BaseException, limit: int = 500) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = ""
    return text if len(text) <= limit else text[: limit - 3] + "..."
