"""`hw3grade [--assignment PATH] build student-kit -o NAME-student-kit.zip`: what students download.

The kit of an assignment (one folder, ``<name>-student-kit/``, named after the folder
of the assignment's manifest, in a zip):

- the template's modules (the assignment's contract) and its README.md;
- ``check.py``, the self-check (`grader/kit/check.py`): the autograder's pipeline on the
  visible checks, in the student's Python (torch, numpy, matplotlib, pyyaml: no rich,
  psutil or jsonschema);
- ``.selfcheck/``: a trimmed copy of the grader (the modules `grader.kit.selfcheck` and
  the child need, found by following their imports) and of the assignment's check package
  and probe files (under their import names), where every check module keeps only its
  visible declarations and every probe module only the probe kinds a visible check uses
  (`strip_module`: statements that name a hidden check go, then every definition nothing
  uses any more; docstrings and comments go, line numbers stay); a copy of the template
  package (the contract's signatures and module order); ``assignment.yaml``, the kit's own
  manifest naming those copies (the self-check grades under it); ``rubric.yaml`` with the
  visible entries only; ``frozen.json``, the reference's answers to the calls the visible
  judges make on the reference's own observations (`grader.kit.record`); ``kit.json``
  (hidden points per problem, the reference package and its modules, versions).

The assignment's gradescope-utils unittest files are not shipped (the kit has no
gradescope_utils): their checks count as run on Gradescope only.

No reference source, hidden check, hidden probe kind, hidden id or hidden expected value
is in it: the build checks the copy (a stripped module that still registers a hidden
check, a copied file that names a hidden id, an import the kit cannot satisfy are build
errors), and tests/kit/test_student_kit.py checks the zip.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tokenize
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Sequence

import yaml

import grader
from .. import rubric as rubric_module
from .. import unittests
from ..assignment import MANIFEST, Assignment, package_dir
from ..checks.catalog import check_modules
from ..kit.record import record_reference, verify_replay
from ..kit.selfcheck import PLOT_HOOK, SELFCHECK_DIR
from ..outcome import Status
from ..runner import rng_for

KIT_SUFFIX = "-student-kit"
KIT_FORMAT = 2
GRADER_ROOT = Path(grader.__file__).resolve().parent
REPO_ROOT = GRADER_ROOT.parent
ENTRY_MODULES = ("grader.kit.selfcheck", "grader.probes.child")
#: What the kit's Python needs besides the standard library (torch, numpy, matplotlib, pyyaml), the grader's
#: copy and the assignment's shipped packages.
ALLOWED_IMPORTS = frozenset({"numpy", "torch", "matplotlib", "yaml", "grader"})
#: Never in the kit's Python (with the assignment's reference package): the build verifies that the kit
#: imports without them.
BLOCKED_IMPORTS = ("rich", "psutil", "jsonschema", "gradescope_utils", "pytest", "hypothesis",
                   "dask", "distributed")
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


class KitBuildError(Exception):
    """The kit cannot be built as asked; the message says what to change, and where."""


@dataclass
class KitReport:
    """What a build produced, for the instructor (and the tests)."""

    path: Path
    visible: tuple[str, ...]
    hidden: tuple[str, ...]
    frozen_calls: int
    files: tuple[str, ...]                               # every file in the kit, relative to its folder
    dependent: dict[str, list[str]] = field(default_factory=dict)   # check id -> student-dependent reference calls
    stripped: dict[str, list[str]] = field(default_factory=dict)    # module -> names removed as hidden-only
    size: int = 0
    originals: dict[str, str] = field(default_factory=dict)         # grader/*.py -> sha256 when it was copied

    def warnings(self) -> list[str]:
        return [f"{check_id}: its judge calls {', '.join(calls) or 'the reference'} on values the student returned; "
                "the kit cannot freeze that, so it judges this check only for answers equal to the reference's "
                "(others show 'on Gradescope'). Compute such values in the check module itself."
                for check_id, calls in sorted(self.dependent.items())] + self._missing_readme()

    def _missing_readme(self) -> list[str]:
        if "README.md" in self.files:
            return []
        return ["the template has no README.md, so the kit has none: students get the stubs and check.py with no "
                "instructions (add README.md to the template package)"]


HELP = "the zip students download: the template, its README and the self-check check.py"


def kit_name(assignment: Assignment) -> str:
    """The kit's folder (and default zip) name: the manifest's folder, as a slug, and "-student-kit"."""
    folder = assignment.manifest.parent.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", folder).strip("-.") or re.sub(r"\W+", "-", assignment.name.lower())
    return f"{slug.strip('-') or 'assignment'}{KIT_SUFFIX}"


def configure(parser) -> None:
    """`hw3grade build student-kit [-o NAME-student-kit.zip] [--rubric PATH]` (see grader/build/cli.py)."""
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="where to write the zip (default: <assignment folder>-student-kit.zip)")
    parser.add_argument("--rubric", type=Path, default=None, help="a rubric.yaml other than the packaged one")
    parser.set_defaults(func=_cmd_build)


def _cmd_build(args) -> int:
    output = args.output or Path(f"{kit_name(args.assignment)}.zip")
    try:
        build_kit(output, args.assignment, rubric_path=args.rubric)
    except (KitBuildError, rubric_module.RubricError) as exc:
        print(f"hw3grade build student-kit: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {output}")
    return 0


def build_kit(output: Path, assignment: Assignment, *, rubric_path: Path | None = None,
              log: Callable[[str], None] | None = None) -> Path:
    """Build the student kit zip of `assignment` at `output` (see the module docstring); returns its path."""
    report = build_kit_report(output, assignment, rubric_path=rubric_path)
    say = log or (lambda text: print(text, file=sys.stderr))
    for line in report.warnings():
        say(f"warning: {line}")
    say(f"{report.path}: {len(report.visible)} visible checks, {report.frozen_calls} frozen reference answers, "
        f"{len(report.files)} files, {report.size / 1024:.0f} KiB")
    return report.path


def build_kit_report(output: Path, assignment: Assignment, *, rubric_path: Path | None = None) -> KitReport:
    """Build the kit of `assignment`; see the module docstring."""
    output = Path(output)
    rubric = assignment.load_rubric(rubric_path)
    checks = assignment.catalog
    undeclared = [e.id for e in rubric.select(visible_only=True) if e.id not in checks]
    if undeclared:
        raise KitBuildError(f"rubric.yaml lists visible check(s) {', '.join(undeclared)} that {assignment.checks} "
                            "does not declare")
    visible = tuple(e for e in rubric.select(visible_only=True) if _shippable(checks[e.id], assignment))
    if not visible:
        raise KitBuildError(f"{rubric.source} has no visible check the kit can run: the kit would check nothing")
    hidden = _not_shipped(rubric, checks, visible)
    with tempfile.TemporaryDirectory(prefix="hw3kit-") as tmp:
        tmp_path = Path(tmp)
        submission = reference_as_submission(tmp_path / "reference", assignment)
        recording = record_reference(submission, assignment, rubric, visible)
        failing = [(o.check_id, o.status.value, o.message) for o in recording.result.outcomes
                   if o.status is not Status.PASSED]
        if failing:
            raise KitBuildError("the reference fails visible checks, so their answers cannot be frozen: "
                                + "; ".join(f"{i} ({s}: {m.splitlines()[0] if m else ''})" for i, s, m in failing))
        replay = verify_replay(recording, assignment, visible)
        if replay.differing:
            raise KitBuildError("judged against the frozen answers, the reference would get other verdicts: "
                                + "; ".join(f"{i}: {why}" for i, why in sorted(replay.differing.items())))
        stage = tmp_path / kit_name(assignment)
        stripped, originals = stage_kit(stage, assignment, rubric, visible, hidden,
                                        recording.frozen_data(replay.kept))
        verify_stage(stage, visible, hidden, _probe_kinds(visible, checks), assignment)
        files = tuple(sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                             if p.is_file() and "__pycache__" not in p.parts))
        path = write_zip(stage, Path(output))
    return KitReport(path, tuple(e.id for e in visible), tuple(e.id for e in hidden),
                     len(recording.calls) + len(replay.kept), files, replay.dependent, stripped, path.stat().st_size,
                     originals)


def _shippable(check, assignment: Assignment) -> bool:
    """A check of the assignment's check package (not one of its gradescope-utils unittests)."""
    return check.declared_in.startswith(assignment.checks + ".")


