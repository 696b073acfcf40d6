"""Run a command, and all it starts, with a share of this machine's CPU (a CPU cgroup's quota).

    sudo python -m tests.cpu_quota [--cpus 1] [-- COMMAND ...]

Containment must not depend on a fast machine: a leftover that outlives its child only when the
machine is slow, or a watchdog that fires before a correct child is done, are races. With no
COMMAND this runs the containment suite (CONTAINMENT below: the hostile corpus, the Gradescope
flow's hostile tests, the batch's, the sandbox's) on two pytest workers inside a quota of `--cpus`
CPUs, by default half of what the machine has. The groups a test makes for Gradescope's own limits
are made inside this one (tests/cgroup_limits.py), so the quota holds for them too. Needs root and
a cgroup file system (v1 `cpu.cfs_quota_us` or v2 `cpu.max`); exits 2 with the reason otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys

from tests import cgroup_limits

CONTAINMENT = [
    "tests/corpus",
    "tests/core/test_sandbox.py", "tests/core/test_sandbox_io.py", "tests/core/test_landlock.py",
    "tests/core/test_child.py", "tests/core/test_filetree.py",
    "tests/gradescope/test_autograder.py", "tests/gradescope/test_hostile_folders.py",
    "tests/gradescope/test_notebook_bounds.py",
    "tests/batch/test_hostile_batch.py", "tests/batch/test_dask_reach.py", "tests/batch/test_analysis_isolation.py",
    "tests/test_confined_notebook.py", "tests/test_notebook_memory.py",
]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cpu_quota", description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=float, default=(os.cpu_count() or 2) / 2,
                        help="CPUs the command may use in all (default: half of this machine's)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --; default: the containment suite")
    args = parser.parse_args(argv)
    command = [part for part in args.command if part != "--"][:] or [*PYTEST, *CONTAINMENT]
    why_not = cgroup_limits.available()
    if why_not:
        print(f"cannot run under a CPU quota here: {why_not}", file=sys.stderr)
        return 2
    # no memory limit of our own: the tests set Gradescope's where they need it
    with cgroup_limits.GradescopeLimits(memory_mb=None, cpus=args.cpus) as quota:
        print(f"running under a quota of {args.cpus:g} CPU(s): {' '.join(command)}", flush=True)
        return quota.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
