"""`hw3grade build autograder`: the zip an instructor uploads to Gradescope.

The zip's root holds Gradescope's two entry points and what they need:

    setup.sh                 build step (root, once per upload): a venv in /opt/hw3grade with the
                             runtime dependencies only (never hw3grade itself), then setup_sandbox.sh
    setup_sandbox.sh         the user and permission steps (tests run it on its own): the
                             unprivileged user, the child's runtime, `chmod o=` on source/results;
                             then setup.sh grades smoke-submission/ as the sandbox user (the smoke
                             test, gradescope_entry --smoke) and fails the build unless it gets full marks
    run_autograder           a thin wrapper around grader/build/gradescope_entry.py that writes
                             a valid fallback results.json if Python dies without one
    requirements-gradescope.txt   the runtime dependencies except torch (installed first, from
                             the CPU index)
    hw3grade_build.json      what was built: version, git commit, rubric digest, the assignment's manifest
    pyproject.toml README.md constraints/ci.txt grader/      the engine
    the assignment           its manifest, rubric, reference, template and check packages, probe and
                             unittest files, at the same places relative to each other as in the
                             project (so the manifest's paths resolve inside the source copy)
    smoke-submission/        the reference's modules as a student would upload them (the smoke test's)

Gradescope extracts the zip into /autograder/source and copies run_autograder to
/autograder/run_autograder (docs: SPEC.md section 1-2). The scripts are kept here as
strings, not as package data files, so a wheel install builds the same zip.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

#: The engine's part of /autograder/source, relative to the project root (folders are walked); the
#: assignment's files join it (`assignment_files`).
SOURCE_ITEMS = ("pyproject.toml", "README.md", "constraints/ci.txt", "grader")
REQUIRED_ITEMS = ("grader",)
#: The smoke test's submission in the source: the reference as a student upload (setup.sh grades it).
SMOKE_SUBMISSION = "smoke-submission"
#: Where setup_sandbox.sh copies the assignment's probe files in the child's runtime (a folder name
#: no import can reach: the child loads them by path).
RUNTIME_PROBES = "assignment-probes"
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "tests", ".git",
              ".venv", "venv", "node_modules", ".ipynb_checkpoints"}  # inside the folders walked (grader/build stays)
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".zip", ".egg-info")
_SKIP_FILES = {".DS_Store", "Thumbs.db"}

#: Defaults written into the scripts (each is a variable at the top of its script).
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"
PREFIX = "/opt/hw3grade"
SANDBOX_USER = "student"
#: Runtime dependencies that grading does not need (the test runner).
NOT_AT_RUNTIME = {"pytest"}
#: What the child's runtime (grader/__init__.py, grader/probes/*.py, grader/supervision/*.py, the
#: assignment's probe files) may import besides the stdlib.
CHILD_THIRD_PARTY = {"numpy", "torch", "matplotlib"}
#: The grader's packages in the child's runtime.
CHILD_PACKAGES = ("probes", "supervision")

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same tree always gives the same zip


class BuildError(Exception):
    """The autograder cannot be built (message for the instructor)."""


@dataclass(frozen=True)
class BuildReport:
    path: Path
    files: int
    size: int
    torch_requirement: str
    requirements: tuple[str, ...]
    warnings: tuple[str, ...]
    assignment: str = ""      # the assignment's name
    points: float = 0.0       # what Gradescope will show as the total: the rubric's checks and the unittest files'
    rubric_points: float = 0.0   # limits.total_points: the rubric's own checks


# ---------------------------------------------------------------- the scripts

SETUP_SH = r"""#!/usr/bin/env bash
# hw3grade: Gradescope's build step. Runs once, as root, when the autograder zip is uploaded
# (Ubuntu 22.04 image, system python3). Installs the runtime dependencies into a venv,
# never hw3grade itself: student code runs with that venv and must not find the reference.
set -euo pipefail

