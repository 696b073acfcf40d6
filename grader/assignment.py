"""An assignment: what the engine grades, described by one manifest (``assignment.yaml``).

The engine (everything else in ``grader/``) knows no homework. An assignment names, with paths
relative to the manifest's folder:

    name: Homework 3                  # how reports and the kit title it
    root: ..                          # optional: the folder its import packages live in (default: here)
    reference: reference              # import package: the correct solution
    template: student_template        # import package: the stubs; its modules are the contract
    rubric: rubric.yaml               # points, visibility, tolerances, limits, problem keys
    checks: hw3.checks                # import package: every module in it declares checks
    probes: [hw3/probes/training.py]  # probe-kind files the child loads (by path, before any student code)
    unittests: [tests_gs/test_x.py]   # optional: gradescope-utils unittest files, run in the child
    smoke_checks: [A1, A2.mean]       # optional: problem keys or check ids `setup.sh` grades on the
                                      # reference, to prove the image works (default: none)
    plots: {A1: exercise1_fit.png}    # optional: where the kit's self-check saves a problem's plot
    samples: {submissions/ok: 10}     # optional: sample submissions and the score `self-test` expects
    arrays: torch                     # optional: how array arguments reach student and reference code,
                                      # `torch` tensors (default) or `numpy` arrays (dtype kept)

Which assignment is graded: ``--assignment PATH`` (a manifest or its folder), else
``$HW3GRADE_ASSIGNMENT``, else ``assignment.yaml`` next to the engine's package (a source
checkout), else the ``hw3grade.assignments`` entry point named ``default`` (an installed package).
"""
from __future__ import annotations

import ast
import contextlib
import contextvars
import functools
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

MANIFEST = "assignment.yaml"
ENVIRONMENT = "HW3GRADE_ASSIGNMENT"
ENTRY_POINTS = "hw3grade.assignments"
_FIELDS = {"name", "root", "reference", "template", "rubric", "checks", "probes", "unittests", "smoke_checks", "plots",
           "samples", "arrays"}
#: How array arguments reach student and reference code (`arrays:` of the manifest, `arrays=` of a check).
ARRAY_TYPES = ("torch", "numpy")
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

    # ------------------------------------------------------------ derived from the rubric and checks

    def load_rubric(self, path: str | Path | None = None):
        from . import rubric

        return rubric.load(path or self.rubric_path, assignment=self)

    def import_paths(self) -> None:
        """Make the assignment's packages importable in this process."""
        root = str(self.import_root)
        if root not in sys.path:
            sys.path.insert(0, root)

    def check_modules(self) -> tuple[str, ...]:
        """Every module of the check package (discovered: adding a file adds its checks)."""
        import pkgutil

        self.import_paths()
        package = importlib.import_module(self.checks)
        return tuple(f"{self.checks}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
                     if not info.name.startswith("_"))

    def reference_module(self, module: str) -> Any:
        self.import_paths()
        return importlib.import_module(f"{self.reference}.{module}")

    @functools.cached_property
    def rubric(self):
        """The assignment's own rubric (problem names, which checks need which module)."""
        return self.load_rubric()

    def problems_of_module(self, module: str) -> tuple[str, ...]:
        """The problem keys whose checks call into `module`, in the rubric's order."""
        return self._module_problems.get(module, ())

    @functools.cached_property
    def _module_problems(self) -> dict[str, tuple[str, ...]]:
        import numpy as np

        from .checks.catalog import load_checks

        checks = load_checks(self)
        found: dict[str, dict[str, None]] = {}
        for entry in self.rubric.checks:
            check = checks.get(entry.id)
            for probe in (check.probes(np.random.default_rng(0)) if check else ()):
                if probe.module:
                    found.setdefault(probe.module, {})[entry.problem] = None
        order = self.rubric.problem_keys
        return {m: tuple(sorted(keys, key=lambda k: order.index(k) if k in order else len(order)))
                for m, keys in found.items()}

    def describe_problems(self, keys) -> str:
        """("A1", "A3", "B2") -> "Exercises 1, 3 and Bonus 2", from the rubric's problem names."""
        order = self.rubric.problem_keys
        keys = sorted(set(keys), key=lambda k: order.index(k) if k in order else len(order))
        groups: dict[str, list[str]] = {}
        for key in keys:
            word, _, number = self.rubric.problem_name(key).rpartition(" ")
            groups.setdefault(word, []).append(number if word else key)
        return " and ".join(f"{word}{'s' if len(items) > 1 else ''} {_runs(items)}".strip()
                            for word, items in groups.items())

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

_ACTIVE: contextvars.ContextVar[Assignment | None] = contextvars.ContextVar("assignment", default=None)


def active() -> Assignment:
    """The assignment being graded: the one `using` set, else the default."""
    return _ACTIVE.get() or default()


@contextlib.contextmanager
def using(assignment: Assignment) -> Iterator[Assignment]:
    """Grade `assignment` inside this block (messages, locating modules, the kit all follow it)."""
    assignment.import_paths()
    token = _ACTIVE.set(assignment)
    try:
        yield assignment
    finally:
        _ACTIVE.reset(token)


def select(path: str | Path | None) -> Assignment:
    """`--assignment PATH` if given, else the default; makes it the active one for this process."""
    chosen = load(path) if path else default()
    chosen.import_paths()
    _ACTIVE.set(chosen)
    return chosen


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
    from importlib.metadata import entry_points

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
    )


def _runs(numbers: list[str]) -> str:
    """["1", "2", "3", "5"] -> "1-3, 5": three or more consecutive numbers as a range."""
    parts: list[list[str]] = []
    for item in numbers:
        if parts and item.isdigit() and parts[-1][-1].isdigit() and int(item) == int(parts[-1][-1]) + 1:
            parts[-1].append(item)
        else:
            parts.append([item])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ", ".join(run) for run in parts)


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
