"""`hw3grade [--assignment PATH] build student-kit -o NAME-student-kit.zip`: what students download.

The kit of an assignment (one folder, ``<name>-student-kit/``, named after the folder
of the assignment's manifest, in a zip):

- the template's modules (the assignment's contract) and its README.md;
- ``check.py``, the self-check (`grader/kit/check.py`): the autograder's pipeline on the
  visible checks, in the student's Python (torch, numpy, matplotlib, pyyaml: no rich,
  psutil or jsonschema);
- ``.selfcheck/``: whole files, chosen: the grader's modules that `grader.kit.selfcheck` and
  the child need (found by following their imports), the assignment's check modules and
  probe files (under their import names) except those whose names end in ``_hidden``
  (`HIDDEN_SUFFIX`: hidden checks, and what only they use, live in modules of their own,
  ``<module>_hidden.py`` next to ``<module>.py``), and the helper modules the chosen ones import; a copy
  of the template package (the contract's signatures and module order); ``assignment.yaml``, the kit's own
  manifest naming those copies (the self-check grades under it); ``rubric.yaml`` with the
  visible entries only; ``frozen.json``, the reference's answers to the calls the visible
  judges make on the reference's own observations (`grader.kit.record`); ``kit.json``
  (hidden points per problem, the reference package and its modules, versions).

The assignment's gradescope-utils unittest files are not shipped (the kit has no
gradescope_utils): their checks count as run on Gradescope only.

No reference source, hidden check, hidden probe kind, hidden id or hidden expected value
is in it: the build checks the copy (a shipped file that names a hidden id, a shipped module
that imports a hidden one, a kit that registers other checks than the visible ones or a
probe kind only hidden checks use, an import the kit cannot satisfy are build errors), and
tests/kit/test_student_kit.py checks the zip.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
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
from ..kit.selfcheck import SELFCHECK_DIR
from ..outcome import Status
from ..runner import rng_for

KIT_SUFFIX = "-student-kit"
KIT_FORMAT = 2
GRADER_ROOT = Path(grader.__file__).resolve().parent
REPO_ROOT = GRADER_ROOT.parent
ENTRY_MODULES = ("grader.kit.selfcheck", "grader.probes.child")
#: A module of the check package (or a probe file) whose name ends so is the autograder's only: never in the kit.
HIDDEN_SUFFIX = "_hidden"
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
    withheld: tuple[str, ...] = ()                        # the assignment's hidden modules, not shipped
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
        assert recording.result is not None   # the grading of the reference, always made
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
        withheld, originals = stage_kit(stage, assignment, rubric, visible, hidden,
                                        recording.frozen_data(replay.kept))
        verify_stage(stage, visible, hidden, _probe_kinds(visible, checks), assignment)
        files = tuple(sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                             if p.is_file() and "__pycache__" not in p.parts))
        path = write_zip(stage, Path(output))
    return KitReport(path, tuple(e.id for e in visible), tuple(e.id for e in hidden),
                     len(recording.calls) + len(replay.kept), files, replay.dependent, withheld, path.stat().st_size,
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
              ) -> tuple[tuple[str, ...], dict[str, str]]:
    """Write the kit's folder; returns the hidden modules it leaves out and {copied file: its sha256}."""
    template = assignment.template_dir
    stage.mkdir(parents=True)
    for path in sorted(template.glob("*.py")):
        if not path.name.startswith("_"):
            (stage / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    if (template / "README.md").is_file():
        (stage / "README.md").write_text((template / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    (stage / "check.py").write_text((GRADER_ROOT / "kit" / "check.py").read_text(encoding="utf-8"), encoding="utf-8")
    selfcheck = stage / SELFCHECK_DIR
    sources, withheld, digests, available = _kit_sources(assignment, visible, hidden)
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
    return withheld, digests


def kit_assignment(assignment: Assignment) -> str:
    """The kit's assignment.yaml: the assignment's name, its copied check package, probe files and template
    (all under .selfcheck/), the kit's rubric; no unittests (the kit has no gradescope_utils)."""
    data: dict[str, object] = {"name": assignment.name, "root": ".", "reference": assignment.reference,
            "template": assignment.template, "rubric": "rubric.yaml", "checks": assignment.checks,
            "notebook_module": assignment.notebook_module,
            "probes": [_module_path(name, {}).as_posix() for name in assignment.probe_files() if not _hidden(name)]}
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


# ------------------------------------------------------------------------ which modules

def kit_sources(visible: Sequence[rubric_module.CheckEntry], hidden: Sequence[rubric_module.CheckEntry],
                assignment: Assignment) -> tuple[dict[str, str], tuple[str, ...], dict[str, str]]:
    """{module: source} of every module the kit needs (the grader's, the assignment's check and probe modules
    but its hidden ones, whole), the hidden modules left out, and {its file in the kit: sha256 of its text}."""
    return _kit_sources(assignment, visible, hidden)[:3]


def _hidden(module: str) -> bool:
    """A module of the autograder's only (hidden checks and what only they use): never in the kit."""
    return module.rpartition(".")[2].endswith(HIDDEN_SUFFIX)


def _kit_sources(assignment: Assignment, visible: Sequence[rubric_module.CheckEntry],
                 hidden: Sequence[rubric_module.CheckEntry]
                 ) -> tuple[dict[str, str], tuple[str, ...], dict[str, str], dict[str, Path]]:
    available = _available_modules(assignment)
    assignment.import_paths()
    declarations = {m for m in check_modules(assignment.checks) if m in available}
    entries = sorted(m for m in declarations | set(assignment.probe_files()) if not _hidden(m))
    sources = {m: available[m].read_text(encoding="utf-8") for m in available}
    needed = _closure(sources, available, entries)
    importing = sorted(m for m in needed if _hidden(m))
    if importing:
        raise KitBuildError(f"the kit would need {', '.join(importing)} (imported by a module it ships), but a module "
                            f"named *{HIDDEN_SUFFIX} is the autograder's only: move what visible checks use out of it")
    _check_imports({m: sources[m] for m in needed}, available, assignment)
    digests = {_module_path(m, available).as_posix(): hashlib.sha256(sources[m].encode("utf-8")).hexdigest()
               for m in needed}
    withheld = tuple(sorted(m for m in available if _hidden(m)))
    return {m: sources[m] for m in needed}, withheld, digests, available


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


# ------------------------------------------------------------------------ checking the staged kit

def _token_pattern(ids: Sequence[str]) -> re.Pattern | None:
    if not ids:
        return None
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w.])")


def _no_hidden_ids(stage: Path, hidden: Sequence[rubric_module.CheckEntry]) -> None:
    pattern = _token_pattern([e.id for e in hidden])
    if pattern is None:
        return
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            found = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
            if found:
                raise KitBuildError(f"{path.relative_to(stage)} names the hidden check {found.group(0)!r}: declare "
                                    f"hidden checks in modules of their own (named *{HIDDEN_SUFFIX}.py), which "
                                    "the kit leaves out")


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
own = sorted(k for k, f in kinds.items() if not getattr(f, "__module__", "").startswith("grader."))
print(json.dumps({"checks": checks, "kinds": sorted(kinds), "own": own, "files": files, "modules": modules}))
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
        raise KitBuildError("the kit's checks are not exactly the visible ones"
                            + (f"; also declared: {', '.join(extra)} (declare them in a module named "
                               f"*{HIDDEN_SUFFIX}.py)" if extra else "")
                            + (f"; lost: {', '.join(lost)} (a module named *{HIDDEN_SUFFIX}.py declares them)"
                               if lost else ""))
    missing = sorted(visible_kinds - set(found["kinds"]))
    if missing:
        raise KitBuildError(f"the kit's child lacks the probe kind(s) {', '.join(missing)} of visible checks")
    # the assignment's own kinds (the engine's unittest kind serves hidden unittest checks and ships)
    hidden_only = sorted((_probe_kinds(hidden, assignment.catalog) - visible_kinds) & set(found["own"]))
    if hidden_only:
        raise KitBuildError(f"the kit's probe files register the probe kind(s) {', '.join(hidden_only)} that only "
                            f"hidden checks use: register them in a probe file named *{HIDDEN_SUFFIX}.py")
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