def _not_shipped(rubric: rubric_module.Rubric, checks: dict, visible: Sequence[rubric_module.CheckEntry] = ()
                 ) -> tuple[rubric_module.CheckEntry, ...]:
    """Every check the kit must not hold: the rubric's others (non-visible ones, unittests), and declarations
    it does not list."""
    listed = {e.id for e in rubric.checks}
    shipped = {e.id for e in visible} if visible else {e.id for e in rubric.checks if not e.secret}
    unlisted = tuple(rubric_module.CheckEntry(i, i.partition(".")[0], i, 1.0, "hidden", 0.0, 0.0, 1.0, 0)
                     for i in sorted(set(checks) - listed))
    return tuple(e for e in rubric.checks if e.id not in shipped) + unlisted


# ------------------------------------------------------------------------ the reference as a student's upload

def reference_as_submission(folder: Path, assignment: Assignment) -> Path:
    """The reference's modules as a student would upload them (top-level imports, no package)."""
    source_dir = package_dir(assignment.reference, assignment.import_root)
    folder.mkdir(parents=True, exist_ok=True)
    package = re.escape(assignment.reference)
    for name in assignment.modules:
        source = (source_dir / f"{name}.py").read_text(encoding="utf-8")
        source = re.sub(rf"from (?:{package})?\.(\w+) import", r"from \1 import", source)
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return folder


