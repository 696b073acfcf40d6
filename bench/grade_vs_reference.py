"""Grading overhead and memory: grade the reference as a submission, against the
reference doing the same checks' work in-process, in one run (ratios, not seconds:
these machines are shared and noisy).

    python bench/grade_vs_reference.py [--problems P3 Q2 ...]

Prints: the time to grade, the time of the same probes run directly on the reference,
their ratio, and the peak memory (RSS, and PSS where available) of the grader's
process tree (parent plus child), sampled every 20 ms.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: grader, reference, tests

from tests.hw3testing import HW3, write_submission  # noqa: E402
from grader.probes import child as child_module, registry, wire  # noqa: E402
from grader.runner import grade, rng_for  # noqa: E402


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
            time.sleep(0.02)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def direct_time(entries) -> float:
    """The reference doing each check's probes in-process (its own work, no grader)."""
    child_module._load_probe_kinds(HW3.probe_files())   # the engine's probe kinds and the assignment's
    checks, student = HW3.catalog, ReferenceAsStudent()
    started = time.perf_counter()
    for entry in entries:
        for probe in checks[entry.id].probes(rng_for(entry)):
            params = child_module.to_student_args(wire.decode(wire.encode(probe.params)), student)
            try:
                registry.PROBES[probe.kind](student, **params)
            except Exception:
                pass  # probes that expect an exception (ties) raise here too
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", nargs="*")
    args = parser.parse_args()
    rubric = HW3.load_rubric()
    entries = rubric.select(set(args.problems) if args.problems else None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_submission(Path(tmp) / "reference")
        memory = TreeMemory()
        memory.start()
        started = time.perf_counter()
        result = grade(folder, HW3, rubric=rubric, entries=entries)
        graded = time.perf_counter() - started
        memory.stop()
    assert result.score == result.max_score, [o for o in result.outcomes if not o.status.passed]
    import torch

    torch.set_num_threads(1)
    direct = direct_time(entries)
    print(f"checks: {len(entries)}  score: {result.score:g}/{result.max_score:g}")
    print(f"grading the reference as a submission: {graded:.1f} s")
    print(f"the reference doing the same probes in-process: {direct:.1f} s")
    print(f"overhead ratio (grading / direct): {graded / direct:.2f}")
    print(f"peak memory of parent + child: RSS {memory.peak_rss / 2**20:.0f} MB, PSS {memory.peak_pss / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
