"""Grading overhead and memory: grade the reference as a submission, against the
reference doing the same checks' work in-process, in one run (ratios, not seconds:
these machines are shared and noisy).

    python bench/grade_vs_reference.py [--problems P3 Q2 ...] [--fresh]

Grades as `hw3grade grade` does (its children forked from a zygote of the grading's own), or
with `--fresh` as Gradescope does (every child a new interpreter). Prints: the time to grade,
the time of the same probes run directly on the reference, their ratio, the CPU time of the
grading's processes (parent, zygote, children), and the peak memory (RSS, and PSS where
available) of the grader's process tree, sampled every 20 ms.
"""
from __future__ import annotations

import argparse
import importlib
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: grader, reference, tests

from tests.hw3testing import HW3, write_submission  # noqa: E402
from grader.probes import child as child_module, registry, wire  # noqa: E402
from grader.runner import grade, rng_for, sandbox_for  # noqa: E402


class ReferenceAsStudent:
    """Resolves probe targets to the reference, so probes run without a child."""

    def resolve(self, target: str):
        module, _, name = target.partition(".")
        return getattr(importlib.import_module(f"reference.{module}"), name)

    def source_paths(self):
        return []


class TreeMemory(threading.Thread):
    """Peak memory of this process and all its descendants."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_rss = self.peak_pss = 0
        self.cpu = 0.0                     # this thread's own CPU time (reading smaps is not cheap)
        self._stopping = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._stopping.is_set():
            rss = pss = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.cpu = time.thread_time()
            time.sleep(0.02)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def direct_time(entries) -> tuple[float, float]:
    """The reference doing each check's probes in-process (its own work, no grader): (wall, CPU) seconds."""
    child_module._load_probe_kinds(HW3.probe_files())   # the engine's probe kinds and the assignment's
    checks, student = HW3.catalog, ReferenceAsStudent()
    started, cpu = time.perf_counter(), time.process_time()
    for entry in entries:
        for probe in checks[entry.id].probes(rng_for(entry)):
            params = child_module.to_student_args(wire.decode(wire.encode(probe.params)), student)
            try:
                registry.PROBES[probe.kind](student, **params)
            except Exception:
                pass  # probes that expect an exception (ties) raise here too
    return time.perf_counter() - started, time.process_time() - cpu


def _cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (each child, the zygote and what it reaped)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", nargs="*")
    parser.add_argument("--fresh", action="store_true", help="start every child fresh, as Gradescope does")
    args = parser.parse_args()
    rubric = HW3.load_rubric()
    entries = rubric.select(set(args.problems) if args.problems else None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_submission(Path(tmp) / "reference")
        memory = TreeMemory()
        memory.start()
        started, cpu_before = time.perf_counter(), _cpu_seconds()
        result = grade(folder, HW3, rubric=rubric, entries=entries,
                       sandbox=sandbox_for(HW3, rubric, grading_zygote=not args.fresh))
        memory.stop()
        # the grading's processes: the sampler's own CPU time is not the grader's
        graded, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before - memory.cpu
    assert result.score == result.max_score, [o for o in result.outcomes if not o.status.passed]
    import torch

    torch.set_num_threads(1)
    direct, direct_cpu = direct_time(entries)
    print(f"checks: {len(entries)}  score: {result.score:g}/{result.max_score:g}")
    how = "every child started fresh" if args.fresh else "as hw3grade grade does"
    print(f"grading the reference as a submission ({how}): {graded:.1f} s, {cpu:.1f} s of CPU")
    print(f"the reference doing the same probes in-process: {direct:.1f} s, {direct_cpu:.1f} s of CPU")
    print(f"overhead ratio (grading / direct): {graded / direct:.2f}; in CPU time: {cpu / direct_cpu:.2f}")
    print(f"peak memory of the grader's processes: RSS {memory.peak_rss / 2**20:.0f} MB, "
          f"PSS {memory.peak_pss / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
