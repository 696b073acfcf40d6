"""What `build autograder` tells the instructor: the course repository's commit, and the real point total."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import assignment as assignment_module
from grader.build.autograder import build_autograder
from tests.hw3testing import REPO

HW0 = REPO / "tests" / "assignments" / "hw0"


def _git(folder: Path, *args: str) -> str:
    run = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                         env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                              "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin"})
    return run.stdout.strip()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """Homework 0 in a course repository of its own (a git repository apart from the engine's)."""
    folder = tmp_path_factory.mktemp("course") / "hw0"
    shutil.copytree(HW0, folder, ignore=shutil.ignore_patterns("__pycache__", "conftest.py"))
    _git(folder, "init", "-q")
    _git(folder, "add", "-A")
    _git(folder, "commit", "-qm", "Homework 0")
    return folder


def test_the_build_records_the_course_repositorys_commit(course, tmp_path):
    report = build_autograder(tmp_path / "hw0.zip", assignment=assignment_module.load(course))
    with zipfile.ZipFile(report.path) as zf:
        info = json.loads(zf.read("hw3grade_build.json"))
    head = _git(course, "rev-parse", "HEAD")
    assert info["assignment_git_commit"] == head
    assert info["git_commit"].split("-")[0] != head      # the engine's own commit is kept apart
    (course / "rubric.yaml").write_text((course / "rubric.yaml").read_text() + "\n# edited\n")
    report = build_autograder(tmp_path / "hw0-edited.zip", assignment=assignment_module.load(course))
    with zipfile.ZipFile(report.path) as zf:
        assert json.loads(zf.read("hw3grade_build.json"))["assignment_git_commit"] == f"{head}-dirty"


def test_the_build_prints_the_total_gradescope_will_show(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "--assignment", str(HW0), "build", "autograder",
                          "-o", str(tmp_path / "hw0.zip")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    # limits.total_points is 10; the unittest file adds 1 + 1 + 2
    assert "Gradescope's total: 14 points (the rubric's 10 and 4 from the unittest files)" in run.stdout
    with zipfile.ZipFile(tmp_path / "hw0.zip") as zf:
        assert json.loads(zf.read("hw3grade_build.json"))["points"] == 14
