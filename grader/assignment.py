"""An assignment: what the engine grades, described by one manifest (``assignment.yaml``).

The engine (everything else in ``grader/``) knows no homework. An assignment names, with paths
relative to the manifest's folder:

    name: Homework 3                  # how reports and the kit title it
    root: ..                          # optional: the folder its import packages live in (default: here)
    reference: reference              # import package: the correct solution
    template: student_template        # import package: the stubs; its modules are the contract
    rubric: rubric.yaml               # points, visibility, tolerances, limits, problem keys
    checks: hw.checks                 # import package: every module in it declares checks (a module named
                                      # *_hidden.py holds hidden checks: the student kit leaves it out)
    probes: [hw/probes/fitting.py]    # probe-kind files the child loads (by path, before any student code)
    unittests: [tests_gs/test_x.py]   # optional: gradescope-utils unittest files, run in the child
    smoke_checks: [A1, A2.mean]       # optional: problem keys or check ids `setup.sh` grades on the
                                      # reference, to prove the image works (default: none)
    plots: {A1: exercise1_fit.png}    # optional: where the kit's self-check saves a problem's plot
    samples: {submissions/ok: 10}     # optional: sample submissions and the score `self-test` expects
    arrays: torch                     # optional: how array arguments reach student and reference code,
                                      # `torch` tensors (default) or `numpy` arrays (dtype kept)
    notebook_module: hw_notebook      # optional: the module a submitted notebook becomes (default: the
                                      # manifest's folder name and "_notebook")

Which assignment is graded: ``--assignment PATH`` (a manifest or its folder), else
``$HW3GRADE_ASSIGNMENT``, else ``assignment.yaml`` next to the engine's package (a source
checkout), else the ``hw3grade.assignments`` entry point named ``default`` (an installed package).
Each entry point (the cli, the Gradescope entry, the kit's check.py, a library caller) loads it
once (`load`, `default`) and hands it down: nothing in the engine looks it up.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from . import rubric as rubric_module
from . import unittests as unittest_files
from .checks.base import ARRAY_TYPES, Check
from .checks.catalog import load_checks
from .rubric import Rubric

MANIFEST = "assignment.yaml"
ENVIRONMENT = "HW3GRADE_ASSIGNMENT"
ENTRY_POINTS = "hw3grade.assignments"
_FIELDS = {"name", "root", "reference", "template", "rubric", "checks", "probes", "unittests", "smoke_checks", "plots",
           "samples", "arrays", "notebook_module"}
_REQUIRED = ("name", "reference", "template", "rubric", "checks")


class AssignmentError(ValueError):
    """The manifest is missing or malformed: the message names the file and the field."""


@dataclass(frozen=True)
class Assignment:
    manifest: Path
    name: str
    import_root: Path                    # on sys.path, so that its packages import
    reference: str                       # import package of the correct solution
    template: str                        # import package of the stubs (the contract)
    rubric_path: Path
    checks: str                          # import package of the check declarations
    probes: tuple[Path, ...] = ()        # probe-kind files the child loads
    unittests: tuple[Path, ...] = ()     # gradescope-utils unittest files
    smoke_checks: tuple[str, ...] = ()
    plots: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    samples: dict[Path, float] = field(default_factory=dict, hash=False, compare=False)
    arrays: str = "torch"                # what array arguments are in student code: one of ARRAY_TYPES
    notebook_module: str = "notebook"    # the module a submitted notebook is converted into

    # ------------------------------------------------------------ derived from the template

    @functools.cached_property
    def template_dir(self) -> Path:
        return package_dir(self.template, self.import_root)

    @functools.cached_property
    def modules(self) -> tuple[str, ...]:
        """The contract's module names: the template's public modules, in the order its
        ``__init__`` lists them in ``__all__`` (else alphabetical)."""
        found = sorted(p.stem for p in self.template_dir.glob("*.py") if not p.stem.startswith("_"))
        order = _declared_all(self.template_dir / "__init__.py")
        return tuple([m for m in order if m in found] + [m for m in found if m not in order])

    def signatures(self) -> dict[str, tuple[str, str]]:
        """{public name: (module, "def name(args)" | "class name" | "name = ...")}, read with `ast`."""
        return _signatures(self.template_dir)

    @property
    def constants(self) -> frozenset[str]:
        """The module-level constants of the contract (answers a student fills in)."""
        return frozenset(n for n, (_, text) in self.signatures().items() if text.endswith("= ..."))

    def expected_definition(self, name: str) -> str:
        """'expected in module.py: `def name(args)`', or '' for names outside the contract."""
        entry = self.signatures().get(name)
        return f"expected in {entry[0]}.py: `{entry[1]}`" if entry else ""

    # ------------------------------------------------------------ its rubric, checks and reference

    def load_rubric(self, path: str | Path | None = None) -> Rubric:
        """rubric.yaml (or `path`), with the assignment's unittest files as entries."""
        return unittest_files.with_unittests(rubric_module.load(path or self.rubric_path), self.unittests)

    @functools.cached_property
    def rubric(self) -> Rubric:
        """The assignment's own rubric (problem names, which checks need which module)."""
        return self.load_rubric()

    @functools.cached_property
    def catalog(self) -> dict[str, Check]:
        """{check id: Check}: every check the check package declares, then the unittest files' tests."""
        self.import_paths()
        return load_checks(self.checks, unittest_files.checks(self.unittests, self.modules))

    def import_paths(self) -> None:
        """Make the assignment's packages importable in this process."""
        root = str(self.import_root)
        if root not in sys.path:
            sys.path.insert(0, root)

    def reference_module(self, module: str) -> Any:
        self.import_paths()
        return importlib.import_module(f"{self.reference}.{module}")

    def reference_object(self, target: str) -> Any:
        """The reference's ``module.name`` (imported on first use: judges run after the child is done).
        Imported by name, so that the kit's stand-in modules (grader/kit/frozen.py) serve it there."""
        module, _, name = target.partition(".")
        return getattr(self.reference_module(module), name)

    def problems_of_module(self, module: str) -> tuple[str, ...]:
        """The problem keys whose checks call into `module`, in the rubric's order."""
        return self._module_problems.get(module, ())

    def problems_needing(self, module: str) -> str:
        """The problems whose checks need `module`, as a sentence names them ("" when none)."""
        return self.describe_problems(self.problems_of_module(module))

    @functools.cached_property
    def _module_problems(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, dict[str, None]] = {}
        for entry in self.rubric.checks:
            check = self.catalog.get(entry.id)
            for probe in (check.probes(np.random.default_rng(0)) if check else ()):
                if probe.module:
                    found.setdefault(probe.module, {})[entry.problem] = None
        return {m: tuple(self.rubric.in_order(keys)) for m, keys in found.items()}

    def describe_problems(self, keys) -> str:
        """("A1", "A3", "B2") -> "Exercises 1, 3 and Bonus 2", from the rubric's problem names."""
        return self.rubric.describe_problems(keys)

    def probe_files(self) -> dict[str, str]:
        """{module name: absolute path} of the assignment's probe kinds: the dotted name under the
        import root (the same module as an import of it here), else one made from the file name."""
        found = {}
        for path in self.probes:
            try:
                name = ".".join(path.relative_to(self.import_root).with_suffix("").parts)
            except ValueError:
                name = f"{_slug(self.name)}_probes_{path.stem}"
            found[name] = str(path)
        return found


