"""Submissions that turn a failing unittest into a pass (issue 17.5), on Homework 0's
gradescope-utils tests (tests/assignments/hw0/gradescope_tests): each implements nothing (or
something wrong) and patches what the test's verdict rests on; each scores exactly what its
code earns, which for these is nothing of the unittest checks' 4 points."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.assignment import load
from grader.runner import grade
from tests.hw3testing import HW3

HW0 = Path(__file__).resolve().parents[1] / "assignments" / "hw0"
UNITTEST_POINTS = 4.0

WRONG = '''
import torch

def dot(u, v):
    return torch.tensor(1.0, dtype=torch.float64)

def norm(u):
    return torch.tensor(1.0, dtype=torch.float64)
'''

ATTACKS = {
    # failures and errors dropped, every run successful (4/4 before issue 17.5)
    "patch_test_result": '''
import unittest
unittest.TestResult.addFailure = lambda self, test, err: None
unittest.TestResult.addError = lambda self, test, err: None
unittest.TestResult.wasSuccessful = lambda self: True
''' + WRONG,
    # no assertion can fail any more
    "patch_assertions": '''
import unittest
for _name in dir(unittest.TestCase):
    if _name.startswith(("assert", "fail")):
        setattr(unittest.TestCase, _name, lambda *args, **kwargs: None)
''' + WRONG,
    # the test module's own names: float() and abs() of the test now lie
    "patch_test_globals": WRONG + '''
import sys as _sys

def _lie():
    frame = _sys._getframe()
    while frame is not None:
        if "TestVectors" in frame.f_globals:
            frame.f_globals["float"] = lambda x: 0.0
            frame.f_globals["abs"] = lambda x: 0.0
        frame = frame.f_back

_lie()
_dot = dot
def dot(u, v):
    _lie()
    return _dot(u, v)
''',
}

STATS = '''
import torch

def mean(x):
    return torch.tensor(0.0, dtype=torch.float64)

ANSWER = None
'''


@pytest.fixture(scope="module")
def hw0():
    return load(HW0)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_patched_verdict_scores_nothing(attack, hw0, tmp_path):
    folder = tmp_path / attack
    folder.mkdir()
    (folder / "vectors.py").write_text(ATTACKS[attack])
    (folder / "stats.py").write_text(STATS)
    rubric = hw0.load_rubric()
    entries = [e for e in rubric.checks if e.id.startswith("test_vectors.")]
    assert sum(e.points for e in entries) == UNITTEST_POINTS
    result = grade(folder, hw0, rubric=rubric, entries=entries)
    assert result.max_score == UNITTEST_POINTS
    assert result.score == 0.0, [(o.check_id, o.status, o.message) for o in result.outcomes]


def test_the_correct_submission_still_passes_every_unittest(hw0, tmp_path):
    folder = tmp_path / "correct"
    shutil.copytree(HW0 / "submissions" / "correct", folder)
    rubric = hw0.load_rubric()
    entries = [e for e in rubric.checks if e.id.startswith("test_vectors.")]
    assert grade(folder, hw0, rubric=rubric, entries=entries).score == UNITTEST_POINTS


def test_building_an_autograder_with_unittests_warns(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "grader", "--assignment", str(HW0), "build", "autograder",
                          "-o", str(tmp_path / "hw0.zip")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "lists unittests" in run.stdout + run.stderr and "same process" in run.stdout + run.stderr
