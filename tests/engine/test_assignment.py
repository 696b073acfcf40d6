"""grader/assignment.py: a manifest is validated with messages that name the file and the field."""
from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from grader.assignment import AssignmentError, load
from grader.rubric import _runs


@pytest.mark.parametrize("text, message", [
    ("name: X\nreference: r\n", "missing or empty field(s) template, rubric, checks"),
    ("name: X\nreference: r\ntemplate: t\nrubric: r.yaml\nchecks: c\nextra: 1\n", "unknown field(s) extra"),
    ("- a list\n", "the top level must be a mapping"),
    ("name: [unclosed\n", "not valid YAML"),
    ("name: X\nreference: r\ntemplate: t\nrubric: r.yaml\nchecks: c\nprobes: p.py\n", "'probes' must be a list"),
])
def test_a_bad_manifest_names_the_file_and_the_field(tmp_path, text, message):
    manifest = tmp_path / "assignment.yaml"
    manifest.write_text(text)
    with pytest.raises(AssignmentError, match=f"{manifest}.*{__import__('re').escape(message)}"):
        load.__wrapped__(manifest)


def test_the_cli_says_what_is_wrong_with_the_assignment_and_exits_2(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "--assignment", str(tmp_path / "none"), "check-rubric"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "assignment error" in run.stderr and "Traceback" not in run.stderr


@given(st.sets(st.integers(1, 30), min_size=1))
def test_problem_numbers_read_as_runs_name_the_same_numbers(numbers):
    text = _runs([str(n) for n in sorted(numbers)])
    named = set()
    for part in text.split(", "):
        lo, _, hi = part.partition("-")
        named |= set(range(int(lo), int(hi or lo) + 1))
        assert not hi or int(hi) - int(lo) >= 2          # two in a row stay "1, 2"
    assert named == numbers