# ---------------------------------------------------------------- which assignment

@functools.lru_cache(maxsize=None)
def default() -> Assignment:
    env = os.environ.get(ENVIRONMENT)
    if env:
        return load(env)
    beside = Path(__file__).resolve().parent.parent / MANIFEST
    if beside.is_file():
        return load(beside)
    return load(_entry_point_manifest())


def _entry_point_manifest() -> Path:
    for entry in entry_points(group=ENTRY_POINTS):
        if entry.name == "default":
            return package_dir(entry.value, None) / MANIFEST
    raise AssignmentError(f"no assignment to grade: pass --assignment PATH (a folder holding {MANIFEST}) "
                          f"or set {ENVIRONMENT}")


@functools.lru_cache(maxsize=None)
def load(path: str | Path) -> Assignment:
    """Read and validate a manifest (a path to it, or to the folder holding it)."""
    manifest = Path(path)
    manifest = (manifest / MANIFEST if manifest.is_dir() else manifest).resolve()
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssignmentError(f"{manifest}: cannot read the assignment's manifest ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise AssignmentError(f"{manifest}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise AssignmentError(f"{manifest}: the top level must be a mapping of fields")
    unknown = sorted(set(data) - _FIELDS)
    missing = [f for f in _REQUIRED if not isinstance(data.get(f), str) or not data[f].strip()]
    if unknown or missing:
        raise AssignmentError(f"{manifest}: " + "; ".join(
            ([f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_FIELDS))})"] if unknown else [])
            + ([f"missing or empty field(s) {', '.join(missing)}"] if missing else [])))
    root = manifest.parent
    if not isinstance(data.get("root", "."), str):
        raise AssignmentError(f"{manifest}: 'root' must be a folder path, got {data['root']!r}")
    return Assignment(
        manifest=manifest, name=data["name"], import_root=(root / data.get("root", ".")).resolve(),
        reference=data["reference"], template=data["template"],
        rubric_path=(root / data["rubric"]).resolve(), checks=data["checks"],
        probes=tuple((root / p).resolve() for p in _strings(data, "probes", manifest)),
        unittests=tuple((root / p).resolve() for p in _strings(data, "unittests", manifest)),
        smoke_checks=tuple(_strings(data, "smoke_checks", manifest)),
        plots=dict(data.get("plots") or {}),
        samples=_samples(data, root, manifest),
        arrays=_arrays(data, manifest),
        notebook_module=_notebook_module(data, manifest),
    )


