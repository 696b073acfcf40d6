"""A child's processes together: one memory limit and at most 256 processes (grader/supervision/cgroups.py).

The address-space limit is per process: without a cgroup, a child that forks eight times uses eight
budgets, and a fork bomb is bounded by nothing but the user's own limit. Each case patches
`losses.py` (Problem 3) of a correct submission, as tests/corpus/test_hostile.py does: Problem 3's
cross-entropy checks fail, nothing else does, and no child cgroup is left. Skipped, with the
reason, where no cgroup can be made (cgroup v2 without a delegated parent, v1 without root).
"""
from __future__ import annotations

import dataclasses
import time

import pytest

from grader.outcome import Status
from grader.runner import grade
from grader.supervision import cgroups
from tests.hw3testing import HW3, warm_sandbox

from test_hostile import CE_CHECKS, NEIGHBOURS, ONEHOT_CHECKS, _entries

pytestmark = pytest.mark.skipif(bool(cgroups.unavailable()), reason=f"no cgroup per child: {cgroups.unavailable()}")

#: The rubric's memory limit in these cases: eight forks of FORK_MB each are 768 MB without the cgroup.
MEMORY_MB = 128
FORK_MB = 96

FORKS_THAT_ALLOCATE = f"""
_reference_cross_entropy = cross_entropy
def cross_entropy(f, y):
    import os, time
    children = []
    for _ in range(8):
        pid = os.fork()
        if pid == 0:
            block = b"x" * ({FORK_MB} * 2**20)   # touched: every page counts
            time.sleep(1.0)
            os._exit(len(block) % 7)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return _reference_cross_entropy(f, y)
"""

#: Processes that fork, and whose forks fork, until 2^9 = 512 (bounded for the machine's sake when no cgroup
#: bounds it), retrying what the kernel refuses; a torch process forks slowly on a busy machine (about
#: 15 s to 256 processes on two loaded cores), hence its own time limit and its one check.
FORK_BOMB = """
def cross_entropy(f, y):
    import os, time
    depth = 0
    while depth < 9:
        try:
            os.fork()
            depth += 1
        except OSError:
            time.sleep(0.001)
    time.sleep(3600)
"""
BOMBED = "P3.cross_entropy.single"
BOMB_LIMIT = 40.0
BOMB_MEMORY_MB = 1024   # 256 forked processes hold about 500 MB: the process limit comes first


def _grade(folder, rubric, *, warm=True, memory_mb=None, entries=None, **kwargs):
    if memory_mb:
        rubric = dataclasses.replace(rubric, limits=dataclasses.replace(rubric.limits, memory_mb=memory_mb))
    sandbox = warm_sandbox(HW3, rubric) if warm else None
    result = grade(folder, HW3, rubric=rubric, entries=entries or _entries(rubric, **kwargs), sandbox=sandbox)
    return result, {o.check_id: o for o in result.outcomes}


def _said(outcome):
    """What the check says, to the student and (a hidden check's) to the instructor."""
    return f"{outcome.message}\n{outcome.detail}"


def _only_cross_entropy_failed(result, outcomes, status, failing=CE_CHECKS):
    assert {c: outcomes[c].status for c in failing} == dict.fromkeys(failing, status), \
        {c: (outcomes[c].status, _said(outcomes[c])) for c in failing}
    assert all(outcomes[c].status is Status.PASSED for c in ONEHOT_CHECKS)
    scores = result.by_problem()
    for key in NEIGHBOURS:
        assert scores[key][0] == scores[key][1], f"{key} lost points: {scores[key]}"
    assert not cgroups.leftovers()


@pytest.mark.parametrize("warm", [True, False], ids=["forked", "fresh"])
def test_each_child_runs_in_a_cgroup_of_its_own_and_leaves_none(submission, rubric, warm):
    folder = submission(patch={"losses": """
def cross_entropy(f, y):
    raise RuntimeError(open("/proc/self/cgroup").read().replace(chr(10), " "))
"""})
    result, outcomes = _grade(folder, rubric, warm=warm)
    for check in CE_CHECKS:
        assert cgroups.PREFIX in _said(outcomes[check]), _said(outcomes[check])
    _only_cross_entropy_failed(result, outcomes, Status.ERROR)


def test_forks_that_multiply_the_memory_limit_are_a_memory_failure(submission, rubric):
    folder = submission(patch={"losses": FORKS_THAT_ALLOCATE})
    result, outcomes = _grade(folder, rubric, memory_mb=MEMORY_MB)
    _only_cross_entropy_failed(result, outcomes, Status.ERROR)
    for check in CE_CHECKS:
        assert "ran out of memory" in _said(outcomes[check]), _said(outcomes[check])


def test_a_fork_bomb_ends_within_its_time_with_a_clear_message_and_no_leftovers(submission, rubric):
    folder = submission(patch={"losses": FORK_BOMB})
    entries = [dataclasses.replace(e, timeout=BOMB_LIMIT) if e.id == BOMBED else e
               for e in _entries(rubric) if e.id not in CE_CHECKS or e.id == BOMBED]
    started = time.monotonic()
    result, outcomes = _grade(folder, rubric, memory_mb=BOMB_MEMORY_MB, entries=entries)
    elapsed = time.monotonic() - started
    _only_cross_entropy_failed(result, outcomes, Status.TIMEOUT, failing=(BOMBED,))
    assert f"grader's limit ({cgroups.PIDS_MAX} at once)" in _said(outcomes[BOMBED]), _said(outcomes[BOMBED])
    assert elapsed < BOMB_LIMIT + 60
