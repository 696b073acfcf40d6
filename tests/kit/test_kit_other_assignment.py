"""The student kit of a second assignment (tests/assignments/hw0): built with `hw3grade --assignment ...
build student-kit`, unpacked, and its `check.py` run as a student runs it, with no engine file edited for it.

Homework 0's kit holds its template's modules, check.py and .selfcheck/ (the grader's copy, hw0_checks
without its hidden module a1_hidden.py, the template's copy, the kit's assignment.yaml); not its reference, its hidden
check or its gradescope-utils unittest file (those run on Gradescope only).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.hw3testing import REPO

HW0 = REPO / "tests" / "assignments" / "hw0"
KIT = "hw0-student-kit"

pytestmark = pytest.mark.skipif(not (HW0 / "assignment.yaml").is_file(), reason="no second assignment yet")


@pytest.fixture(scope="module")
def kit_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hw0kit") / f"{KIT}.zip"
    run = subprocess.run([sys.executable, "-m", "grader", "--assignment", str(HW0), "build", "student-kit",
                          "-o", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert out.is_file()
    # Homework 0's template has no README.md: the build says the kit has none, rather than nothing
    assert "warning: the template has no README.md, so the kit has none" in run.stderr
    return out


def unpack(kit_zip: Path, dest: Path, submission: str | None = None) -> Path:
    with zipfile.ZipFile(kit_zip) as archive:
        archive.extractall(dest)
    folder = dest / KIT
    if submission:
        for path in sorted((HW0 / "submissions" / submission).glob("*.py")):
            shutil.copy(path, folder / path.name)
    return folder


def run_check(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = folder / "selfcheck-result.json"
    proc = subprocess.run([sys.executable, "check.py", *args, "--json", str(out)], cwd=folder,
                          capture_output=True, text=True, timeout=600)
    data = json.loads(out.read_text()) if out.exists() else {}
    return proc, {o["check_id"]: o for o in data.get("result", {}).get("outcomes", [])}


def visible_ids() -> set[str]:
    """The visible checks of hw0's check package (its unittests run on Gradescope only)."""
    from grader.assignment import load

    assignment = load(HW0)
    checks = assignment.catalog
    return {e.id for e in assignment.load_rubric().select(visible_only=True)
            if checks[e.id].declared_in.startswith(assignment.checks + ".")}


@pytest.mark.slow
def test_kit_holds_the_assignment_and_nothing_hidden(kit_zip, tmp_path):
    folder = unpack(kit_zip, tmp_path)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"check.py", "vectors.py", "stats.py", ".selfcheck/assignment.yaml", ".selfcheck/hw0_checks/a1.py",
            ".selfcheck/hw0_template/__init__.py"} <= set(names)
    assert not [n for n in names if "hw0_reference" in n or "gradescope_tests" in n or "hw3" in n.split("/")[1:2]]
    texts = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())
    assert ".selfcheck/hw0_checks/a1_hidden.py" not in names and "A1.norm.hidden" not in texts
    kit = json.loads((folder / ".selfcheck" / "kit.json").read_text())
    assert kit["assignment"] == "Homework 0" and kit["kit"] == KIT
    assert kit["reference"] == {"package": "hw0_reference", "modules": ["vectors", "stats"]}
    assert kit["hidden_points"] == {"A1": 2.0}               # the hidden check of the check package
    assert kit["unittest_points"] == {"test_vectors.py": 4.0}  # the instructor's unittests, by file


@pytest.mark.slow
def test_correct_submission_passes_every_visible_check(kit_zip, tmp_path):
    proc, outcomes = run_check(unpack(kit_zip, tmp_path, "correct"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(outcomes) == visible_ids()
    assert all(o["status"] == "passed" for o in outcomes.values()), outcomes
    assert "All visible checks pass." in proc.stdout and "Homework 3" not in proc.stdout + proc.stderr
    assert "Hidden checks (2 more points: A1 2)" in proc.stdout
    assert "Your instructor's tests in test_vectors.py (4 more points) run only on Gradescope" in proc.stdout


@pytest.mark.slow
def test_buggy_submission_fails_and_names_the_failures(kit_zip, tmp_path):
    folder = unpack(kit_zip, tmp_path, "buggy")
    proc, outcomes = run_check(folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = {i for i, o in outcomes.items() if o["status"] != "passed"}
    assert failed == {"A1.norm", "A2.mean"}, outcomes
    assert "FAILED" in proc.stdout and "norm(" in proc.stdout and "Hint:" in proc.stdout
    proc, outcomes = run_check(folder, "a2")
    assert proc.returncode == 1 and {o["problem"] for o in outcomes.values()} == {"A2"}
    bad = subprocess.run([sys.executable, "check.py", "P1"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown problem P1: use A1, A2" in bad.stderr
    helped = subprocess.run([sys.executable, "check.py", "--help"], cwd=folder, capture_output=True, text=True,
                            timeout=120)
    assert "visible checks of Homework 0" in helped.stdout
