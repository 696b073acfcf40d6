"""`hw3grade build autograder`: the zip an instructor uploads to Gradescope.

The zip's root holds Gradescope's two entry points and what they need:

    setup.sh                 build step (root, once per upload): a venv in /opt/hw3grade with the
                             runtime dependencies only (never hw3grade itself), then setup_sandbox.sh
    setup_sandbox.sh         the user and permission steps (tests run it on its own): the
                             unprivileged user, the child's runtime, `chmod o=` on source/results;
                             then setup.sh grades examples/correct as the sandbox user (the smoke
                             test, gradescope_entry --smoke) and fails the build unless it gets full marks
    run_autograder           a thin wrapper around grader/build/gradescope_entry.py that writes
                             a valid fallback results.json if Python dies without one
    requirements-gradescope.txt   the runtime dependencies except torch (installed first, from
                             the CPU index)
    hw3grade_build.json      what was built: version, git commit, rubric digest
    pyproject.toml README.md constraints/ci.txt grader/ reference/ student_template/ examples/correct/

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
from pathlib import Path

#: What goes into /autograder/source, relative to the project root (folders are walked).
SOURCE_ITEMS = ("pyproject.toml", "README.md", "constraints/ci.txt", "grader", "reference", "student_template",
                "examples/correct")  # the smoke test's submission (setup.sh)
REQUIRED_ITEMS = ("grader", "reference", "examples/correct")
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "tests", ".git",
              ".venv", "venv", "node_modules", ".ipynb_checkpoints"}  # inside SOURCE_ITEMS (grader/build stays)
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".zip", ".egg-info")
_SKIP_FILES = {".DS_Store", "Thumbs.db"}

#: Defaults written into the scripts (each is a variable at the top of its script).
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"
PREFIX = "/opt/hw3grade"
SANDBOX_USER = "student"
#: Runtime dependencies that grading does not need (the test runner).
NOT_AT_RUNTIME = {"pytest"}
#: What the child's runtime (grader/__init__.py, grader/probes/*.py) may import besides the stdlib.
CHILD_THIRD_PARTY = {"numpy", "torch", "matplotlib"}

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
# (examples/correct, a few fast problems) through the whole flow, the child as the sandbox user.
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

# 2. The child's runtime: grader/__init__.py and grader/probes/*.py only (stdlib, numpy,
#    torch). Nothing of the reference, the checks or the rubric.
mkdir -p "$(dirname "$RUNTIME")"
rm -rf "$RUNTIME.new"
mkdir -p "$RUNTIME.new/grader/probes"
cp "$SOURCE/grader/__init__.py" "$RUNTIME.new/grader/__init__.py"
cp "$SOURCE"/grader/probes/*.py "$RUNTIME.new/grader/probes/"
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
status=0
(cd "$SOURCE" && PYTHONPATH="$SOURCE" exec timeout --signal=KILL "$LIMIT" \
    "$PYTHON" -s -m grader.build.gradescope_entry) || status=$?

# Python exits 0 only after writing results.json itself; anything else may have left a
# partial file or one the submission wrote, so it is replaced.
if [ "$status" -ne 0 ] || [ ! -s "$RESULTS/results.json" ]; then
    echo "hw3grade: the grader exited with status $status without results; writing the fallback results.json"
    case "$status" in
        124|137) reason="it ran out of time (limit ${LIMIT} s)" ;;
        127) reason="its Python ($PYTHON) was not found: rebuild the autograder" ;;
        *) reason="it exited with status $status" ;;
    esac
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
    import grader

    return Path(grader.__file__).resolve().parent.parent


def build_autograder(output: str | os.PathLike = "autograder.zip", *, root: Path | None = None,
                     budget_seconds: float | None = None, torch_requirement: str | None = None,
                     torch_index_url: str = TORCH_INDEX_URL) -> BuildReport:
    """Write the Gradescope autograder zip to `output`; returns what went in."""
    root = Path(root or project_root()).resolve()
    for item in REQUIRED_ITEMS:
        if not (root / item).is_dir():
            raise BuildError(f"{root / item} is missing: build from a source checkout of hw3grade")
    warnings: list[str] = []
    check_child_runtime(root / "grader")
    rubric_text, budget, undeclared = _rubric_facts(root)
    if undeclared:
        warnings.append(f"{len(undeclared)} rubric check(s) have no declaration in grader/checks/ and would be "
                        f"reported as autograder errors: {', '.join(undeclared[:8])}"
                        + (" ..." if len(undeclared) > 8 else ""))
    budget = float(budget_seconds if budget_seconds is not None else budget)
    if budget < 60:
        raise BuildError(f"a budget of {budget:g} s is too short to grade anything (torch alone takes seconds)")
    torch_req, others = runtime_requirements(root)
    torch_req = torch_requirement or torch_req
    values = {"TORCH_REQUIREMENT": torch_req, "TORCH_INDEX_URL": torch_index_url, "PREFIX": PREFIX,
              "SANDBOX_USER": SANDBOX_USER, "BUDGET_SECONDS": str(int(budget))}

    entries: dict[str, tuple[bytes, int]] = {}
    for name, template in SCRIPTS.items():
        entries[name] = (_fill(template, values).encode("utf-8"), 0o755)
    entries["requirements-gradescope.txt"] = (
        ("# runtime dependencies of hw3grade (torch comes first, from TORCH_INDEX_URL in setup.sh)\n"
         + "".join(f"{r}\n" for r in others)).encode("utf-8"), 0o644)
    for rel, path in _source_files(root):
        if rel in entries:
            raise BuildError(f"{rel} in the source clashes with a generated file")
        entries[rel] = (path.read_bytes(), 0o644)
    info = {"name": "hw3grade", "version": _version(root), "git_commit": _git_commit(root),
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
    return BuildReport(output, len(entries), output.stat().st_size, torch_req, tuple(others), tuple(warnings))


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
    files: list[tuple[str, Path]] = []
    for item in SOURCE_ITEMS:
        path = root / item
        if path.is_file():
            files.append((item, path))
        elif path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")
                                 and not os.path.islink(os.path.join(folder, d)))
                for name in sorted(names):
                    full = Path(folder, name)
                    if name in _SKIP_FILES or name.endswith(_SKIP_SUFFIXES) or full.is_symlink():
                        continue
                    files.append((full.relative_to(root).as_posix(), full))
    return files


def _rubric_facts(root: Path) -> tuple[str, float, list[str]]:
    """The packaged rubric's text and budget, and the ids no declaration defines."""
    from grader import rubric as rubric_module
    from grader.checks.catalog import load_checks

    path = root / "grader" / "rubric.yaml"
    rubric = rubric_module.load(path)
    declared = set(load_checks())
    return path.read_text("utf-8"), rubric.limits.budget_seconds, [e.id for e in rubric.checks if e.id not in declared]


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
    from importlib import metadata

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
        from importlib import metadata

        return metadata.version("hw3grade")
    except Exception:
        return "unknown"


def _git_commit(root: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", *SOURCE_ITEMS],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------- the child's runtime

def check_child_runtime(package: Path) -> None:
    """grader/__init__.py and grader/probes/*.py must import only the stdlib, numpy, torch and
    grader.probes: that is all the child finds on Gradescope (setup_sandbox.sh copies just them)."""
    problems = []
    files = [package / "__init__.py", *sorted((package / "probes").glob("*.py"))]
    for path in files:
        for line, name in _imports(path, in_probes=path.parent.name == "probes"):
            top = name.split(".")[0]
            if top == "grader":
                if name not in ("grader", "grader.probes") and not name.startswith("grader.probes."):
                    problems.append(f"{path.relative_to(package.parent)}:{line} imports {name}")
            elif top not in _stdlib() and top not in CHILD_THIRD_PARTY:
                problems.append(f"{path.relative_to(package.parent)}:{line} imports {name}")
    if problems:
        raise BuildError("the child's code may import only the standard library, numpy, torch and "
                         "grader.probes (it runs without the rest of hw3grade):\n  " + "\n  ".join(problems))


def _imports(path: Path, in_probes: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = []
    base = ["grader", "probes"] if in_probes else ["grader"]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[: len(base) - (node.level - 1)]
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
