"""`hw3grade new` writes an assignment that works, and `self-test` tells a sound one from a broken one."""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import assignment as assignment_module
from grader.authoring import AuthoringError, new, self_test
from grader.runner import grade
from tests.hw3testing import warm_sandbox

CLI = [sys.executable, "-m", "grader"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A skeleton written by `new`, and the output of `self-test` on it (both through the CLI)."""
    base = tmp_path_factory.mktemp("authoring")
    made = _run("new", "skeleton_ok", cwd=base)
    assert made.returncode == 0, made.stderr
    return base / "skeleton_ok", _run("--assignment", "skeleton_ok", "self-test", cwd=base)


def test_a_fresh_skeleton_passes_its_self_test(fresh):
    folder, run = fresh
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines if line.startswith("ok")] == [
        "rubric", "reference", "template", "submissions/correct", "submissions/buggy"]
    assert "self-test: 5 of 5 as expected" in lines


def test_the_skeleton_has_every_part_an_assignment_needs(fresh):
    folder, _ = fresh
    rubric = yaml.safe_load((folder / "rubric.yaml").read_text())
    visibilities = {c.get("visibility", "visible") for c in rubric["checks"]}
    assert {"visible", "hidden"} <= visibilities and rubric["manual"]
    manifest = yaml.safe_load((folder / "assignment.yaml").read_text())
    assert manifest["reference"] == "skeleton_ok_reference" and manifest["samples"]
    assert all((folder / path).is_dir() for path in manifest["samples"])


def test_self_test_fails_when_the_reference_misses_a_point(tmp_path):
    folder = tmp_path / "skeleton_broken"
    new(folder)
    # The author's check expects 6 parameters where the reference answers 8: the reference loses E1.answer.
    checks = folder / "skeleton_broken_checks" / "e1.py"
    checks.write_text(checks.read_text().replace('np.float64(ctx.reference("basics.ANSWER"))', "np.float64(6)"))
    manifest = folder / "assignment.yaml"
    manifest.write_text(manifest.read_text().replace("submissions/buggy: 3", "submissions/buggy: 5"))
    broken = assignment_module.load(manifest)
    # its four gradings fork their children from this process's warm zygote (the CLI's unwarmed start: `fresh` above)
    findings = {f.subject: f for f in self_test(broken, grade=functools.partial(grade, sandbox=warm_sandbox(broken)))}
    assert not findings["reference"].ok and "E1.answer: failed" in findings["reference"].said
    assert not findings["submissions/buggy"].ok and "declares 5" in findings["submissions/buggy"].said
    assert findings["template"].ok and findings["rubric"].ok


def test_new_refuses_a_folder_that_holds_files(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(AuthoringError, match="not an empty folder"):
        new(tmp_path / "taken")
    run = _run("new", "taken", cwd=tmp_path)
    assert run.returncode == 2 and "choose a new path" in run.stderr and "Traceback" not in run.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("samples", ["[a, b]", "{submissions/correct: six}", "{submissions/correct: true}"])
def test_a_bad_samples_field_names_the_file_and_field(tmp_path, samples):
    folder = tmp_path / "skeleton_bad"
    new(folder)
    manifest = folder / "assignment.yaml"
    text = manifest.read_text()
    start = text.index("samples:")
    manifest.write_text(text[:start] + f"samples: {samples}\n")
    with pytest.raises(assignment_module.AssignmentError, match=r"assignment.yaml: 'samples' must map"):
        assignment_module.load(manifest)