# ---- the torch build: edit here (the CPU wheel is small and Gradescope has no GPU) --------
TORCH_REQUIREMENT="${HW3GRADE_TORCH_REQUIREMENT:-@@TORCH_REQUIREMENT@@}"
TORCH_INDEX_URL="${HW3GRADE_TORCH_INDEX_URL:-@@TORCH_INDEX_URL@@}"
# ---------------------------------------------------------------------------------------------
PREFIX="${HW3GRADE_PREFIX:-@@PREFIX@@}"
SYSTEM_PYTHON="${HW3GRADE_SYSTEM_PYTHON:-python3}"
export HW3GRADE_ROOT="${HW3GRADE_ROOT:-/autograder}"
export HW3GRADE_PROBE_RUNTIME="${HW3GRADE_PROBE_RUNTIME:-$PREFIX/probe-runtime}"
export HW3GRADE_SANDBOX_USER="${HW3GRADE_SANDBOX_USER-@@SANDBOX_USER@@}"
SOURCE="$HW3GRADE_ROOT/source"
export HW3GRADE_ASSIGNMENT="$SOURCE/@@MANIFEST@@"
VENV="$PREFIX/venv"

echo "hw3grade setup: venv $VENV, $TORCH_REQUIREMENT from $TORCH_INDEX_URL"
if ! "$SYSTEM_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 \
        || ! "$SYSTEM_PYTHON" -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv python3-pip
fi

umask 022
mkdir -p "$PREFIX"
"$SYSTEM_PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
"${PIP[@]}" --index-url "$TORCH_INDEX_URL" "$TORCH_REQUIREMENT"
"${PIP[@]}" -r "$SOURCE/requirements-gradescope.txt"
"$VENV/bin/python" -c 'import torch, numpy, yaml, matplotlib, rich, psutil, jsonschema; print("hw3grade setup: torch", torch.__version__, "numpy", numpy.__version__)'
chmod -R a+rX "$PREFIX"

bash "$SOURCE/setup_sandbox.sh"

# Prove the install before the first student submits: grade the bundled correct submission
# (the reference as a student upload, on the assignment's smoke_checks) through the whole flow,
# the child as the sandbox user.
# Anything short of full marks fails the build here, with a plain message.
if ! (cd "$SOURCE" && PYTHONPATH="$SOURCE" "$VENV/bin/python" -s -m grader.build.gradescope_entry --smoke); then
    echo "hw3grade setup: FAILED: the smoke test above did not give the correct submission full marks" >&2
    exit 1
fi
echo "hw3grade setup: done"
"""

SETUP_SANDBOX_SH = r"""#!/usr/bin/env bash
# hw3grade: the user and permission steps of setup.sh, on their own so that tests can run them
# in a temporary root. Idempotent. run_autograder repeats the chmods at every run.
#
#   HW3GRADE_ROOT            /autograder (holds source/, results/)
#   HW3GRADE_PROBE_RUNTIME   where the child's code is copied (world-readable)
#   HW3GRADE_SANDBOX_USER    the unprivileged user student code runs as ("" = none: tests, laptops)
set -euo pipefail
ROOT="${HW3GRADE_ROOT:-/autograder}"
SOURCE="$ROOT/source"
RUNTIME="${HW3GRADE_PROBE_RUNTIME:-@@PREFIX@@/probe-runtime}"
SANDBOX_USER="${HW3GRADE_SANDBOX_USER-@@SANDBOX_USER@@}"
export PATH="$PATH:/usr/sbin:/sbin"

# 1. The unprivileged user: no home, no password, no login shell, its own group.
if [ -n "$SANDBOX_USER" ]; then
    if ! id -u "$SANDBOX_USER" >/dev/null 2>&1; then
        if command -v useradd >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$SANDBOX_USER"
        else
            adduser --system --group --no-create-home --home /nonexistent \
                --shell /usr/sbin/nologin --disabled-password "$SANDBOX_USER"
        fi
    fi
    if [ "$(id -u "$SANDBOX_USER")" = "0" ]; then
        echo "hw3grade: the sandbox user $SANDBOX_USER is root; refusing" >&2
        exit 1
    fi
fi