def _strings(data: dict, name: str, manifest: Path) -> list[str]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AssignmentError(f"{manifest}: {name!r} must be a list of strings, got {value!r}")
    return value


def _samples(data: dict, root: Path, manifest: Path) -> dict[Path, float]:
    value = data.get("samples") or {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in value.items()):
        raise AssignmentError(f"{manifest}: 'samples' must map a submission's path to the score it should get, "
                              f"got {value!r}")
    return {(root / path).resolve(): float(score) for path, score in value.items()}


def _arrays(data: dict, manifest: Path) -> str:
    value = data.get("arrays", "torch")
    if value not in ARRAY_TYPES:
        raise AssignmentError(f"{manifest}: 'arrays' must be one of {', '.join(ARRAY_TYPES)} (what array arguments "
                              f"are in student and reference code), got {value!r}")
    return value


def _notebook_module(data: dict, manifest: Path) -> str:
    default = f"{_slug(manifest.parent.name)}_notebook"
    value = data.get("notebook_module", default if default.isidentifier() else "assignment_notebook")
    if not isinstance(value, str) or not value.isidentifier():
        raise AssignmentError(f"{manifest}: 'notebook_module' must be a module name (a Python identifier), "
                              f"got {value!r}")
    return value


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_") or "assignment"


def package_dir(package: str, root: Path | None) -> Path:
    """Where an import package lives, found without importing it (the parent's first phase stays light)."""
    if root is not None:
        candidate = root.joinpath(*package.split("."))
        if (candidate / "__init__.py").is_file():
            return candidate
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise AssignmentError(f"the package {package!r} named by the assignment cannot be found")
    return Path(list(spec.submodule_search_locations)[0])


def _declared_all(init: Path) -> list[str]:
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                return [str(v) for v in ast.literal_eval(node.value)]
            except ValueError:
                return []
    return []


@functools.lru_cache(maxsize=None)
def _signatures(template_dir: Path) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(template_dir.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found[node.name] = (path.stem, f"def {node.name}({ast.unparse(node.args)})")
            elif isinstance(node, ast.ClassDef):
                bases = ", ".join(ast.unparse(b) for b in node.bases)
                found[node.name] = (path.stem, f"class {node.name}({bases})" if bases else f"class {node.name}")
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and not target.id.startswith("_"):
                        found[target.id] = (path.stem, f"{target.id} = ...")
    return found
