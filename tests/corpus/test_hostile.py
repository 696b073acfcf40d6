"""Hostile and broken submissions: each costs its own checks and nothing else.

Every case replaces or patches `losses.py` (Problem 3) of an otherwise correct
submission; Problem 3's checks get the named status and message, while the
neighbouring problems (Q2, Q6: graded in the same child) keep full marks.

The children are forked from this test process's warm zygote (tests.hw3testing.warm_sandbox, the
batch's way; the parent's side is the same code), but for the shadowing packages, a threat to the
unwarmed start: torch and numpy are imported there after the child starts.
"""
from __future__ import annotations

import dataclasses
import re
import time

import pytest

from grader.outcome import Status
from grader.runner import grade
from tests.hw3testing import HW3, warm_sandbox

NEIGHBOURS = ("Q2", "Q6")
CE_CHECKS = ("P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.cross_entropy.large_logits")
ONEHOT_CHECKS = ("P3.ce_scaled_onehot", "P3.ce_scaled_onehot.large_lam")
GOOD_ONEHOT = """
import math
def ce_scaled_onehot(lam, k):
    return math.log1p((k - 1) * math.exp(-lam))
"""


#: Every check's time limit here, short so that endless loops end fast (Q2's n = 10^6 probe takes ~1 s on a
#: busy machine).
LIMIT = 4.0
#: Problem 3's limit in a case that waits it out (once per cross_entropy check): its honest probes answer
#: within 0.02 s on a busy machine.
WAITED_LIMIT = 2.0


def _entries(rubric, timeout=LIMIT):
    """P3 (its time limit `timeout`) plus two neighbours (at least LIMIT)."""
    limits = {"P3": timeout, **dict.fromkeys(NEIGHBOURS, max(timeout, LIMIT))}
    return [dataclasses.replace(e, timeout=min(e.timeout, limits[e.problem]))
            for e in rubric.checks if e.problem in limits]


def _grade(folder, rubric, *, warm=True, **kwargs):
    sandbox = warm_sandbox(HW3, rubric) if warm else None
    result = grade(folder, HW3, rubric=rubric, entries=_entries(rubric, **kwargs), sandbox=sandbox)
    return result, {o.check_id: o for o in result.outcomes}


def _neighbours_intact(result):
    scores = result.by_problem()
    for key in NEIGHBOURS:
        assert scores[key][0] == scores[key][1], f"{key} lost points: {scores[key]}"


