"""`hw3grade build autograder` end to end: the zip, Gradescope's layout, hostile submissions.

Each end-to-end case builds the layout Gradescope makes from the zip in a fresh temp root
(ROOT/source = the zip's contents, ROOT/run_autograder, ROOT/submission, ROOT/results),
runs setup_sandbox.sh (setup.sh's user and permission steps; not its apt/pip part), then
ROOT/run_autograder with HW3GRADE_ROOT=ROOT and this venv's Python in place of
/opt/hw3grade/venv, and checks results.json with Gradescope's validate.py.

Run as root (with runuser), the child runs as a real unprivileged user, `hw3test` (one per xdist worker),
created by setup_sandbox.sh like `student` on Gradescope: the confidentiality checks
need that and are skipped otherwise. Most cases grade Problem 3 only
(HW3GRADE_PROBLEMS); one grades everything.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
import re
import shutil
import site
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hw3testing import write_submission
from grader.build import autograder, gradescope_entry
from tests.hw3testing import HW3

REPO = Path(__file__).resolve().parents[2]
#: One sandbox user per pytest-xdist worker: the Gradescope flow ends every process of its sandbox
#: user and sweeps what that user left, so two workers grading as one user would end each other's.
TEST_USER = "hw3test" + os.environ.get("PYTEST_XDIST_WORKER", "").replace("gw", "-")
SECRET_REFERENCE = "# REFERENCE-SECRET-4b1d: only the parent may read this line"
SECRET_RUBRIC = "# RUBRIC-SECRET-9c2e"
SECRET_METADATA = "METADATA-SECRET-77aa"
FAKE_MARKER = "FAKE-RESULTS-MARKER"
P3_TOTAL = 6.0            # Problem 3's points (rubric.yaml)
P3_ONEHOT = 2.0           # its two ce_scaled_onehot checks
RUN_TIMEOUT = 600


def _find_validate() -> Path | None:
    tools = os.environ.get("HW3GRADE_GRADESCOPE_TOOLS")
    if tools:
        return Path(tools) / "validate.py"
    for folder in (REPO, *REPO.parents):
        candidate = folder / "shared" / "tools" / "gradescope" / "validate.py"
        if candidate.is_file():
            return candidate
    return None


VALIDATE = _find_validate()
_VALIDATING = threading.Lock()   # its output is caught by swapping sys.stdout: one validation at a time


@functools.cache
def _validator():
    spec = importlib.util.spec_from_file_location("gradescope_validate", VALIDATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validate(path: Path) -> None:
    """Gradescope's contract (SPEC.md section 8), via the shared validator (its main(), as `python validate.py PATH`
    runs it, in this process: a Python start less per results.json); else our own checks."""
    data = json.loads(path.read_text("utf-8"))
    if VALIDATE is None or not VALIDATE.is_file():
        from grader.report.gradescope import validate_results

        assert validate_results(data) == [], f"{path} is not valid (shared validate.py not found)"
        return
    said = io.StringIO()
    with _VALIDATING, contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        status = _validator().main([str(path)])
    assert status == 0, f"validate.py rejects {path}:\n{said.getvalue()}"


# ---------------------------------------------------------------- the sandbox user and its Python

@dataclass(frozen=True)
class Isolation:
    user: str          # "" = the child runs as the current user
    python: str        # the child's interpreter
    reason: str = ""   # why the child is not isolated

    @property
    def isolated(self) -> bool:
        return bool(self.user)


def _runuser() -> str | None:
    return shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)),
                                           None)


def _can_import_torch(user: str, python: str) -> bool:
    run = subprocess.run([_runuser(), "-u", user, "--", python, "-s", "-c", "import numpy, torch"],
                         capture_output=True, text=True, timeout=300, cwd="/")
    return run.returncode == 0


def _shim_python(folder: Path) -> str | None:
    """A Python the test user can run, with this venv's packages, when this venv's own
    interpreter lives where it cannot go (pyenv under /root, mode 0700).

    A venv of a system Python of the same version, whose site-packages lists ours (a plain
    path in a .pth: the editable install of hw3grade, itself a .pth, stays inactive).
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for base in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}", shutil.which(f"python{version}")):
        if not base or not os.access(base, os.X_OK) or Path(base).resolve().is_relative_to("/root"):
            continue
        venv = folder / "child-venv"
        if subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], capture_output=True).returncode != 0:
            continue
        paths = [p for p in site.getsitepackages() if Path(p).is_dir()]
        check = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)
        if check.returncode != 0 or check.stdout.strip() != str(sys.version_info[:2]):
            continue
        site_dir = subprocess.run([str(venv / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"],
                                  capture_output=True, text=True).stdout.strip()
        (Path(site_dir) / "hw3grade-test-deps.pth").write_text("".join(f"{p}\n" for p in paths))
        subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
        return str(venv / "bin" / "python")
    return None


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory) -> Path:
    return autograder.build_autograder(tmp_path_factory.mktemp("build") / "autograder.zip").path


@pytest.fixture(scope="module")
def base_dir():
    """A world-traversable temp folder (pytest's own are 0700: the test user could not enter)."""
    base = Path(tempfile.mkdtemp(prefix="hw3grade-gradescope-test-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def isolation(zip_path, base_dir) -> Isolation:
    """Root + runuser: the test user (made by setup_sandbox.sh) and a Python it can run."""
    return probe_isolation(base_dir, lambda: GradescopeRoot.make(
        zip_path, base_dir / "isolation-probe", Isolation(TEST_USER, sys.executable)).setup())


def probe_isolation(base: Path, run_setup) -> Isolation:
    """The test user and a Python it can run, or why not; `run_setup()` runs a layout's
    setup_sandbox.sh, which creates the user."""
    if os.geteuid() != 0:
        return Isolation("", sys.executable, "the tests do not run as root (needed to create a user and runuser)")
    if _runuser() is None:
        return Isolation("", sys.executable, "runuser is not installed")
    run_setup()
    if _can_import_torch(TEST_USER, sys.executable):
        return Isolation(TEST_USER, sys.executable)
    shim_dir = base / "shim"
    shim_dir.mkdir(mode=0o755)
    shim = _shim_python(shim_dir)
    if shim and _can_import_torch(TEST_USER, shim):
        return Isolation(TEST_USER, shim)
    return Isolation("", sys.executable, f"the user {TEST_USER} cannot run a Python with torch ({sys.executable} "
                                         "lives where it cannot go, and no system Python of the same version works)")


def needs_isolation(isolation: Isolation) -> None:
    if not isolation.isolated:
        pytest.skip(f"confidentiality needs the child to run as another user: {isolation.reason}")


# ---------------------------------------------------------------- Gradescope's layout, in a temp root

@dataclass
class GradescopeRoot:
    root: Path
    runtime: Path
    spy: Path               # world-writable: where hostile submissions leave traces for the test
    isolation: Isolation
    extra_env: dict = field(default_factory=dict)

    @classmethod
    def make(cls, zip_path: Path, folder: Path, isolation: Isolation) -> "GradescopeRoot":
        folder.mkdir(mode=0o755)
        root = folder / "autograder"
        root.mkdir(mode=0o755)
        extract(zip_path, root / "source")
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        (root / "results").mkdir()
        spy = folder / "spy"
        spy.mkdir()
        spy.chmod(0o777)
        # secrets that no submission may ever see
        with open(root / "source" / "reference" / "losses.py", "a") as f:
            f.write(f"\n{SECRET_REFERENCE}\n")
        with open(root / "source" / "hw3" / "rubric.yaml", "a") as f:
            f.write(f"\n{SECRET_RUBRIC}\n")
        return cls(root, folder / "probe-runtime", spy, isolation)

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HW3GRADE_")}
        env.update({"HW3GRADE_ROOT": str(self.root), "HW3GRADE_PROBE_RUNTIME": str(self.runtime),
                    "HW3GRADE_SANDBOX_USER": self.isolation.user, "HW3GRADE_PYTHON": sys.executable,
                    "HW3GRADE_CHILD_PYTHON": self.isolation.python})
        env.update(self.extra_env)
        env.update(extra)
        return env

    def setup(self) -> None:
        run = subprocess.run(["bash", str(self.root / "source" / "setup_sandbox.sh")], env=self.env(),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr

    def submit(self, **kwargs) -> Path:
        return write_submission(self.root / "submission", **kwargs)

    def run(self, problems: str | None = "P3", **extra: str) -> tuple[subprocess.CompletedProcess, dict]:
        env = self.env(**extra)
        if problems:
            env["HW3GRADE_PROBLEMS"] = problems
        run = subprocess.run([str(self.root / "run_autograder")], env=env, cwd=self.root, capture_output=True,
                             text=True, timeout=RUN_TIMEOUT)
        assert run.returncode == 0, run.stdout + run.stderr
        assert self.results.is_file(), f"no results.json\n{run.stdout}\n{run.stderr}"
        validate(self.results)
        return run, json.loads(self.results.read_text("utf-8"))


def extract(zip_path: Path, dest: Path) -> None:
    """Unzip keeping the modes recorded in the zip (as unzip does)."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)


@pytest.fixture
def gs(zip_path, base_dir, isolation, request) -> GradescopeRoot:
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base_dir))
    folder.chmod(0o755)
    layout = GradescopeRoot.make(zip_path, folder / "case", isolation)
    layout.setup()
    return layout


def by_test_name(results: dict) -> dict[str, dict]:
    return {t["name"]: t for t in results["tests"]}


def ce_tests(results: dict) -> list[dict]:
    return [t for t in results["tests"] if t["name"].startswith("P3 cross_entropy")]


def hostile(gs: GradescopeRoot, body: str) -> Path:
    """A correct submission whose cross_entropy first runs `body` (ROOT, SPY and ISOLATED are defined)."""
    patch = (f"import os as _os, sys as _sys, json as _json, time as _time, signal as _signal\n"
             f"ROOT = {str(gs.root)!r}\nSPY = {str(gs.spy)!r}\nISOLATED = {gs.isolation.isolated!r}\n"
             "_reference_cross_entropy = cross_entropy\n\n"
             "def _attack():\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n\n"
             "def cross_entropy(f, y):\n    _attack()\n    return _reference_cross_entropy(f, y)\n")
    return gs.submit(patch={"losses": patch})


# ---------------------------------------------------------------- the zip

def test_zip_layout(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder", "setup_sandbox.sh"):
            info = infos[script]
            assert (info.external_attr >> 16) == (stat.S_IFREG | 0o755), script
            data = zf.read(info)
            assert b"\r" not in data and data.startswith(b"#!/usr/bin/env bash\n"), script
            assert b"@@" not in data, f"{script} has an unfilled placeholder"
        for required in ("pyproject.toml", "README.md", "constraints/ci.txt", "grader/__init__.py",
                         "grader/probes/child.py", "grader/build/gradescope_entry.py", "hw3/rubric.yaml",
                         "hw3/assignment.yaml", "hw3/__init__.py", "hw3/checks/p3.py", "hw3/probes/training.py",
                         "reference/losses.py", "student_template/losses.py", "requirements-gradescope.txt",
                         "smoke-submission/losses.py", "hw3grade_build.json"):
            assert required in names, required
        assert not [n for n in names if n.startswith(("tests/", ".git", ".venv")) or "__pycache__" in n
                    or n.endswith(".pyc") or "/tests/" in n], "caches, tests or VCS files in the zip"
        for name, info in infos.items():
            if not info.is_dir() and name not in ("setup.sh", "run_autograder", "setup_sandbox.sh"):
                assert (info.external_attr >> 16) & 0o777 == 0o644, name
        assert not [n for n in names if n.startswith(("examples/", "hw3/submissions"))], "examples in the zip"
        requirements = zf.read("requirements-gradescope.txt").decode()
        setup = zf.read("setup.sh").decode()
        info = json.loads(zf.read("hw3grade_build.json"))
        run_autograder = zf.read("run_autograder").decode()
        smoke_submission = {n.split("/", 1)[1]: zf.read(n) for n in names if n.startswith("smoke-submission/")
                            and not n.endswith("/")}
    assert info["assignment"] == "hw3/assignment.yaml" and info["assignment_name"] == "Homework 3"
    assert 'export HW3GRADE_ASSIGNMENT="$SOURCE/hw3/assignment.yaml"' in run_autograder
    # the smoke test's submission is the reference as a student uploads it: examples/correct, byte for byte
    assert smoke_submission == {p.name: p.read_bytes() for p in (REPO / "examples" / "correct").glob("*.py")}
    for package in ("numpy", "pyyaml", "matplotlib", "rich", "psutil", "jsonschema", "gradescope-utils"):
        assert package in requirements
    assert "pytest" not in requirements and "torch" not in requirements.split("#", 1)[-1].split("\n", 1)[-1]
    assert "hw3grade" not in requirements.replace("# runtime dependencies of hw3grade", "")
    assert 'TORCH_INDEX_URL="${HW3GRADE_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"' in setup
    assert "TORCH_REQUIREMENT=" in setup.split("\n")[6] or "TORCH_REQUIREMENT=" in setup


def test_zip_is_reproducible(zip_path, tmp_path):
    again = autograder.build_autograder(tmp_path / "again.zip").path
    assert again.read_bytes() == zip_path.read_bytes()


def test_scripts_parse():
    bash = shutil.which("bash")
    for name, text in autograder.SCRIPTS.items():
        filled = autograder._fill(text, {"TORCH_REQUIREMENT": "torch", "TORCH_INDEX_URL": "x", "PREFIX": "/opt/x",
                                         "SANDBOX_USER": "student", "BUDGET_SECONDS": "540",
                                         "MANIFEST": "a/assignment.yaml", "PROBE_FILES": "a/p/x.py a/y.py",
                                         "RUNTIME_PROBES": "assignment-probes"})
        run = subprocess.run([bash, "-n"], input=filled, capture_output=True, text=True)
        assert run.returncode == 0, f"{name}: {run.stderr}"
        if shutil.which("shellcheck"):
            run = subprocess.run(["shellcheck", "-S", "warning", "-"], input=filled, capture_output=True, text=True)
            assert run.returncode == 0, f"{name}: {run.stdout}"


def test_child_runtime_imports_only_what_the_child_has(tmp_path):
    autograder.check_child_runtime(REPO / "grader")  # the real one passes
    bad = tmp_path / "grader"
    (bad / "probes").mkdir(parents=True)
    (bad / "__init__.py").write_text("")
    (bad / "probes" / "ok.py").write_text("import json\nimport numpy\nfrom . import wire\nfrom .registry import x\n")
    (bad / "probes" / "leak.py").write_text("from ..checks import base\nimport reference.losses\nimport yaml\n")
    with pytest.raises(autograder.BuildError) as info:
        autograder.check_child_runtime(bad)
    text = str(info.value)
    assert "grader.checks" in text and "reference.losses" in text and "yaml" in text and "ok.py" not in text
    # the assignment's probe files are held to the same rule (they run in the child too)

    autograder.check_child_runtime(REPO / "grader", [(Path(p), n) for n, p in HW3.probe_files().items()])
    probe = tmp_path / "my_probe.py"
    probe.write_text("import numpy\nfrom grader.probes.registry import probe\nfrom .checks import x\n"
                     "import hw3.checks.p3\n")
    with pytest.raises(autograder.BuildError) as info:
        autograder.check_child_runtime(REPO / "grader", [(probe, "hw3.probes.my_probe")])
    listed = str(info.value).split("\n", 1)[1]
    assert "my_probe.py:3 imports hw3.probes.checks" in listed and "my_probe.py:4 imports hw3.checks.p3" in listed
    assert "numpy" not in listed and "registry" not in listed


def test_cli_build(tmp_path, capsys):
    from grader import cli

    out = tmp_path / "ag.zip"
    assert cli.main(["build", "autograder", "-o", str(out)]) == 0
    assert zipfile.is_zipfile(out)
    assert cli.main(["build"]) == 2


# ---------------------------------------------------------------- the entry's pieces, in process

@pytest.mark.parametrize("text, header, note", [
    (json.dumps({"id": 123456, "users": [{"name": "Ada Lovelace", "email": "a@x"}]}),
     "Submission 123456 (Ada Lovelace)", ""),
    (json.dumps({"id": 7, "users": [{"name": "Ada  Lovelace"}, {"name": "Alan Turing"}]}),
     "Submission 7 (Ada Lovelace, Alan Turing)", ""),
    (json.dumps({"id": "42", "users": []}), "Submission 42", ""),
    (json.dumps({"users": [{"name": "Ada"}]}), "Submission by Ada", ""),
    ("{not json", "", "not valid JSON"),
    ("[1, 2]", "", "not a JSON object"),
    (json.dumps({"id": None, "users": "Ada"}), "", "'users' is not a list"),
    (json.dumps({"id": True}), "", "'id' is not a number"),
])
def test_metadata(tmp_path, text, header, note):
    path = tmp_path / "submission_metadata.json"
    path.write_text(text)
    meta = gradescope_entry.read_metadata(path)
    assert meta.header == header
    assert note in meta.note if note else meta.note == ""


def test_metadata_absent(tmp_path):
    meta = gradescope_entry.read_metadata(tmp_path / "missing.json")
    assert meta.header == "" and meta.note == "" and meta.submission_id == ""


def test_problems_and_settings():
    assert gradescope_entry.parse_problems("p3, Q6") == {"P3", "Q6"}
    assert gradescope_entry.parse_problems("") is None
    with pytest.raises(gradescope_entry.SetupError):
        gradescope_entry.parse_problems("P9")
    settings = gradescope_entry.Settings.from_env({"HW3GRADE_ROOT": "/x", "HW3GRADE_SANDBOX_USER": ""})
    assert settings.results == Path("/x/results/results.json") and settings.sandbox_user == ""
    assert gradescope_entry.Settings.from_env({}).sandbox_user == "student"
    with pytest.raises(gradescope_entry.SetupError):
        gradescope_entry.Settings.from_env({"HW3GRADE_BUDGET_SECONDS": "soon"})


def test_the_pythons_fallback_names_the_cause():
    assert gradescope_entry.failure_cause(MemoryError()).startswith("The grader ran out of memory")
    assert gradescope_entry.failure_cause(KeyError("x")) == "The grader crashed: KeyError: 'x'"


# ---------------------------------------------------------------- the shell's fallback

def test_fallback_when_python_is_missing(gs):
    gs.submit()
    run, results = gs.run(HW3GRADE_PYTHON=str(gs.root / "no-such-python"))
    assert results["score"] == 0
    assert "Autograder error" in by_test_name(results)
    assert "not found" in by_test_name(results)["Autograder error: technical details"]["output"]


def test_fallback_replaces_what_a_dying_grader_left(gs):
    """Python killed after something wrote results.json: the shell's fallback replaces it."""
    fake = gs.root.parent / "dying-python"
    fake.write_text(f"#!/bin/sh\necho '{{\"score\": 1000, \"tests\": []}}' > '{gs.results}'\nkill -9 $$\n")
    fake.chmod(0o755)
    gs.submit()
    run, results = gs.run(HW3GRADE_PYTHON=str(fake))
    assert results["score"] == 0 and "Autograder error" in by_test_name(results)
    detail = by_test_name(results)["Autograder error: technical details"]["output"]
    assert "killed (SIGKILL) after " in detail and "before the time limit" in detail    # not "out of time"


@pytest.mark.parametrize("dies, cause", [
    ("kill -SEGV $$", "it crashed: killed by SIGSEGV after "),
    ("exit 3", "it exited with status 3 after "),
    ("exit 0", "without writing results.json"),
])
def test_the_fallback_names_the_real_cause(gs, dies, cause):
    fake = gs.root.parent / "dying-python"
    fake.write_text(f"#!/bin/sh\n{dies}\n")
    fake.chmod(0o755)
    gs.submit()
    run, results = gs.run(HW3GRADE_PYTHON=str(fake))
    assert cause in by_test_name(results)["Autograder error: technical details"]["output"]


def test_grader_failure_gives_score_zero(gs):
    gs.submit()
    run, results = gs.run(problems="P99")
    assert results["score"] == 0
    assert "unknown problem key" in by_test_name(results)["Autograder error: technical details"]["output"]


# ---------------------------------------------------------------- setup_sandbox.sh

def test_setup_sandbox_hides_the_source(gs):
    needs_isolation(gs.isolation)
    import pwd

    assert pwd.getpwnam(TEST_USER).pw_uid != 0
    for folder, dirs, files in os.walk(gs.root / "source"):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            assert os.stat(name).st_mode & 0o007 == 0, name
    assert (gs.root / "results").stat().st_mode & 0o007 == 0
    runtime_files = sorted(p.relative_to(gs.runtime).as_posix() for p in gs.runtime.rglob("*.py"))
    assert runtime_files == sorted(["assignment-probes/hw3/probes/large.py", "assignment-probes/hw3/probes/training.py",
                                    "grader/__init__.py", *(f"grader/{p.parent.name}/{p.name}"
                                                            for folder in ("probes", "supervision")
                                                            for p in (REPO / "grader" / folder).glob("*.py"))])

    def as_user(*command: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([_runuser(), "-u", TEST_USER, "--", *command], capture_output=True, text=True,
                              timeout=300, cwd="/", env={"PATH": os.environ["PATH"], **env})

    assert as_user("cat", str(gs.root / "source" / "reference" / "losses.py")).returncode != 0
    assert as_user("ls", str(gs.root / "source")).returncode != 0
    assert as_user("touch", str(gs.root / "results" / "x")).returncode != 0
    probe = "import grader.probes.child, grader.probes.registry\ntry:\n import grader.checks\nexcept ImportError:\n pass\n" \
            "else:\n raise SystemExit('grader.checks importable')\ntry:\n import reference\nexcept ImportError:\n pass\n" \
            "else:\n raise SystemExit('reference importable')\n"
    run = as_user(gs.isolation.python, "-s", "-c", probe, PYTHONPATH=str(gs.runtime))
    assert run.returncode == 0, run.stdout + run.stderr


# ---------------------------------------------------------------- real gradings

@pytest.mark.slow
def test_correct_submission_full_run(gs):
    """Every problem, K = 1000 epochs included; with Gradescope's metadata in place."""
    gs.submit()
    (gs.root / "submission_metadata.json").write_text(json.dumps(
        {"id": 123456, "users": [{"name": "Ada Lovelace", "email": "ada@example.edu", "id": 1}],
         "previous_submissions": [{"results": {"note": SECRET_METADATA}}]}))
    started = time.monotonic()
    run, results = gs.run(problems=None)
    elapsed = time.monotonic() - started
    assert results["output"].startswith("Submission 123456 (Ada Lovelace)\n")
    rubric = HW3.load_rubric()
    declared = set(HW3.catalog)
    by_name = by_test_name(results)
    assert len(results["tests"]) == len(rubric.checks)
    for entry in rubric.checks:
        test = by_name[f"{entry.problem} {entry.title}"]
        if entry.id in declared:
            assert test["status"] == "passed" and test["score"] == test["max_score"], (entry.id, test["output"])
        else:  # a check still being written: an autograder error, never a crash
            assert "Autograder error" in test["output"], entry.id
    if declared >= {e.id for e in rubric.checks}:
        assert results["score"] == rubric.limits.total_points
    assert elapsed < rubric.limits.budget_seconds, f"took {elapsed:.0f} s"
    mode = f"as {gs.isolation.user}" if gs.isolation.isolated else "as the current user"
    print(f"\nfull grading of the correct submission ({mode}): {elapsed:.1f} s, score {results['score']}")


def test_buggy_submission(gs):
    shutil.copytree(REPO / "examples" / "buggy", gs.root / "submission")
    (gs.root / "submission_metadata.json").write_text("{not json")
    run, results = gs.run(problems="P3")
    assert 0 < results["score"] < P3_TOTAL
    failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
    assert failed == ["P3 cross_entropy stays finite for logits up to 1e4"]
    assert not results["output"].startswith("Submission")
    assert "submission_metadata.json is not valid JSON" in run.stdout


def test_missing_submission(gs):
    run, results = gs.run(problems="P3")
    assert results["score"] == 0 and len(results["tests"]) == 5


# ---------------------------------------------------------------- hostile submissions

def test_hostile_writes_fake_results(gs):
    hostile(gs, f"""
        fake = {{"score": 1000, "tests": [{{"name": "{FAKE_MARKER}", "score": 1000, "max_score": 1}}]}}
        print(_json.dumps(fake))
        print(_json.dumps(fake), file=_sys.stderr)
        for name in ("results.json", "extra.json"):
            try:
                with open(_os.path.join(ROOT, "results", name), "w") as fh:
                    _json.dump(fake, fh)
            except OSError as exc:
                print("blocked:", exc)
    """)
    run, results = gs.run()
    assert FAKE_MARKER not in gs.results.read_text()
    assert results["score"] == P3_TOTAL, results
    if gs.isolation.isolated:
        assert not (gs.root / "results" / "extra.json").exists()


def test_hostile_reads_the_reference(gs):
    needs_isolation(gs.isolation)
    (gs.root / "submission_metadata.json").write_text(json.dumps(
        {"id": 99, "users": [{"name": "Eve"}], "previous_submissions": [{"results": {"output": SECRET_METADATA}}]}))
    hostile(gs, """
        found = []
        for path in ("source/reference/losses.py", "source/hw3/rubric.yaml", "submission_metadata.json",
                     "results/results.json", "source/hw3grade_build.json"):
            try:
                with open(_os.path.join(ROOT, path)) as fh:
                    found.append(fh.read())
            except OSError as exc:
                found.append(f"{type(exc).__name__} on {path}")
        try:
            found.append(repr(_os.listdir(_os.path.join(ROOT, "source"))))
        except OSError as exc:
            found.append(f"{type(exc).__name__} on listdir")
        for module in ("reference.losses", "hw3.checks.p3", "grader.rubric"):
            try:
                __import__(module)
                found.append(open(_sys.modules[module].__file__).read())
            except Exception as exc:
                found.append(f"{type(exc).__name__} on import {module}")
        text = "\\n".join(found)
        print(text)
        raise RuntimeError(text)
    """)
    run, results = gs.run()
    everything = gs.results.read_text() + run.stdout + run.stderr
    for secret in (SECRET_REFERENCE, SECRET_RUBRIC, SECRET_METADATA):
        assert secret not in everything, f"{secret} leaked"
    shown = ce_tests(results)[0]["output"]
    assert "PermissionError on source/reference/losses.py" in shown
    assert "PermissionError on submission_metadata.json" in shown
    assert "ModuleNotFoundError on import reference.losses" in shown
    assert "ModuleNotFoundError on import hw3.checks.p3" in shown
    assert results["output"].startswith("Submission 99 (Eve)")


def test_hostile_os_exit(gs):
    hostile(gs, "_os._exit(3)")
    run, results = gs.run()
    assert results["score"] == P3_ONEHOT
    for test in ce_tests(results):
        assert test["score"] == 0, test
        if test["visibility"] == "visible":  # hidden checks say less (messages.for_student)
            assert "exited with code 3" in test["output"], test


def test_hostile_kills_its_parent(gs):
    hostile(gs, """
        targets = {_os.getppid()}
        if ISOLATED:  # every grader process it can see (never as the tests' own user: it could hit other runs)
            for pid in _os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        if b"gradescope_entry" in fh.read():
                            targets.add(int(pid))
                except (OSError, ValueError):
                    pass
        for pid in targets:
            try:
                _os.kill(pid, _signal.SIGKILL)
            except OSError as exc:
                print("blocked:", exc)
    """)
    run, results = gs.run()
    if gs.isolation.isolated:  # another user: every kill fails, the grader grades on
        assert results["score"] == P3_TOTAL
        assert "Submission" not in results["output"] and "Autograder error" not in by_test_name(results)
    else:  # the same user may kill the grader: the shell's fallback, score 0
        assert results["score"] == 0 and "Autograder error" in by_test_name(results)


def test_hostile_fork_outlives_the_child(gs):
    hostile(gs, """
        global _forked
        if globals().get("_forked"):
            return
        _forked = True
        try:    # the sandbox user's process limit is shared with parallel tests: a refused fork is contained too
            first = _os.fork()
        except OSError:
            return
        if first == 0:
            _os.setsid()
            try:
                second = _os.fork()
            except OSError:
                _os._exit(0)
            if second == 0:
                with open(_os.path.join(SPY, "pid"), "w") as fh:
                    fh.write(str(_os.getpid()))
                fake = {"score": 1000, "tests": [{"name": "FAKE-RESULTS-MARKER", "score": 1000, "max_score": 1}]}
                end = _time.time() + 60
                while _time.time() < end:
                    try:
                        with open(_os.path.join(ROOT, "results", "results.json"), "w") as fh:
                            _json.dump(fake, fh)
                    except OSError:
                        pass
                    _time.sleep(0.05)
            _os._exit(0)
    """)
    import psutil

    run, results = gs.run()
    pid_file = gs.spy / "pid"
    if pid_file.exists():   # else the process tree was killed before the grandchild ever ran: contained too
        pid = int(pid_file.read_text())
        time.sleep(1.0)
        alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        assert not alive, "the submission's background process outlived the grading"
    validate(gs.results)
    assert FAKE_MARKER not in gs.results.read_text()
    assert json.loads(gs.results.read_text())["score"] == P3_TOTAL, \
        ([t["output"] for t in json.loads(gs.results.read_text())["tests"] if t["score"] < t["max_score"]],
         run.stdout[-3000:])   # the instructor's log: what a child that could not start said


def test_hostile_hidden_leftover_never_meets_the_next_child(gs):
    """A grandchild out of the child's session, holding no descriptor, left behind when its child
    exits: as the sandbox user it could reach the next child (signals, /proc/<pid>/fd). It comes to
    the grader (a subreaper), which kills it when that child is closed, before the next one starts."""
    needs_isolation(gs.isolation)   # the spy looks for the next child among the sandbox user's processes
    # this grading's children only (its interpreter, the sandbox user): on a shared machine other
    # gradings' children start at any time (another xdist worker, another checkout), and a leftover
    # alive for a moment sees those; that was the failure on a slow machine (issue 17)
    ours = gs.isolation.python.encode()
    hostile(gs, f"""
        global _left
        if globals().get("_left"):
            return
        _left = True
        r, w = _os.pipe()
        if _os.fork() == 0:
            _os.setsid()
            if _os.fork() == 0:
                _os.closerange(0, 65536)
                me, parent, end = _os.getpid(), _os.getppid(), _time.time() + 30
                while _time.time() < end:
                    for pid in _os.listdir("/proc"):
                        try:
                            with open(f"/proc/{{pid}}/cmdline", "rb") as fh:
                                command = fh.read()
                                later = (b"grader.probes.child" in command and {ours!r} in command and int(pid) > me
                                         and _os.stat(f"/proc/{{pid}}").st_uid == _os.getuid())
                        except (OSError, ValueError):
                            continue
                        if later:
                            with open(_os.path.join(SPY, "met"), "a") as fh:
                                fh.write(pid + "\\n")
                            _os._exit(0)
                    _time.sleep(0.05)
                _os._exit(0)
            _os._exit(0)
        _os.close(w)
        _os.read(r, 1)   # EOF: the grandchild has closed everything
        _os._exit(0)
    """)
    run, results = gs.run()
    validate(gs.results)
    time.sleep(0.5)
    assert not (gs.spy / "met").exists(), "a leftover of one child met the next child"
    assert 0 < results["score"] < P3_TOTAL   # the children that exited lost their checks, and only those


def test_hostile_fork_bomb(gs):
    needs_isolation(gs.isolation)  # the process limit applies to the sandbox user only
    hostile(gs, """
        global _bombed
        if globals().get("_bombed"):
            return
        _bombed = True
        started = 0
        for _ in range(400):
            try:
                if _os.fork() == 0:
                    _time.sleep(120)
                    _os._exit(0)
                started += 1
            except OSError:
                break
        with open(_os.path.join(SPY, "forks"), "w") as fh:
            fh.write(str(started))
    """)
    run, results = gs.run()
    counted = gs.spy / "forks"
    if counted.exists():   # else its time ran out while it forked (a slow machine): contained all the same
        forks = int(counted.read_text())
        assert forks < 300, f"{forks} forks: no process limit"
    # its own checks may suffer (no room left for torch's threads): the grading itself does not
    assert results["score"] <= P3_TOTAL and "Autograder error" not in by_test_name(results)
    assert len(results["tests"]) == 5


def test_watchdog_when_the_budget_runs_out(gs):
    """An import that hangs past a 20 s budget: the grader's watchdog writes the results itself."""
    gs.submit(replace={"losses": "import time\ntime.sleep(120)\n"})
    started = time.monotonic()
    run, results = gs.run(HW3GRADE_BUDGET_SECONDS="20")
    assert time.monotonic() - started < 40
    assert results["score"] == 0
    assert "did not finish within its budget of 20 s" in by_test_name(results)["Autograder error: technical details"]["output"]
    assert "without results" not in run.stdout  # Python wrote them, not the shell's fallback


# ---------------------------------------------------------------- blame the right party; the smoke test

NOT_YOUR_FAULT = "Autograder error (not your fault, please tell the instructor): Not graded: the grader could not start"


def smoke(gs: GradescopeRoot, **extra: str) -> subprocess.CompletedProcess:
    """setup.sh's last step, exactly as it runs it (its own environment: the layout's)."""
    return subprocess.run([sys.executable, "-s", "-m", "grader.build.gradescope_entry", "--smoke"],
                          cwd=gs.root / "source", env={**gs.env(**extra), "PYTHONPATH": str(gs.root / "source")},
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)


def test_setup_sh_runs_the_smoke_test_after_the_sandbox_setup(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        setup = zf.read("setup.sh").decode()
        names = set(zf.namelist())
    assert {f"smoke-submission/{m}.py" for m in ("losses", "softmax", "threelayerSGD")} <= names
    sandbox_step = setup.index('bash "$SOURCE/setup_sandbox.sh"')
    smoke_step = setup.index('-m grader.build.gradescope_entry --smoke')
    assert sandbox_step < smoke_step < setup.index('echo "hw3grade setup: done"')
    assert '"$VENV/bin/python" -s -m grader.build.gradescope_entry --smoke); then' in setup
    assert 'exit 1' in setup[smoke_step:]


def test_smoke_test_passes_on_a_sound_install(gs):
    run = smoke(gs)
    assert run.returncode == 0, run.stdout + run.stderr
    who = gs.isolation.user or "the current user"
    assert re.search(r"smoke test passed: the bundled correct submission \(smoke-submission\) got full marks, "
                     rf"(\d+(\.\d+)?)/\1 on \d+ checks, graded as {who}", run.stdout), run.stdout
    assert not gs.results.exists(), "the smoke test must write no results"
    assert "SMOKE TEST FAILED" not in run.stdout


def _break_the_runtime(gs: GradescopeRoot) -> None:
    """The child's runtime copy (setup_sandbox.sh) lost a module: the child dies at its own imports."""
    (gs.runtime / "grader" / "probes" / "wire.py").unlink()


def test_smoke_test_fails_the_build_on_a_broken_install(gs):
    _break_the_runtime(gs)
    run = smoke(gs)
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"hw3grade setup: SMOKE TEST FAILED, the autograder is not usable: the bundled correct "
                     r"submission \(smoke-submission\) got 0 of \d+ points when graded as .*The install is "
                     r"broken, not the submissions", run.stdout, re.S), run.stdout
    assert re.search(r"check\(s\) could not run at all; the first says: the child \(.*\) exited with code 1 "
                     r"before running any student code; its output ends with: .*wire", run.stdout, re.S), run.stdout


def test_smoke_test_fails_when_the_bundled_submission_is_missing(gs):
    shutil.rmtree(gs.root / "source" / "smoke-submission")
    run = smoke(gs)
    assert run.returncode == 1
    assert re.search(r"SMOKE TEST FAILED, the autograder is not usable: the smoke test's submission .* is "
                     r"missing from the autograder zip", run.stdout), run.stdout


def test_a_broken_install_is_never_the_students_fault(gs):
    """A correct submission under a broken child runtime: every check a grader error, none blames the code."""
    _break_the_runtime(gs)
    gs.submit()
    run, results = gs.run()
    assert results["score"] == 0 and len(results["tests"]) == 5
    for test in results["tests"]:
        assert test["output"].startswith(NOT_YOUR_FAULT), test
        assert "exited with code" not in test["output"] and "your code raised" not in test["output"], test
    assert "Some checks could not be graded because of an autograder problem" in results["output"]
    assert "before running any student code" in run.stdout  # the instructor's log says why


def test_sandbox_user_cannot_run_the_interpreter(gs):
    """The issue's case: the child's Python lives where the sandbox user cannot go (a 0700 folder)."""
    needs_isolation(gs.isolation)
    private = gs.root.parent / "private"
    private.mkdir(mode=0o700)
    python = private / "python"
    python.symlink_to(gs.isolation.python)
    gs.submit()
    run, results = gs.run(HW3GRADE_CHILD_PYTHON=str(python))
    assert results["score"] == 0 and len(results["tests"]) == 5
    assert all(t["output"].startswith(NOT_YOUR_FAULT) for t in results["tests"]), results["tests"]
    failed = smoke(gs, HW3GRADE_CHILD_PYTHON=str(python))
    assert failed.returncode == 1 and f"graded as {TEST_USER} with {python}" in failed.stdout, failed.stdout


# ---------------------------------------------------------------- only source runs

def test_hostile_bytecode_never_runs(gs):
    """losses.py is wrong; an unchecked hash-based .pyc of the right code sits in its __pycache__,
    and the wrong code also ships as a sourceless helper: graded as the source, folder untouched."""
    import importlib.util
    import py_compile

    folder = gs.submit()
    good = (folder / "losses.py").read_text()
    right = gs.root.parent / "right_losses.py"
    right.write_text(good)
    py_compile.compile(str(right), cfile=importlib.util.cache_from_source(str(folder / "losses.py")),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)
    py_compile.compile(str(right), cfile=str(folder / "ce_helper.pyc"), doraise=True)
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    try:\n        from ce_helper import cross_entropy as ce\n"
                                             "    except ImportError:\n        return f.sum(-1) * 0\n"
                                             "    return ce(f, y)\n")
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    run, results = gs.run()
    assert results["score"] == P3_ONEHOT, results
    assert all(t["score"] == 0 for t in ce_tests(results))
    assert "compiled Python (.pyc bytecode, __pycache__ folders, .so extension modules) is never run" \
        in results["output"]
    assert "__pycache__/, ce_helper.pyc" in results["output"]
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before


def test_hostile_shared_files_never_meet_the_next_child(gs):
    """A file the visible child writes in /dev/shm or /tmp is there for no later child (the hidden
    checks' fresh one), and none is left after the grading (issue 17.4): the child's own /dev/shm
    where a mount namespace can be made, and the grader removes the sandbox user's files in the
    shared places when each child is closed."""
    needs_isolation(gs.isolation)   # the sweep is of the sandbox user's files
    tag = os.path.basename(gs.spy.parent)
    markers = [f"/dev/shm/hw3grade-marker-{tag}", f"/tmp/hw3grade-marker-{tag}"]
    hostile(gs, f"""
        for marker in {markers!r}:
            try:
                with open(marker) as fh:
                    if fh.read() != str(_os.getpid()):
                        with open(_os.path.join(SPY, "met"), "a") as spy:
                            spy.write(marker + "\\n")
            except OSError:
                pass
            try:
                with open(marker, "w") as fh:
                    fh.write(str(_os.getpid()))
            except OSError:
                pass
    """)
    run, results = gs.run()
    validate(gs.results)
    assert not (gs.spy / "met").exists(), (gs.spy / "met").read_text()
    assert not [m for m in markers if os.path.exists(m)]
    assert results["score"] == P3_TOTAL
