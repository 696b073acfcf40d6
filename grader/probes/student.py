"""Loading the student's modules inside the child, and finding their functions.

The seven modules are loaded by path under their contract names (so that
``from activations import relu`` inside ``gradients.py`` works), and the folders
holding them are *appended* to ``sys.path``: a ``numpy.py`` or ``torch.py`` in a
submission can never shadow the real package, which is found first.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

NOTEBOOK_MODULE = "hw3_notebook"


class Missing(Exception):
    """The module or name a check needs is not in the submission."""


class ImportFailed(Exception):
    """A module of the submission raised while being imported."""


class Student:
    """The submission as the probes see it: modules by contract name, plus a notebook fallback."""

    def __init__(self, modules: dict[str, str], notebook: str | None) -> None:
        self._paths = {name: Path(path) for name, path in modules.items()}
        self._notebook = Path(notebook) if notebook else None
        self._loaded: dict[str, ModuleType] = {}
        self._failed: dict[str, str] = {}
        for folder in {p.parent for p in self._paths.values()}:
            if str(folder) not in sys.path:
                sys.path.append(str(folder))

    def load(self, name: str) -> ModuleType:
        """Import one module of the submission (or the notebook) once; failures are remembered."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise ImportFailed(self._failed[name])
        path = self._notebook if name == NOTEBOOK_MODULE else self._paths.get(name)
        if path is None:
            raise Missing(f"{name}.py is not in the submission")
        try:
            module = _import_from(name, path)
        except BaseException as exc:  # SystemExit and friends included: the import itself is student code
            self._failed[name] = describe_exception(exc, [path])
            raise ImportFailed(self._failed[name]) from None
        self._loaded[name] = module
        return module

    def resolve(self, target: str):
        """``"losses.cross_entropy"`` -> the student's object; the notebook fills in what no module defines."""
        module_name, _, attr = target.partition(".")
        if module_name in self._paths:
            module = self.load(module_name)
            if hasattr(module, attr):
                return getattr(module, attr)
        if self._notebook is not None:
            notebook = self.load(NOTEBOOK_MODULE)
            if hasattr(notebook, attr):
                return getattr(notebook, attr)
        where = f"{module_name}.py" if module_name in self._paths else "the submission"
        raise Missing(f"`{attr}` is not defined in {where}")

    def source_paths(self) -> list[Path]:
        paths = list(self._paths.values())
        return paths + ([self._notebook] if self._notebook else [])


def _import_from(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
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
    """`ValueError: msg (at losses.py line 12, in cross_entropy)`: the student's innermost frame."""
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