CASES = {
    "syntax_error": (
        {"replace": {"losses": "def cross_entropy(f, y)\n    return 0\n"}},
        {c: Status.ERROR for c in CE_CHECKS + ONEHOT_CHECKS},
        r"Importing losses\.py failed: SyntaxError",
    ),
    "import_error": (
        {"replace": {"losses": "import not_a_real_package\n"}},
        {c: Status.ERROR for c in CE_CHECKS + ONEHOT_CHECKS},
        r"ModuleNotFoundError: No module named 'not_a_real_package'",
    ),
    "exit_at_import": (
        {"replace": {"losses": "import sys\nsys.exit(0)\n"}},
        {c: Status.ERROR for c in CE_CHECKS + ONEHOT_CHECKS},
        re.escape("called sys.exit(0) (exit is not allowed in graded code)"),
    ),
    "os_exit_in_function": (
        {"replace": {"losses": GOOD_ONEHOT + "\ndef cross_entropy(f, y):\n    import os\n    os._exit(3)\n"}},
        {**{c: Status.ERROR for c in CE_CHECKS}, **{c: Status.PASSED for c in ONEHOT_CHECKS}},
        r"exited with code 3",
    ),
    "endless_loop": (
        {"replace": {"losses": GOOD_ONEHOT + "\ndef cross_entropy(f, y):\n    while True:\n        pass\n"}},
        {**{c: Status.TIMEOUT for c in CE_CHECKS}, **{c: Status.PASSED for c in ONEHOT_CHECKS}},
        rf"did not finish within {WAITED_LIMIT:g} s",
    ),
    "huge_allocation": (
        {"replace": {"losses": GOOD_ONEHOT + "\nimport torch\ndef cross_entropy(f, y):\n"
                               "    return torch.ones(400_000_000, dtype=torch.float64).sum()\n"}},
        {**{c: Status.ERROR for c in CE_CHECKS}, **{c: Status.PASSED for c in ONEHOT_CHECKS}},
        r"(?i)memory",
    ),
    "nan_result": (
        {"patch": {"losses": "def cross_entropy(f, y):\n    return f.sum(-1) * float('nan')\n"}},
        {c: Status.FAILED for c in CE_CHECKS},
        r"contains nan",
    ),
    "returns_a_string": (
        {"patch": {"losses": "def cross_entropy(f, y):\n    return 'loss'\n"}},
        {c: Status.FAILED for c in CE_CHECKS},
        re.escape("returned a str ('loss'); expected numbers (a tensor, array, number or nested lists of numbers)"),
    ),
    "returns_the_mean": (
        {"patch": {"losses": "def cross_entropy(f, y):\n"
                             "    import torch\n"
                             "    return torch.nn.functional.cross_entropy(f.reshape(-1, f.shape[-1]),"
                             " torch.as_tensor(y).reshape(-1))\n"}},
        {"P3.cross_entropy.batch": Status.FAILED, "P3.cross_entropy.single": Status.PASSED},
        re.escape("has shape (), expected shape (") + r"\d+,\)",
    ),
    "fake_allclose": (
        {"patch": {"losses": "import torch, numpy\n"
                             "torch.allclose = lambda *a, **k: True\n"
                             "numpy.testing.assert_allclose = lambda *a, **k: None\n"
                             "def cross_entropy(f, y):\n    return f.sum(-1) * 0 + 1.0\n"}},
        {c: Status.FAILED for c in CE_CHECKS},
        r"values are not close|is 1, expected",
    ),
    "forged_answer": (
        {"patch": {"losses": "import json, os, struct, sys\n"
                             "def cross_entropy(f, y):\n"
                             "    body = json.dumps({'token': 'forged', 'ok': True, 'value': 0.0}).encode()\n"
                             "    os.write(int(sys.argv[2]), struct.pack('!4sIQ', b'HW3F', len(body), 0) + body)\n"
                             "    return f.sum(-1) * 0\n"}},
        {c: Status.FAILED for c in CE_CHECKS},
        r"values are not close|expected",
    ),
    "garbage_on_the_answer_channel": (
        {"patch": {"losses": "import os, sys\n"
                             "def cross_entropy(f, y):\n"
                             "    os.write(int(sys.argv[2]), b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x05junk!')\n"
                             "    return f.sum(-1) * 0\n"}},
        {c: Status.ERROR for c in CE_CHECKS},
        r"unreadable",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_case_costs_only_its_checks(case, submission, rubric):
    build, expected, message = CASES[case]
    timeout = WAITED_LIMIT if Status.TIMEOUT in expected.values() else LIMIT
    result, outcomes = _grade(submission(**build), rubric, timeout=timeout)
    for check_id, status in expected.items():
        assert outcomes[check_id].status is status, (check_id, outcomes[check_id])
    failing = [outcomes[c] for c, s in expected.items() if s is not Status.PASSED]
    assert any(re.search(message, o.message) or re.search(message, o.detail) for o in failing), \
        [o.message for o in failing]
    _neighbours_intact(result)


def test_flood_of_output_is_capped_and_the_answer_still_counts(submission, rubric):
    folder = submission(patch={"losses": """
_reference_cross_entropy = cross_entropy
def cross_entropy(f, y):
    import sys
    for _ in range(2000):
        sys.stdout.write("x" * 50_000 + "\\n")
    return _reference_cross_entropy(f, y)
"""})
    result, outcomes = _grade(folder, rubric, timeout=60)
    assert all(outcomes[c].status is Status.PASSED for c in CE_CHECKS)
    _neighbours_intact(result)


def test_shadowing_packages_never_replace_the_real_ones(submission, rubric):
    folder = submission()
    (folder / "numpy.py").write_text("raise ImportError('shadow numpy')\n")
    (folder / "torch.py").write_text("raise ImportError('shadow torch')\n")
    result, outcomes = _grade(folder, rubric, warm=False)   # a warm child has torch before it sees the folder
    assert result.score == result.max_score


def test_forked_processes_are_reaped_and_grading_finishes(submission, rubric):
    folder = submission(patch={"losses": """
_reference_cross_entropy = cross_entropy
def cross_entropy(f, y):
    import os, time
    if os.fork() == 0:
        time.sleep(3600)
        os._exit(0)
    return _reference_cross_entropy(f, y)
"""})
    started = time.monotonic()
    result, outcomes = _grade(folder, rubric)
    assert all(outcomes[c].status is Status.PASSED for c in CE_CHECKS)
    assert time.monotonic() - started < 120


def test_writing_a_results_file_changes_nothing(submission, rubric, tmp_path):
    folder = submission(patch={"losses": """
import json, os
for path in ("results.json", "../results.json", "/tmp/results.json"):
    try:
        with open(path, "w") as fh:
            json.dump({"score": 100, "tests": []}, fh)
    except OSError:
        pass
def cross_entropy(f, y):
    return f.sum(-1) * 0
"""})
    result, outcomes = _grade(folder, rubric)
    assert all(outcomes[c].status is Status.FAILED for c in CE_CHECKS)
    assert result.score < result.max_score
