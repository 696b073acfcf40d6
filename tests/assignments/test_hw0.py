"""Homework 0, a second assignment, through `grade` and `batch` with no engine file edited for it
(the kit and the Gradescope build: tests/kit/, tests/gradescope/)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import batch
from grader.assignment import default, load
from grader.outcome import Status
from grader.runner import grade
from grader.unittests import discover

HW0 = Path(__file__).resolve().parent / "hw0"
SUBMISSIONS = HW0 / "submissions"
VALIDATE = Path(__file__).resolve().parents[3] / "shared" / "tools" / "gradescope" / "validate.py"


@pytest.fixture(scope="module")
def hw0():
    return load(HW0)


def _hw3grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "--assignment", str(HW0), *args],
                          capture_output=True, text=True, timeout=300)


def test_the_manifest_gives_modules_problems_and_checks(hw0):
    rubric = hw0.load_rubric()
    assert hw0.modules == ("vectors", "stats")                       # the template's __all__ order
    assert rubric.problem_keys[:2] == ("A1", "A2")
    assert hw0.describe_problems(["A2", "A1"]) == "Exercises 1, 2"
    ids = [e.id for e in rubric.checks]
    assert ids[:5] == ["A1.dot", "A1.norm", "A1.norm.hidden", "A2.mean", "A2.answer"]
    assert [e.points for e in rubric.checks[5:]] == [1.0, 1.0, 2.0]   # from @weight and @partial_credit


def test_unittest_files_are_read_without_running_them(hw0):
    tests = discover(hw0.unittests[0])
    assert [t.test for t in tests] == ["TestVectors.test_dot_of_orthogonal_vectors_is_zero",
                                       "TestVectors.test_norm_is_scale_equivariant",
                                       "TestVectors.test_mean_of_constants"]
    assert [t.visibility for t in tests] == ["visible", "after_due_date", "visible"]
    assert tests[0].title.startswith("U1 ") and tests[2].partial and not tests[0].partial


def test_correct_buggy_and_notebook_submissions_get_the_expected_verdicts(hw0):
    rubric = hw0.load_rubric()
    results = {name: grade(SUBMISSIONS / name, hw0, rubric=rubric) for name in ("correct", "buggy", "notebook.ipynb")}
    assert results["correct"].outcomes and all(o.status is Status.PASSED for o in results["correct"].outcomes)
    assert all(o.status is Status.PASSED for o in results["notebook.ipynb"].outcomes)
    failed = {o.check_id for o in results["buggy"].outcomes if o.status is not Status.PASSED}
    assert failed == {"A1.norm", "A1.norm.hidden", "A2.mean", "test_vectors.TestVectors.test_norm_is_scale_equivariant",
                      "test_vectors.TestVectors.test_mean_of_constants"}
    # a failed unittest says the test's own line and its assertion, not the frames of unittest's library
    mean = next(o for o in results["buggy"].outcomes if o.check_id == "test_vectors.TestVectors.test_mean_of_constants")
    assert 'File "test_vectors.py", line' in mean.message and "AssertionError: 0 != 4" in mean.message
    assert "unittest/case.py" not in mean.message and "/lib/python" not in mean.message
    hidden = next(o for o in results["buggy"].outcomes if o.check_id == "A1.norm.hidden")
    assert "not shown" in hidden.message and "expected" in hidden.detail and hidden.detail not in hidden.message
    # HW3 is still the default, and grading HW0 did not change that
    assert default().name == "Homework 3"


def test_grade_cli_writes_valid_results_for_the_other_assignment(tmp_path):
    out = tmp_path / "results.json"
    run = _hw3grade("grade", str(SUBMISSIONS / "correct"), "-o", str(out), "--quiet")
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 14 and len(results["tests"]) == 8
    if VALIDATE.is_file():
        check = subprocess.run([sys.executable, str(VALIDATE), str(out)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_unknown_problem_keys_name_the_assignments_own(tmp_path):
    run = _hw3grade("grade", str(SUBMISSIONS / "correct"), "--problems", "P1")
    assert run.returncode == 2 and "use A1, A2" in run.stderr


def test_batch_grades_a_class_of_the_other_assignment(tmp_path, hw0):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct", "buggy"):
        shutil.copytree(SUBMISSIONS / name, folder / name)
    shutil.copy(SUBMISSIONS / "notebook.ipynb", folder / "notebook.ipynb")
    summary = batch.run_batch(folder, tmp_path / "out", jobs=1, rubric_path=hw0.rubric_path, progress=None,
                              assignment=hw0)
    assert summary.graded == 3 and not summary.error
    rows = {r["submission_id"]: r for r in summary.rows} if isinstance(summary.rows[0], dict) else None
    grades = (tmp_path / "out" / "grades.csv").read_text()
    assert "A1" in grades.splitlines()[0] and "P1" not in grades.splitlines()[0]
    totals = {line.split(",")[0]: line for line in grades.splitlines()[1:]}
    assert set(totals) == {"correct", "buggy", "notebook"} or len(totals) == 3, totals
    assert rows is None or float(rows["correct"]["total"]) == 14.0
