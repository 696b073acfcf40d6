"""`hw3grade --assignment tests/assignments/hw0 build autograder`: a second assignment through the
Gradescope flow, with no engine file edited for it.

The zip is built by the command line, laid out as Gradescope does in a temporary root, set up by
its setup_sandbox.sh, proved by setup.sh's smoke test (the reference as a student upload, on the
manifest's smoke_checks), and run by its run_autograder on Homework 0's correct submission: full
marks, checks and gradescope-utils unittests alike, and a results.json Gradescope accepts. As in
test_autograder.py, the child runs as the unprivileged test user when the tests run as root.
One grading and one smoke test in all (CI's time budget).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from test_autograder import REPO, RUN_TIMEOUT, TEST_USER, GradescopeRoot, Isolation, extract, probe_isolation

HW0 = REPO / "tests" / "assignments" / "hw0"
SECRET_REFERENCE = "# HW0-REFERENCE-SECRET-51f0: only the parent may read this line"

pytestmark = pytest.mark.skipif(not (HW0 / "assignment.yaml").is_file(), reason="Homework 0 is not there")


@pytest.fixture(scope="module")
def hw0_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build-hw0") / "hw0-autograder.zip"
    run = subprocess.run([sys.executable, "-m", "grader", "--assignment", str(HW0), "build", "autograder",
                          "-o", str(out)], capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Homework 0" in run.stdout
    return out


@pytest.fixture(scope="module")
def layout(hw0_zip) -> GradescopeRoot:
    """Gradescope's layout of the zip in a world-traversable temp root, after setup_sandbox.sh."""
    base = Path(tempfile.mkdtemp(prefix="hw3grade-gradescope-hw0-"))
    base.chmod(0o755)
    try:
        root = base / "autograder"
        root.mkdir(mode=0o755)
        extract(hw0_zip, root / "source")
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        (root / "results").mkdir()
        with open(root / "source" / "hw0_reference" / "vectors.py", "a") as f:
            f.write(f"\n{SECRET_REFERENCE}\n")
        spy = base / "spy"
        spy.mkdir(mode=0o777)
        spy.chmod(0o777)
        gs = GradescopeRoot(root, base / "probe-runtime", spy, _isolation(base))
        gs.setup()
        yield gs
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _isolation(base: Path) -> Isolation:
    """The test user (this layout's setup_sandbox.sh creates it) and a Python it can run."""
    return probe_isolation(base, lambda: GradescopeRoot(
        base / "autograder", base / "probe-runtime", base / "spy", Isolation(TEST_USER, sys.executable)).setup())


def test_the_zip_holds_the_engine_and_homework_0_only(hw0_zip):
    with zipfile.ZipFile(hw0_zip) as zf:
        names = set(zf.namelist())
        info = json.loads(zf.read("hw3grade_build.json"))
        run_autograder = zf.read("run_autograder").decode()
        setup_sandbox = zf.read("setup_sandbox.sh").decode()
    for required in ("grader/__init__.py", "grader/build/gradescope_entry.py", "assignment.yaml", "rubric.yaml",
                     "hw0_reference/vectors.py", "hw0_template/stats.py", "hw0_checks/a1.py",
                     "gradescope_tests/test_vectors.py", "smoke-submission/vectors.py", "smoke-submission/stats.py"):
        assert required in names, required
    assert not [n for n in names if n.startswith(("hw3/", "reference/", "student_template/", "examples/",
                                                   "submissions/", "smoke-submission/__init__"))], sorted(names)
    assert info["assignment"] == "assignment.yaml" and info["assignment_name"] == "Homework 0"
    assert 'export HW3GRADE_ASSIGNMENT="$SOURCE/assignment.yaml"' in run_autograder
    assert "for probe in ; do" in setup_sandbox   # Homework 0 has no probe files of its own


def test_homework_0_on_gradescope(layout):
    """setup.sh's smoke test, then one grading of the correct submission: full marks."""
    smoke = subprocess.run([sys.executable, "-s", "-m", "grader.build.gradescope_entry", "--smoke"],
                           cwd=layout.root / "source", env={**layout.env(), "PYTHONPATH": str(layout.root / "source")},
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "smoke test passed: the bundled correct submission (smoke-submission) got full marks" in smoke.stdout
    assert f"graded as {layout.isolation.user or 'the current user'}" in smoke.stdout
    assert not layout.results.exists()

    shutil.copytree(HW0 / "submissions" / "correct", layout.root / "submission")
    (layout.root / "submission_metadata.json").write_text(json.dumps({"id": 4242, "users": [{"name": "Ada"}]}))
    run, results = layout.run(problems=None)      # validated with Gradescope's validate.py
    assert "Homework 0" in run.stdout              # the build's line in the instructor's log
    total = sum(t["max_score"] for t in results["tests"])
    assert total > 0 and results["score"] == total, results
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"]), results["tests"]
    names = [t["name"] for t in results["tests"]]
    assert any(n.startswith("A1 ") for n in names) and any(n.startswith("A2 ") for n in names)
    assert any("test_vectors" in n for n in names), names          # the gradescope-utils unittests merged in
    assert {t["visibility"] for t in results["tests"]} >= {"visible", "hidden"}
    assert results["output"].startswith("Submission 4242 (Ada)")
    assert SECRET_REFERENCE not in layout.results.read_text() + run.stdout + run.stderr


def test_problem_keys_are_the_assignments(tmp_path):
    """HW3GRADE_PROBLEMS is read with the rubric of the assignment being graded."""
    from grader.assignment import load
    from grader.build import gradescope_entry

    rubric = load(HW0).load_rubric()
    assert gradescope_entry.parse_problems("a2", rubric) == {"A2"}
    assert gradescope_entry.parse_problems(list(rubric.problem_keys), rubric) is None        # every problem
    settings = gradescope_entry.Settings.from_env({"HW3GRADE_ROOT": str(tmp_path), "HW3GRADE_ASSIGNMENT": str(HW0),
                                                   "HW3GRADE_PROBLEMS": "A1"})
    assert settings.problems == {"A1"} and settings.assignment == HW0
    with pytest.raises(gradescope_entry.SetupError, match=r"unknown problem key\(s\) P3; use A1, A2"):
        gradescope_entry.Settings.from_env({"HW3GRADE_ROOT": str(tmp_path), "HW3GRADE_ASSIGNMENT": str(HW0),
                                            "HW3GRADE_PROBLEMS": "P3"})