# ------------------------------------------------------------------------ staging the kit's folder

def stage_kit(stage: Path, assignment: Assignment, rubric: rubric_module.Rubric,
              visible: Sequence[rubric_module.CheckEntry], hidden: Sequence[rubric_module.CheckEntry], frozen: dict
              ) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Write the kit's folder; returns {module: names removed as hidden-only} and {copied file: its sha256}."""
    template = assignment.template_dir
    stage.mkdir(parents=True)
    for path in sorted(template.glob("*.py")):
        if not path.name.startswith("_"):
            (stage / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    if (template / "README.md").is_file():
        (stage / "README.md").write_text((template / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    (stage / "check.py").write_text((GRADER_ROOT / "kit" / "check.py").read_text(encoding="utf-8"), encoding="utf-8")
    selfcheck = stage / SELFCHECK_DIR
    sources, removed, digests, available = _kit_sources(assignment, visible, hidden)
    for module, text in sorted(sources.items()):
        target = selfcheck / _module_path(module, available)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    # the contract (module order, signatures) is read from a copy of the template package
    copy = selfcheck.joinpath(*assignment.template.split("."))
    copy.mkdir(parents=True)
    for path in sorted(template.glob("*.py")):
        if not path.name.startswith("_") or path.name == "__init__.py":
            (copy / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (selfcheck / MANIFEST).write_text(kit_assignment(assignment), encoding="utf-8")
    (selfcheck / "rubric.yaml").write_text(kit_rubric(rubric, visible, assignment.name), encoding="utf-8")
    (selfcheck / "frozen.json").write_text(json.dumps(frozen, sort_keys=True, separators=(",", ":")),
                                           encoding="utf-8")
    (selfcheck / "kit.json").write_text(json.dumps(_manifest(assignment, rubric, visible), indent=1, sort_keys=True),
                                        encoding="utf-8")
    _no_hidden_ids(stage, hidden)
    return removed, digests


def kit_assignment(assignment: Assignment) -> str:
    """The kit's assignment.yaml: the assignment's name, its copied check package, probe files and template
    (all under .selfcheck/), the kit's rubric; no unittests (the kit has no gradescope_utils)."""
    data = {"name": assignment.name, "root": ".", "reference": assignment.reference,
            "template": assignment.template, "rubric": "rubric.yaml", "checks": assignment.checks,
            "probes": [_module_path(name, {}).as_posix() for name in assignment.probe_files()]}
    if assignment.plots:
        data["plots"] = dict(assignment.plots)
    text = (f"# {assignment.name} as its student kit grades it (generated by hw3grade build student-kit):\n"
            "# the copies of its check package, probe files and template in this folder, the visible checks.\n")
    return text + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def kit_rubric(rubric: rubric_module.Rubric, visible: Sequence[rubric_module.CheckEntry], name: str) -> str:
    """rubric.yaml of the kit (of the assignment called `name`): the problems, the visible entries, every
    field spelled out, their points as the total."""
    limits = dataclasses.asdict(rubric.limits)
    limits["total_points"] = round(sum(e.points for e in visible), 6)
    shipped = {e.id for e in visible}
    data = {"problems": dict(rubric.problems), "limits": limits,
            "checks": [_kit_entry(e, shipped) for e in visible]}
    text = (f"# The visible checks of {name}'s autograder (generated by hw3grade build student-kit).\n"
            "# The hidden checks run on Gradescope only.\n")
    return text + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def _kit_entry(entry: rubric_module.CheckEntry, shipped: set[str]) -> dict:
    """One entry as plain YAML data; `builds_on` keeps only the checks the kit has (no hidden id leaks)."""
    fields = dataclasses.asdict(entry)
    fields["builds_on"] = [i for i in entry.builds_on if i in shipped]
    return fields


def _manifest(assignment: Assignment, rubric: rubric_module.Rubric, visible) -> dict:
    """kit.json: what runs only on Gradescope (points per problem), the reference the frozen answers stand
    in for, versions."""
    shipped = {e.id for e in visible}
    unittest_files = _unittest_files(assignment)
    hidden_points: dict[str, float] = {}
    unittest_points: dict[str, float] = {}   # by file: the instructor's own tests, by whatever name they have
    for e in rubric.checks:
        if e.id in shipped:
            continue
        points, key = (unittest_points, unittest_files[e.id]) if e.id in unittest_files else (hidden_points, e.problem)
        points[key] = round(points.get(key, 0.0) + e.points, 6)
    try:
        built_with = metadata.version("hw3grade")
    except Exception:
        built_with = "unknown"
    return {"format": KIT_FORMAT, "hw3grade": built_with, "rubric_digest": rubric.digest,
            "assignment": assignment.name, "kit": kit_name(assignment),
            "reference": {"package": assignment.reference, "modules": list(assignment.modules)},
            "visible_checks": len(visible), "visible_points": round(sum(e.points for e in visible), 6),
            "total_points": rubric.limits.total_points, "hidden_points": hidden_points,
            "unittest_points": unittest_points}


def _unittest_files(assignment: Assignment) -> dict[str, str]:
    """{check id: its file's name} for the assignment's gradescope-utils tests."""
    return {t.id: path.name for path in assignment.unittests for t in unittests.discover(path)}


def _module_path(module: str, available: dict[str, Path]) -> Path:
    """Where a module goes under .selfcheck/: its import name as a path (a package as its __init__.py)."""
    path = Path(*module.split("."))
    found = available.get(module)
    return path / "__init__.py" if found is not None and found.name == "__init__.py" else path.with_suffix(".py")


# ------------------------------------------------------------------------ which modules, stripped how

def kit_sources(visible: Sequence[rubric_module.CheckEntry], hidden: Sequence[rubric_module.CheckEntry],
                assignment: Assignment) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """{module: source} of every module the kit needs (the grader's, the assignment's check and probe modules;
    check and probe modules stripped), the names stripping removed, and {its file in the kit: sha256 of the
    text it was made from}."""
    return _kit_sources(assignment, visible, hidden)[:3]


def _kit_sources(assignment: Assignment, visible: Sequence[rubric_module.CheckEntry],
                 hidden: Sequence[rubric_module.CheckEntry]
                 ) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str], dict[str, Path]]:
    available = _available_modules(assignment)
    assignment.import_paths()
    declarations = {m for m in check_modules(assignment.checks) if m in available}
    probe_modules = {m for m in available if m.startswith("grader.probes.")} | set(assignment.probe_files())
    hidden_ids = [e.id for e in hidden]
    visible_ids = [e.id for e in visible]
    hidden_kinds = _probe_kinds(hidden, assignment.catalog) - _probe_kinds(visible, assignment.catalog)
    strippable = declarations | probe_modules
    originals = {m: available[m].read_text(encoding="utf-8") for m in available}
    # a declaration module's plot hook is called by the self-check, so it stays
    roots: dict[str, set[str]] = {m: ({PLOT_HOOK} if m in declarations else set()) for m in strippable}
    entries = sorted(declarations | probe_modules)
    while True:   # names other modules import from a stripped one keep it alive: iterate to a fixpoint
        sources, removed = dict(originals), {}
        for module in strippable:
            select = _hidden_statement(hidden_ids) if module in declarations else _hidden_probe(hidden_kinds)
            sources[module], removed[module] = strip_module(originals[module], select=select, roots=roots[module],
                                                            protect=_mentions(visible_ids), where=module)
        needed = _closure(sources, available, entries)
        imported = _imported_names({m: sources[m] for m in needed}, available)
        grown = {m: roots[m] | imported.get(m, set()) for m in strippable}
        if grown == roots:
            break
        roots = grown
    _check_imports({m: sources[m] for m in needed}, available, assignment)
    digests = {_module_path(m, available).as_posix(): hashlib.sha256(originals[m].encode("utf-8")).hexdigest()
               for m in needed}
    return ({m: sources[m] for m in needed}, {m: r for m, r in removed.items() if r and m in needed}, digests,
            available)


def _grader_modules() -> dict[str, Path]:
    return _package_modules(GRADER_ROOT, REPO_ROOT)


def _package_modules(folder: Path, root: Path) -> dict[str, Path]:
    """{import name: file} of every module of the package in `folder`, named relative to `root`."""
    modules = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if "__pycache__" in parts or not all(part.isidentifier() for part in parts):
            continue
        modules[".".join(parts)] = path
    return modules


def _available_modules(assignment: Assignment) -> dict[str, Path]:
    """Every module the kit may copy: the grader's; the top-level packages of the assignment's check package
    and of its probe files (never its reference or template); the probe files, by the names the child
    loads them under."""
    available = _grader_modules()
    root = assignment.import_root
    probe_files = {name: Path(path) for name, path in assignment.probe_files().items()}
    tops = {assignment.checks.split(".")[0]} | {name.split(".")[0] for name in probe_files if "." in name}
    for top in sorted(tops - {"grader", assignment.reference.split(".")[0], assignment.template.split(".")[0]}):
        folder = root / top
        if (folder / "__init__.py").is_file():
            available.update(_package_modules(folder, root))
    available.update(probe_files)
    return available


def _probe_kinds(entries: Iterable[rubric_module.CheckEntry], checks: dict) -> set[str]:
    return {p.kind for e in entries if e.id in checks for p in checks[e.id].probes(rng_for(e))}


def _closure(sources: dict[str, str], available: dict[str, Path], entries: Sequence[str] = ()) -> set[str]:
    """The entry modules, the child's probe kinds, the assignment's check and probe modules (`entries`), and
    everything they import."""
    todo = list(ENTRY_MODULES)
    todo += [m for m in available if m.startswith("grader.probes.")]
    todo += [m for m in entries if m in available]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen or module not in available:
            continue
        seen.add(module)
        parent = module.rpartition(".")[0]
        while parent:
            todo.append(parent)
            parent = parent.rpartition(".")[0]
        for target, names in _imports(module, sources[module], available):
            todo.append(target)
            todo += [f"{target}.{n}" for n in names]
    return seen


def _imports(module: str, source: str, available: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every import statement, function bodies included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found.append((_resolve_from(module, node, available), [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def _resolve_from(module: str, node: ast.ImportFrom, available: dict[str, Path]) -> str:
    """The module a ``from ... import`` statement of `module` reads from."""
    if not node.level:
        return node.module or ""
    package = module if available[module].name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_names(sources: dict[str, str], available: dict[str, Path]) -> dict[str, set[str]]:
    """{module: names the other modules use of it}: imported by name (``from .p5 import matches``)
    or read as an attribute of the module (``from ..probes import wire`` ... ``wire.encode``)."""
    names: dict[str, set[str]] = {}
    for module, source in sources.items():
        tree = ast.parse(source)
        bound: dict[str, str] = {}
        for target, imported in _imports(module, source, available):
            if target in available and target != module:
                names.setdefault(target, set()).update(imported)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve_from(module, node, available)
                for alias in node.names:
                    if f"{target}.{alias.name}" in available:
                        bound[alias.asname or alias.name] = f"{target}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in available:
                        bound[alias.asname] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
                names.setdefault(bound[node.value.id], set()).add(node.attr)
    return names


def _check_imports(sources: dict[str, str], available: dict[str, Path], assignment: Assignment) -> None:
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    shipped = {m.split(".")[0] for m in sources}
    package, modules = assignment.reference, set(assignment.modules)
    for module, source in sorted(sources.items()):
        for target, names in _imports(module, source, available):
            root = target.split(".")[0]
            if target == package or target.startswith(package + "."):
                served = {f"{package}.{m}" for m in modules} | {package}
                if target in served and (target != package or set(names) <= modules):
                    continue
                raise KitBuildError(f"{module} imports {target}: the kit serves only {package}.<module> for the "
                                    f"assignment's modules ({', '.join(assignment.modules)}) as frozen answers")
            if not target or root in stdlib or root in shipped or target.startswith("grader"):
                continue
            if root not in ALLOWED_IMPORTS:
                raise KitBuildError(f"{module} imports {target}, which the student kit does not have (students "
                                    f"install only {', '.join(sorted(ALLOWED_IMPORTS - {'grader'}))}); "
                                    "import it where only the autograder runs, or not at all")


# ------------------------------------------------------------------------ stripping one module

def _token_pattern(ids: Sequence[str]) -> re.Pattern | None:
    if not ids:
        return None
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w.])")


def _strings(node: ast.AST, skip: set[int]) -> Iterable[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and id(sub) not in skip:
            yield sub.value


def _mentions(ids: Sequence[str]) -> Callable[[ast.stmt, set[int]], bool]:
    pattern = _token_pattern(ids)

    def mentions(stmt: ast.stmt, skip: set[int]) -> bool:
        return pattern is not None and any(pattern.search(s) for s in _strings(stmt, skip))

    return mentions


def _hidden_statement(hidden_ids: Sequence[str]) -> Callable[[ast.stmt, set[int]], bool]:
    """A statement of a check module that names a hidden check (its declaration)."""
    return _mentions(hidden_ids)


def _hidden_probe(kinds: set[str]) -> Callable[[ast.stmt, set[int]], bool]:
    """A probe kind registered with ``@probe("kind")`` that only hidden checks use."""

    def select(stmt: ast.stmt, skip: set[int]) -> bool:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        for deco in stmt.decorator_list:
            if (isinstance(deco, ast.Call) and deco.args and isinstance(deco.args[0], ast.Constant)
                    and _name_of(deco.func) == "probe" and deco.args[0].value in kinds):
                return True
        return False

    return select


def _name_of(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def strip_module(source: str, *, select: Callable[[ast.stmt, set[int]], bool], roots: set[str] = frozenset(),
                 protect: Callable[[ast.stmt, set[int]], bool] = lambda s, k: False,
                 where: str = "module") -> tuple[str, list[str]]:
    """Blank out the top-level statements `select` picks, then every top-level definition (function,
    class, constant, imported name) that nothing left uses, then docstrings and comments.

    Line numbers stay as they were (removed lines become blank), so the kit's tracebacks
    point at the same lines as the repository's. `roots`: names other modules import from
    this one; `protect`: statements never removed as unused (a declaration assigned to a name).
    Returns the new source and the names removed.
    """
    source = _without_comments(source)
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    skip = {id(d) for d, _ in docstrings}
    body = tree.body
    alive = [not select(stmt, skip) for stmt in body]
    defines = [_defined_names(stmt) for stmt in body]
    uses = [_used_names(stmt) for stmt in body]
    protected = [bool(getattr(stmt, "decorator_list", None)) or protect(stmt, skip) for stmt in body]
    changed = not all(alive)   # a module without hidden statements keeps every definition
    while changed:   # definitions nothing alive uses any more go too, until none is left
        changed = False
        for i, stmt in enumerate(body):
            if not alive[i] or not defines[i] or protected[i] or isinstance(stmt, (ast.Import, ast.ImportFrom)):
                continue
            used = set(roots).union(*(uses[j] for j in range(len(body)) if alive[j] and j != i))
            if not defines[i] & used:
                alive[i] = False
                changed = True
    lines = source.splitlines(keepends=True)
    removed: list[str] = []
    gone: list[tuple[int, int]] = []
    used_all = set(roots).union(*(uses[j] for j in range(len(body)) if alive[j]))
    for i, stmt in enumerate(body):
        if not alive[i]:
            removed += sorted(defines[i]) or [f"line {stmt.lineno}"]
            gone.append((_first_line(stmt), stmt.end_lineno))
            _blank(lines, _first_line(stmt), stmt.end_lineno)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and not all(alive):
            _prune_import(lines, stmt, used_all, removed)
    for doc, alone in docstrings:
        if not any(a <= doc.lineno <= b for a, b in gone):
            _blank_docstring(lines, doc, alone)
    if lines and lines[0] == "\n":
        lines[0] = f"# {where}, as the student kit holds it: visible checks only, no docstrings or comments.\n"
    text = "".join(lines)
    text = re.sub(r"[ \t]+\n", "\n", text)
    try:
        compile(text, where, "exec")
    except SyntaxError as exc:
        raise KitBuildError(f"stripping {where} left invalid Python ({exc}); declare hidden checks in top-level "
                            "statements of their own") from None
    return text, removed


def _without_comments(source: str) -> str:
    lines = source.splitlines(keepends=True)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col].rstrip() + ("\n" if line.endswith("\n") else "")
    return "".join(lines)


def _docstring_nodes(tree: ast.Module) -> list[tuple[ast.Constant, bool]]:
    """Every docstring, and whether it is all its function's or class's body holds."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                found.append((first.value, len(node.body) == 1 and not isinstance(node, ast.Module)))
    return found


def _blank_docstring(lines: list[str], doc: ast.Constant, alone: bool) -> None:
    """A docstring becomes blank lines, or ``pass`` when it is all its body holds; same line count."""
    first = lines[doc.lineno - 1].encode("utf-8")            # ast offsets count UTF-8 bytes
    if first[:doc.col_offset].strip() or lines[doc.end_lineno - 1].encode("utf-8")[doc.end_col_offset:].strip():
        return   # code on the same line (def f(): "doc"): leave it
    indent = first[:doc.col_offset].decode("utf-8")
    _blank(lines, doc.lineno, doc.end_lineno)
    if alone:
        lines[doc.lineno - 1] = indent + "pass\n"


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno] + [d.lineno for d in decorators])


def _blank(lines: list[str], first: int, last: int) -> None:
    for n in range(first - 1, last):
        lines[n] = "\n"


def _defined_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names: set[str] = set()
        for target in targets:
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            if not all(isinstance(e, ast.Name) for e in elements):
                return set()   # x[k] = ..., obj.attr = ...: not a plain definition, always kept
            names |= {e.id for e in elements}
        return names
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {_bound_name(a) for a in stmt.names if a.name != "*"}
    return set()


def _bound_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def _used_names(stmt: ast.stmt) -> set[str]:
    used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    # a name assigned inside a function with `global` is that module-level name, used
    for node in ast.walk(stmt):
        if isinstance(node, ast.Global):
            used.update(node.names)
    return used


def _prune_import(lines: list[str], stmt: ast.Import | ast.ImportFrom, used: set[str], removed: list[str]) -> None:
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
        return
    keep = [a for a in stmt.names if a.name == "*" or _bound_name(a) in used]
    if len(keep) == len(stmt.names):
        return
    removed += [_bound_name(a) for a in stmt.names if a not in keep]
    indent = lines[stmt.lineno - 1][:stmt.col_offset]
    _blank(lines, stmt.lineno, stmt.end_lineno)
    if keep:
        node = ast.ImportFrom(stmt.module, keep, stmt.level) if isinstance(stmt, ast.ImportFrom) else ast.Import(keep)
        lines[stmt.lineno - 1] = indent + ast.unparse(node) + "\n"


# ------------------------------------------------------------------------ checking the staged kit

def _no_hidden_ids(stage: Path, hidden: Sequence[rubric_module.CheckEntry]) -> None:
    pattern = _token_pattern([e.id for e in hidden])
    if pattern is None:
        return
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            found = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
            if found:
                raise KitBuildError(f"{path.relative_to(stage)} names the hidden check {found.group(0)!r}: "
                                    "hidden ids belong in their own declarations (the check package) only")


_VERIFY = r"""
import importlib.abc, json, sys
blocked = set(sys.argv[2].split(","))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not available in the student kit")
        return None

sys.meta_path.insert(0, Blocker())
sys.path.insert(0, sys.argv[1])
import grader
from grader.assignment import MANIFEST, load
import grader.kit.selfcheck
from grader.probes import child
assignment = load(sys.argv[1] + "/" + MANIFEST)
assignment.import_paths()
checks = sorted(assignment.catalog)
kinds = child._load_probe_kinds(assignment.probe_files())
modules = list(assignment.modules)
tops = set(sys.argv[3].split(","))
files = sorted({m.__file__ for n, m in list(sys.modules.items())
                if n.split(".")[0] in tops and getattr(m, "__file__", None)})
print(json.dumps({"checks": checks, "kinds": sorted(kinds), "files": files, "modules": modules}))
"""


def verify_stage(stage: Path, visible, hidden, visible_kinds: set[str], assignment: Assignment) -> None:
    """Import the kit's grader copy and its assignment in a fresh Python without the reference, rich, psutil,
    jsonschema: exactly the visible checks, the visible probe kinds, every module from the kit itself."""
    selfcheck = stage / SELFCHECK_DIR
    tops = sorted({p.name for p in selfcheck.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
                  | {p.stem for p in selfcheck.glob("*.py")})
    blocked = sorted(set(BLOCKED_IMPORTS) | {assignment.reference.split(".")[0]})
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    run = subprocess.run([sys.executable, "-I", "-B", "-c", _VERIFY, str(selfcheck), ",".join(blocked),
                          ",".join(tops)], capture_output=True, text=True, timeout=300, env=env, cwd=stage)
    if run.returncode != 0:
        raise KitBuildError(f"the kit's grader copy does not import on its own:\n{run.stderr[-3000:]}")
    found = json.loads(run.stdout.strip().splitlines()[-1])
    registered = set(found["checks"])
    wanted = {e.id for e in visible}
    if registered != wanted:
        extra, lost = sorted(registered - wanted), sorted(wanted - registered)
        raise KitBuildError("after stripping, the kit's checks are not exactly the visible ones"
                            + (f"; still declared: {', '.join(extra)} (declare each hidden check in top-level "
                               "statements that name its id)" if extra else "")
                            + (f"; lost: {', '.join(lost)} (a statement that declares them also names a hidden "
                               "check)" if lost else ""))
    missing = sorted(visible_kinds - set(found["kinds"]))
    if missing:
        raise KitBuildError(f"the kit's child lacks the probe kind(s) {', '.join(missing)} of visible checks")
    if tuple(found["modules"]) != tuple(assignment.modules):
        raise KitBuildError(f"the kit's template copy gives the modules {found['modules']}, "
                            f"not the assignment's {list(assignment.modules)}")
    outside = [f for f in found["files"] if not Path(f).resolve().is_relative_to(selfcheck.resolve())]
    if outside:
        raise KitBuildError(f"the kit imported its modules from outside itself: {', '.join(outside)}")


# ------------------------------------------------------------------------ the zip

def write_zip(stage: Path, output: Path) -> Path:
    """A reproducible zip (sorted entries, one date) of the staged folder, under its folder name."""
    output.parent.mkdir(parents=True, exist_ok=True)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    date = time.gmtime(int(epoch))[:6] if epoch else ZIP_DATE
    tmp = output.with_name(f".{output.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in stage.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            name = f"{stage.name}/{path.relative_to(stage).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if path.name == "check.py" else 0o100644) << 16
            archive.writestr(info, path.read_bytes())
    os.replace(tmp, output)
    return output

