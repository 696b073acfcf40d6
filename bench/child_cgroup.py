"""What the memory and pids cgroup per child costs, and the room it leaves correct work.

    python bench/child_cgroup.py [--rounds 200] [--styles numpy_first loops ...] [--overhead-only]

1. Overhead: makes and removes `--rounds` child cgroups (grader/supervision/cgroups.py:
   mkdir, pids.max, no swap; memory limit, counters; kill, rmdir) and prints ms per child.
2. Room: grades examples/correct and every correct style of tests/corpus/correct_styles/ as
   `hw3grade grade` does (fresh children), with the cgroup and without, and prints for each
   whether every check's status and score are the same, the most memory a child held above what
   it held when ready (its budget is the rubric's memory_mb), and the most processes it had at
   once (torch's threads count; pids.max is 256).
Needs a place for child cgroups (cgroup v2 with a delegated parent, or v1 as root).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO)]

from grader.runner import grade, sandbox_for  # noqa: E402
from grader.supervision import cgroups  # noqa: E402
from tests.hw3testing import HW3  # noqa: E402

STYLES = REPO / "tests" / "corpus" / "correct_styles"
CORRECT = REPO / "examples" / "correct"


def overhead(rounds: int) -> float:
    """Milliseconds to make, limit, read and remove one child's cgroup."""
    started = time.perf_counter()
    for _ in range(rounds):
        group = cgroups.ChildGroup.make()
        assert group is not None
        group.limit_memory(448)
        group.mark()
        group.ran_out_of_memory()
        group.remove()
    return (time.perf_counter() - started) * 1000 / rounds


def graded(folder: Path, rubric, *, cgroup: bool) -> tuple[dict, list[tuple[int, int]]]:
    """{check id: (status, score)} and each child's (memory above ready, most processes)."""
    peaks: list[tuple[int, int]] = []
    remove = cgroups.ChildGroup.remove

    def recording(group: cgroups.ChildGroup) -> None:
        if group.folders:
            memory, pids = group.peaks()
            peaks.append((memory - group.at_ready, pids))
        remove(group)

    cgroups.ChildGroup.remove = recording   # type: ignore[method-assign]
    try:
        sandbox = sandbox_for(HW3, rubric, cgroup=cgroup)
        result = grade(folder, HW3, rubric=rubric, sandbox=sandbox, identity=folder.name)
    finally:
        cgroups.ChildGroup.remove = remove   # type: ignore[method-assign]
    return {o.check_id: (o.status.value, o.score) for o in result.outcomes}, peaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--styles", nargs="*", default=sorted(p.name for p in STYLES.iterdir() if p.is_dir()))
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args()
    print(cgroups.describe())
    if cgroups.unavailable():
        return 1
    print(f"overhead: {overhead(args.rounds):.2f} ms per child (make, limit, read, remove; {args.rounds} rounds)")
    if args.overhead_only:
        return 0
    rubric = HW3.load_rubric()
    print(f"{'submission':<18} {'same':>5} {'children':>8} {'MB above ready':>15} {'processes':>10}")
    worst_memory = worst_pids = 0
    for folder in [CORRECT, *(STYLES / s for s in args.styles)]:
        with_cgroup, peaks = graded(folder, rubric, cgroup=True)
        without, _ = graded(folder, rubric, cgroup=False)
        memory = max((m for m, _ in peaks), default=0) / 2**20
        pids = max((p for _, p in peaks), default=0)
        worst_memory, worst_pids = max(worst_memory, memory), max(worst_pids, pids)
        same = "yes" if with_cgroup == without else "NO"
        print(f"{folder.name:<18} {same:>5} {len(peaks):>8} {memory:>15.0f} {pids:>10}")
        if with_cgroup != without:
            for check in sorted(with_cgroup):
                if with_cgroup[check] != without.get(check):
                    print(f"    {check}: {with_cgroup[check]} with, {without.get(check)} without")
    print(f"worst: {worst_memory:.0f} MB above ready of {rubric.limits.memory_mb} MB "
          f"({rubric.limits.memory_mb / max(worst_memory, 1):.1f}x margin); "
          f"{worst_pids} processes of {cgroups.PIDS_MAX} ({cgroups.PIDS_MAX / max(worst_pids, 1):.0f}x margin)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