# 2. The child's runtime: grader/__init__.py, grader/probes/*.py, grader/supervision/*.py (the
#    child's prctl and signal policy) and the assignment's probe files only (stdlib, numpy, torch).
#    Nothing of the reference, the checks or the rubric.
mkdir -p "$(dirname "$RUNTIME")"
rm -rf "$RUNTIME.new"
mkdir -p "$RUNTIME.new/grader/probes" "$RUNTIME.new/grader/supervision"
cp "$SOURCE/grader/__init__.py" "$RUNTIME.new/grader/__init__.py"
cp "$SOURCE"/grader/probes/*.py "$RUNTIME.new/grader/probes/"
cp "$SOURCE"/grader/supervision/*.py "$RUNTIME.new/grader/supervision/"
for probe in @@PROBE_FILES@@; do
    mkdir -p "$(dirname "$RUNTIME.new/@@RUNTIME_PROBES@@/$probe")"
    cp "$SOURCE/$probe" "$RUNTIME.new/@@RUNTIME_PROBES@@/$probe"
done
chmod -R u=rwX,go=rX "$RUNTIME.new"
rm -rf "$RUNTIME"
mv "$RUNTIME.new" "$RUNTIME"

# 3. Hidden from the student's user: the whole source (reference, rubric) and the results.
chmod -R o= "$SOURCE"
mkdir -p "$ROOT/results"
chmod o= "$ROOT/results"
echo "hw3grade setup: sandbox user '${SANDBOX_USER:-<current user>}', child runtime $RUNTIME"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# hw3grade: grades $HW3GRADE_ROOT/submission into $HW3GRADE_ROOT/results/results.json.
# The grading is Python (grader/build/gradescope_entry.py). This wrapper only guarantees that a
# valid results.json exists at the end, even when Python cannot start, hangs or is killed.
set -u
export HW3GRADE_ROOT="${HW3GRADE_ROOT:-/autograder}"
export HW3GRADE_BUDGET_SECONDS="${HW3GRADE_BUDGET_SECONDS:-@@BUDGET_SECONDS@@}"
PYTHON="${HW3GRADE_PYTHON:-@@PREFIX@@/venv/bin/python}"
SOURCE="$HW3GRADE_ROOT/source"
RESULTS="$HW3GRADE_ROOT/results"
export HW3GRADE_ASSIGNMENT="$SOURCE/@@MANIFEST@@"
export PATH="$PATH:/usr/sbin:/sbin"

mkdir -p "$RESULTS" 2>/dev/null
chmod o= "$RESULTS" 2>/dev/null
chmod -R o= "$SOURCE" 2>/dev/null
rm -f "$RESULTS/results.json"

# Python keeps to the budget itself; `timeout` is the last resort, still before Gradescope's limit.
case "${HW3GRADE_BUDGET_SECONDS%.*}" in
    ''|*[!0-9]*) echo "hw3grade: HW3GRADE_BUDGET_SECONDS=$HW3GRADE_BUDGET_SECONDS is not a number; using @@BUDGET_SECONDS@@"
                 export HW3GRADE_BUDGET_SECONDS=@@BUDGET_SECONDS@@ ;;
esac
LIMIT=$(( ${HW3GRADE_BUDGET_SECONDS%.*} + 10 ))
# The kernel's count of out-of-memory kills in this cgroup (v2; "" where it cannot be read).
oom_kills() { awk '$1 == "oom_kill" {print $2}' /sys/fs/cgroup/memory.events 2>/dev/null; }
oom_before=$(oom_kills)
started=$SECONDS
status=0
(cd "$SOURCE" && PYTHONPATH="$SOURCE" exec timeout --signal=KILL "$LIMIT" \
    "$PYTHON" -s -m grader.build.gradescope_entry) || status=$?
elapsed=$(( SECONDS - started ))

# Python exits 0 only after writing results.json itself; anything else may have left a
# partial file or one the submission wrote, so it is replaced.
if [ "$status" -ne 0 ] || [ ! -s "$RESULTS/results.json" ]; then
    echo "hw3grade: the grader exited with status $status without results; writing the fallback results.json"
    # The real cause: memory (the kernel's OOM kill, or a SIGKILL before the time limit), time, or a crash.
    signal=""
    if [ "$status" -gt 128 ]; then signal="SIG$(kill -l $(( status - 128 )) 2>/dev/null || echo $(( status - 128 )))"; fi
    oom_after=$(oom_kills)
    if [ -n "$oom_before" ] && [ -n "$oom_after" ] && [ "$oom_after" -gt "$oom_before" ]; then
        reason="it ran out of memory: the kernel's out-of-memory killer stopped it after ${elapsed} s"
    elif [ "$status" -eq 124 ] || { [ "$status" -eq 137 ] && [ "$elapsed" -ge "$LIMIT" ]; }; then
        reason="it ran out of time: stopped at the limit of ${LIMIT} s"
    elif [ "$status" -eq 137 ] && [ -n "$oom_after" ]; then
        reason="it was killed (SIGKILL) after ${elapsed} s, before the time limit of ${LIMIT} s, and not for memory (the kernel counted no out-of-memory kill)"
    elif [ "$status" -eq 137 ]; then
        reason="it was killed (SIGKILL) after ${elapsed} s, before the time limit of ${LIMIT} s: most likely out of memory (the system's out-of-memory killer)"
    elif [ "$status" -eq 127 ]; then
        reason="its Python ($PYTHON) was not found: rebuild the autograder"
    elif [ -n "$signal" ]; then
        reason="it crashed: killed by $signal after ${elapsed} s (exit status $status)"
    elif [ "$status" -eq 0 ]; then
        reason="it exited after ${elapsed} s without writing results.json"
    else
        reason="it exited with status $status after ${elapsed} s"
    fi
    reason=${reason//\\/\/}; reason=${reason//\"/\'}   # JSON-safe: no backslash, no double quote
    message="The autograder could not grade this submission because of an error in the autograder. This is not a problem with your submission: please contact the instructor."
    cat > "$RESULTS/.results.json.tmp" <<EOF
{
 "score": 0,
 "execution_time": 0,
 "output": "$message",
 "output_format": "simple_format",
 "stdout_visibility": "hidden",
 "tests": [
  {"name": "Autograder error", "score": 0, "max_score": 0, "status": "failed", "visibility": "visible",
   "output": "$message", "number": "1"},
  {"name": "Autograder error: technical details", "score": 0, "max_score": 0, "status": "failed",
   "visibility": "hidden", "output": "The grader process did not finish: $reason. See the autograder output.", "number": "2"}
 ]
}
EOF
    mv -f "$RESULTS/.results.json.tmp" "$RESULTS/results.json"
fi
exit 0
"""

SCRIPTS = {"setup.sh": SETUP_SH, "setup_sandbox.sh": SETUP_SANDBOX_SH, "run_autograder": RUN_AUTOGRADER}


# ---------------------------------------------------------------- building

def project_root() -> Path:
    """The folder holding the `grader` package (the repository in a development install)."""
    import grader   # here, as every engine import of this module: see build_autograder

    return Path(grader.__file__).resolve().parent.parent


def build_autograder(output: str | os.PathLike = "autograder.zip", *, root: Path | None = None,
                     budget_seconds: float | None = None, torch_requirement: str | None = None,
                     torch_index_url: str = TORCH_INDEX_URL, assignment=None) -> BuildReport:
    """Write the Gradescope autograder zip of `assignment` (default: the default one) to `output`;
    returns what went in. `root` is the engine's project folder (default: the one holding `grader`)."""
    # The engine is imported in the functions of this module, not at its top: the Gradescope entry
    # imports this module's constants, and must write its fallback results even if the engine cannot import.
    from grader.assignment import AssignmentError, default

    root = Path(root or project_root()).resolve()
    for item in REQUIRED_ITEMS:
        if not (root / item).is_dir():
            raise BuildError(f"{root / item} is missing: build from a source checkout of hw3grade")
    try:
        assignment = assignment or default()
        placed, manifest = assignment_files(assignment)
    except AssignmentError as exc:
        raise BuildError(str(exc)) from None
    warnings: list[str] = []
    probes = [(rel, path, name) for name, path in assignment.probe_files().items()
              for rel in [_relative_in(placed, Path(path))]]
    check_child_runtime(root / "grader", [(path, name) for _, path, name in probes])
    rubric_text, budget, undeclared, points = _rubric_facts(assignment)
    if undeclared:
        warnings.append(f"{len(undeclared)} rubric check(s) have no declaration in {assignment.checks} and would "
                        f"be reported as autograder errors: {', '.join(undeclared[:8])}"
                        + (" ..." if len(undeclared) > 8 else ""))
    if assignment.unittests:
        warnings.append(f"{assignment.manifest.name} lists unittests: their tests run in the same process as the "
                        "student's code, which can patch what a verdict rests on; the grader catches the known "
                        "ways (README.md, \"A unittest's verdict\") but cannot make it impossible: check "
                        "surprising passes by hand, or write checks that judge in the grader")
    if not assignment.smoke_checks:
        warnings.append(f"{assignment.manifest.name} lists no smoke_checks: setup.sh cannot prove the install "
                        "by grading the reference")
    budget = float(budget_seconds if budget_seconds is not None else budget)
    if budget < 60:
        raise BuildError(f"a budget of {budget:g} s is too short to grade anything (torch alone takes seconds)")
    torch_req, others = runtime_requirements(root)
    torch_req = torch_requirement or torch_req
    values = {"TORCH_REQUIREMENT": torch_req, "TORCH_INDEX_URL": torch_index_url, "PREFIX": PREFIX,
              "SANDBOX_USER": SANDBOX_USER, "BUDGET_SECONDS": str(int(budget)), "MANIFEST": manifest,
              "PROBE_FILES": " ".join(rel for rel, _, _ in probes), "RUNTIME_PROBES": RUNTIME_PROBES}

    entries: dict[str, tuple[bytes, int]] = {}
    for name, template in SCRIPTS.items():
        entries[name] = (_fill(template, values).encode("utf-8"), 0o755)
    entries["requirements-gradescope.txt"] = (
        ("# runtime dependencies of hw3grade (torch comes first, from TORCH_INDEX_URL in setup.sh)\n"
         + "".join(f"{r}\n" for r in others)).encode("utf-8"), 0o644)
    for rel, text in reference_as_upload(assignment).items():
        entries[f"{SMOKE_SUBMISSION}/{rel}"] = (text.encode("utf-8"), 0o644)
    for rel, path in [*_source_files(root), *placed]:
        if rel in entries:
            raise BuildError(f"{rel} in the source clashes with a file the build writes "
                             "or another one of the same path")
        entries[rel] = (path.read_bytes(), 0o644)
    info = {"name": "hw3grade", "version": _version(root), "git_commit": _git_commit(root, [p for _, p in placed]),
            "assignment": manifest, "assignment_name": assignment.name,
            "assignment_git_commit": _git_commit(assignment.manifest.parent, ["."]),   # the course's repository
            "points": points[0],
            "rubric_sha256": hashlib.sha256(rubric_text.encode("utf-8")).hexdigest(),
            "budget_seconds": int(budget), "torch_requirement": torch_req, "torch_index_url": torch_index_url}
    entries["hw3grade_build.json"] = ((json.dumps(info, indent=1, sort_keys=True) + "\n").encode("utf-8"), 0o644)

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for folder in sorted({str(Path(n).parent) for n in entries} - {"."}, key=lambda d: d.count("/")):
            for parent in _parents(folder):
                if parent + "/" not in zf.namelist():
                    zf.writestr(_info(parent + "/", 0o755, directory=True), b"")
        for name in sorted(entries):
            data, mode = entries[name]
            zf.writestr(_info(name, mode), data)
    os.replace(tmp, output)
    return BuildReport(output, len(entries), output.stat().st_size, torch_req, tuple(others), tuple(warnings),
                       assignment.name, *points)


# ---------------------------------------------------------------- the assignment's part of the source

#: Paths the scripts name must be plain (they are written into bash, between double quotes).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/-]*")


def assignment_files(assignment) -> tuple[list[tuple[str, Path]], str]:
    """([(path in the source, file)], the manifest's path in the source) of `assignment`.

    Its manifest, rubric, reference, template and check packages (the packages above a dotted
    one too), probe and unittest files, placed relative to the folder they all share (the import
    root, for an assignment whose files live under it), so that the manifest's relative paths
    resolve inside the autograder's source as they do in the project.
    """
    from grader.assignment import package_dir   # here: see build_autograder

    root = assignment.import_root
    folders: list[Path] = []
    files: list[Path] = [assignment.manifest, assignment.rubric_path, *assignment.probes, *assignment.unittests]
    for package in dict.fromkeys((assignment.reference, assignment.template, assignment.checks)):
        folders.append(package_dir(package, root))
        parts = package.split(".")
        for depth in range(1, len(parts)):
            init = root.joinpath(*parts[:depth], "__init__.py")
            if init.is_file():
                files.append(init)
    for path in [*assignment.probes, *assignment.unittests]:   # the packages they sit in, if any
        for folder in path.parents:
            if folder == root or not folder.is_relative_to(root):
                break
            if (folder / "__init__.py").is_file():
                files.append(folder / "__init__.py")
    for path in files:
        if not path.is_file():
            raise BuildError(f"{path}, named by {assignment.manifest}, is missing")
    base = Path(os.path.commonpath([root, *(p.parent for p in files), *folders]))
    placed: dict[str, Path] = {}
    for path in files:
        placed.setdefault(path.relative_to(base).as_posix(), path)
    for folder in folders:
        for rel, path in _walk(folder, base):
            placed.setdefault(rel, path)
    for rel in placed:
        if not _PLAIN_PATH.fullmatch(rel) or "/../" in f"/{rel}/":
            raise BuildError(f"{placed[rel]}: the autograder's scripts name files by plain paths only "
                             f"(letters, digits, _ . + - /); rename {rel!r}")
    return sorted(placed.items()), assignment.manifest.relative_to(base).as_posix()


def _relative_in(placed: list[tuple[str, Path]], path: Path) -> str:
    for rel, where in placed:
        if where == path:
            return rel
    raise BuildError(f"{path} is not part of the autograder's source")


def reference_as_upload(assignment) -> dict[str, str]:
    """{file name: text}: the reference's modules as a student would upload them (one folder, no
    package: `from <reference>.x import` and `from .x import` become `from x import`)."""
    from grader.assignment import package_dir   # here: see build_autograder

    folder = package_dir(assignment.reference, assignment.import_root)
    package = re.escape(assignment.reference)
    found = {}
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        text = re.sub(rf"\bfrom (?:{package})?\.(\w+) import", r"from \1 import", text)
        text = re.sub(rf"\bimport {package}\.(\w+)", r"import \1", text)
        found[path.name] = text
    missing = [m for m in assignment.modules if f"{m}.py" not in found]
    if missing:
        raise BuildError(f"the reference {assignment.reference} lacks the template's module(s) {', '.join(missing)}")
    return found


def _fill(template: str, values: dict[str, str]) -> str:
    text = template
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    leftover = re.findall(r"@@\w+@@", text)
    if leftover:
        raise BuildError(f"unfilled placeholders in a script: {leftover}")
    if "\r" in text:
        raise BuildError("a script has CR line endings")
    return text


def _parents(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _info(name: str, mode: int, directory: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.create_system = 3  # Unix: unzip then honours the mode bits below
    info.external_attr = ((stat.S_IFDIR if directory else stat.S_IFREG) | mode) << 16
    if directory:
        info.external_attr |= 0x10  # MS-DOS directory flag
    info.compress_type = zipfile.ZIP_STORED if directory else zipfile.ZIP_DEFLATED
    return info


def _source_files(root: Path) -> list[tuple[str, Path]]:
    """The engine's files (SOURCE_ITEMS), relative to the project root."""
    files: list[tuple[str, Path]] = []
    for item in SOURCE_ITEMS:
        path = root / item
        if path.is_file():
            files.append((item, path))
        elif path.is_dir():
            files += _walk(path, root)
    return files


def _walk(folder: Path, base: Path) -> list[tuple[str, Path]]:
    """Every file under `folder` but caches, tests, VCS and symlinks: (path relative to base, file)."""
    files: list[tuple[str, Path]] = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")
                         and not os.path.islink(os.path.join(parent, d)))
        for name in sorted(names):
            full = Path(parent, name)
            if name in _SKIP_FILES or name.endswith(_SKIP_SUFFIXES) or full.is_symlink():
                continue
            files.append((full.relative_to(base).as_posix(), full))
    return files


def _rubric_facts(assignment) -> tuple[str, float, list[str], tuple[float, float]]:
    """The assignment's rubric text and budget, the ids no declaration defines, and (the points
    Gradescope will total, limits.total_points); its smoke_checks must each name a check or a
    problem of the rubric."""
    rubric = assignment.load_rubric()
    declared = set(assignment.catalog)
    known = {e.id for e in rubric.checks} | set(rubric.problem_keys)
    unknown = [s for s in assignment.smoke_checks if s not in known]
    if unknown:
        raise BuildError(f"{assignment.manifest}: smoke_checks names no check or problem of the rubric: "
                         f"{', '.join(unknown)}")
    points = (round(sum(e.points for e in rubric.checks), 6), rubric.limits.total_points)
    return (assignment.rubric_path.read_text("utf-8"), rubric.limits.budget_seconds,
            [e.id for e in rubric.checks if e.id not in declared], points)


def runtime_requirements(root: Path) -> tuple[str, list[str]]:
    """(the torch requirement, the other runtime requirements) from pyproject.toml.

    torch is pinned by constraints/ci.txt when it pins it (the build CI tested), else it
    keeps pyproject's range. The test runner (pytest) is left out: grading does not use it.
    """
    deps = _dependencies(root)
    torch = next((d for d in deps if _req_name(d) == "torch"), "torch")
    constraints = root / "constraints" / "ci.txt"
    if constraints.is_file():
        for line in constraints.read_text("utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if _req_name(line) == "torch" and "==" in line:
                torch = line
    others = [d for d in deps if _req_name(d) not in NOT_AT_RUNTIME | {"torch"}]
    return torch, others


def _dependencies(root: Path) -> list[str]:
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text("utf-8")
        match = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", text, re.S | re.M)
        if match:
            return [m for m in re.findall(r"""["']([^"']+)["']""", re.sub(r"#.*", "", match.group(1)))]
    try:
        return [r for r in metadata.requires("hw3grade") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        raise BuildError("cannot find hw3grade's dependencies (no pyproject.toml, not installed)") from None


def _req_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def _version(root: Path) -> str:
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text("utf-8"), re.M)
        if match:
            return match.group(1)
    try:
        return metadata.version("hw3grade")
    except Exception:
        return "unknown"


def _git_commit(root: Path, extra: Sequence[str | Path] = ()) -> str:
    """HEAD of the repository holding `root` ("-dirty" when its source or `extra` has changes), or ""."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", *SOURCE_ITEMS, *map(str, extra)],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------- the child's runtime

def check_child_runtime(package: Path, probe_files: Sequence[tuple[Path, str]] = ()) -> None:
    """grader/__init__.py, grader/probes/*.py, grader/supervision/*.py and the assignment's probe files
    ((path, the module name the child loads it as)) must import only the stdlib, numpy, torch,
    grader.probes and grader.supervision: that is all the child finds on Gradescope (setup_sandbox.sh
    copies just them)."""
    problems = []
    files = [(package / "__init__.py", ["grader"]),
             *((p, ["grader", folder]) for folder in CHILD_PACKAGES for p in sorted((package / folder).glob("*.py"))),
             *((Path(p), name.split(".")[:-1]) for p, name in probe_files)]
    for path, base in files:
        shown = path.relative_to(package.parent) if path.is_relative_to(package.parent) else path
        for line, name in _imports(path, base):
            top = name.split(".")[0]
            if top == "grader":
                if name != "grader" and name.split(".")[1] not in CHILD_PACKAGES:
                    problems.append(f"{shown}:{line} imports {name}")
            elif top not in _stdlib() and top not in CHILD_THIRD_PARTY:
                problems.append(f"{shown}:{line} imports {name}")
    if problems:
        raise BuildError("the child's code may import only the standard library, numpy, torch, "
                         "grader.probes and grader.supervision (it runs without the rest of hw3grade):\n  " + "\n  ".join(problems))


def _imports(path: Path, base: list[str]) -> list[tuple[int, str]]:
    """(line, module) of every import; relative ones resolved against the package `base`."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[: len(base) - (node.level - 1)] if node.level - 1 <= len(base) else []
                if not prefix:
                    found.append((node.lineno, "." * node.level + (node.module or "")))
                    continue
                module = ".".join(prefix + ([node.module] if node.module else []))
                if node.module:
                    found.append((node.lineno, module))
                else:
                    found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            elif node.module and node.module != "__future__":
                found.append((node.lineno, node.module))
    return found


def _stdlib() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)  # 3.10+
    return frozenset(names) | {"__future__"} if names else frozenset({"__future__"})
