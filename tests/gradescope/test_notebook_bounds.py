"""A notebook too large to read costs only what it would supply, through the Gradescope flow (issue 17).

Six correct modules and, for the seventh (losses.py, Problem 3), a notebook whose one cell is
`a = 1` half a million times (3.5 MB): the grader read it in its own process and was OOM-killed
inside 768 MB after 6 s, and the fallback results.json blamed the autograder with a score of 0.
Now the confined child refuses it: under Gradescope's limits (a 768 MB, half-CPU cgroup) the
run ends with a valid results.json in which Problem 3 scores 0 with a note that blames the
notebook, and the other problems count in full.
"""
from __future__ import annotations

import json
import subprocess

from tests import cgroup_limits
from tests.notebook_shapes import statements

from test_autograder import RUN_TIMEOUT, base_dir, gs, isolation, validate, zip_path  # noqa: F401  (fixtures)

PROBLEMS = "P3 Q2"


def test_a_notebook_too_large_to_read_costs_only_what_it_supplies(gs):
    submission = gs.submit(drop=("losses",))
    statements(submission / "hw3.ipynb", 3_500_000)
    env = gs.env(HW3GRADE_PROBLEMS=PROBLEMS)
    command, usage = [str(gs.root / "run_autograder")], None
    kwargs = dict(env=env, cwd=gs.root, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if cgroup_limits.available():
        run = subprocess.run(command, **kwargs)
    else:
        with cgroup_limits.GradescopeLimits() as limits:
            run = limits.run(command, **kwargs)
            usage = limits.usage()
    assert run.returncode == 0, run.stdout + run.stderr
    validate(gs.results)
    results = json.loads(gs.results.read_text("utf-8"))
    assert "error in the autograder" not in results.get("output", "")
    assert "your notebook hw3.ipynb is too large to read within the grader's limits" in results["output"]
    tests = results["tests"]
    p3 = [t for t in tests if t["name"].startswith("P3 ")]
    q2 = [t for t in tests if t["name"].startswith("Q2 ")]
    assert p3 and q2
    assert all(t["score"] == 0 for t in p3), [t["output"] for t in p3]
    assert all(t["score"] == t["max_score"] for t in q2), [t["output"] for t in q2 if t["score"] < t["max_score"]]
    assert results["score"] == sum(t["max_score"] for t in q2)
    if usage is not None:
        assert usage.oom_kills == 0 and usage.peak_mb < cgroup_limits.GRADESCOPE_MEMORY_MB, usage
