"""Throughput of `hw3grade batch` (warm workers + zygote) against a plain loop of
`hw3grade grade`, on one folder of submissions, in one run (ratios, not seconds:
these machines are shared and noisy).

    python bench/batch_throughput.py [--count 60] [--problems P3 Q2 ...] [--json FILE]

Builds N submissions (default 60) in a temporary folder: copies of examples/correct
and examples/buggy, one-bug variants of the reference, a notebook, a .zip, and
adversarial ones (os._exit(0) at import, a syntax error, a function that loops
forever), cycled to reach N. Then grades the folder three ways, timing each:

  batch -j 1   python -m grader batch DIR -o OUT1 -j 1 --force --no-progress
  batch -j 2   python -m grader batch DIR -o OUT2 -j 2 --force --no-progress
  plain loop   python -m grader grade SUB -o SUB.json --quiet, a fresh process per
               submission, one after the other

(`python -m grader` is the `hw3grade` command.) All three grade the same problems:
by default every problem except P1 and P2, whose K = 1000 trainings (up to 300 s a
check) dominate and would make the bench take an hour; `--problems` chooses others.

Prints seconds in total and per submission, the ratios batch -j 2 / batch -j 1,
batch -j 2 / plain loop and batch -j 1 / plain loop, and checks that the three ways
give every submission the same total score (OUT/grades.csv's `total` for the batches,
results.json's `score` for the loop); exits 1 if any differs. On a shared machine it
also prints, for each way, how many CPUs other processes kept busy meanwhile (the
machine's busy CPU time minus this bench's process tree, sampled every 0.25 s): a
ratio is only fair when that figure is about the same for the ways compared.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repository: grader, reference, tests

from tests.hw3testing import HW3, MODULES, REFERENCE_DIR, as_student_module, write_submission  # noqa: E402
from grader.batch import discover  # noqa: E402

PROBLEM_KEYS = HW3.load_rubric().problem_keys
DEFAULT_PROBLEMS = [p for p in PROBLEM_KEYS if p not in ("P1", "P2")]
GRADER = [sys.executable, "-m", "grader"]


# ---------------------------------------------------------------- the submissions
def copy_example(name: str):
    def build(dest: Path) -> Path:
        shutil.copytree(REPO / "examples" / name, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return dest
    return build


def patched(**kwargs):
    def build(dest: Path) -> Path:
        return write_submission(dest, **kwargs)
    return build


def notebook(dest: Path) -> Path:
    """One .ipynb holding the seven modules, one code cell each (a notebook-only submission)."""
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": as_student_module((REFERENCE_DIR / f"{name}.py").read_text()).splitlines(keepends=True)}
             for name in MODULES]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}}, "cells": cells}
    path = dest.with_suffix(".ipynb")
    path.write_text(json.dumps(nb, indent=1))
    return path


def zipped(dest: Path) -> Path:
    """examples/correct as the .zip a student uploads (inside a folder, as zipping a folder does)."""
    path = dest.with_suffix(".zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted((REPO / "examples" / "correct").glob("*.py")):
            zf.write(file, f"hw3/{file.name}")
    return path


OVERFLOWING_CE = """
def cross_entropy(f, y):
    f = _float_tensor(f)
    y = torch.as_tensor(y)
    if f.dim() == 1:
        return -torch.log(torch.exp(f[y]) / torch.exp(f).sum())
    return -torch.log(torch.exp(f.gather(1, y.reshape(-1, 1)).squeeze(1)) / torch.exp(f).sum(1))
"""
RELU_DERIVATIVE_ZERO = """
def relu_derivative(z):
    z = _float_tensor(z)
    return (z > 0).to(z.dtype)
"""
ENDLESS_CONV_PARAMS = """
def conv_params(c_in, c_out, k, bias=False):
    while True:
        pass
"""

# The first six are the ones `--count 6` (a quick try) should exercise.
KINDS = {
    "correct": copy_example("correct"),
    "buggy": copy_example("buggy"),
    "os_exit_at_import": patched(replace={"losses": "import os\nos._exit(0)\n"}),
    "syntax_error": patched(replace={"activations": "def relu(z)\n    return z\n"}),
    "endless_loop": patched(patch={"convolution": ENDLESS_CONV_PARAMS}),
    "notebook": notebook,
    "ce_overflows": patched(patch={"losses": OVERFLOWING_CE}),
    "relu_derivative_zero": patched(patch={"activations": RELU_DERIVATIVE_ZERO}),
    "zip": zipped,
    "reference": patched(),
}


def build_folder(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    kinds = list(KINDS.items())
    for i in range(count):
        kind, build = kinds[i % len(kinds)]
        build(folder / f"s{i:03d}_{kind}")


# ---------------------------------------------------------------- contention
class TreeCpu(threading.Thread):
    """CPU seconds used by this process and all its descendants, sampled every 0.25 s
    (a process that ends between two samples loses at most its last 0.25 s)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._seen: dict[tuple[int, float], float] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.25):
            self.sample()

    def sample(self) -> None:
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            try:
                with proc.oneshot():
                    times, key = proc.cpu_times(), (proc.pid, proc.create_time())
                with self._lock:
                    self._seen[key] = times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass

    def total(self) -> float:
        self.sample()
        with self._lock:
            return sum(self._seen.values())

    def stop(self) -> None:
        self._halt.set()
        self.join()


def machine_busy() -> float:
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


class Others:
    """How many CPUs processes outside this bench kept busy, on average, during a phase."""

    def __init__(self, tree: TreeCpu) -> None:
        self.tree = tree

    def __enter__(self) -> "Others":
        self._busy, self._ours, self._wall = machine_busy(), self.tree.total(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._wall
        others = (machine_busy() - self._busy) - (self.tree.total() - self._ours)
        self.cpus = max(others, 0.0) / max(wall, 1e-9)


# ---------------------------------------------------------------- the three ways
def timed(command: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - started, done


def run_batch(folder: Path, out: Path, jobs: int, problems: list[str], extra: tuple[str, ...] = ()
              ) -> tuple[float, dict[str, float]]:
    seconds, done = timed(GRADER + ["batch", str(folder), "-o", str(out), "-j", str(jobs), "--force",
                                    "--no-progress", "--problems", *problems, *extra])
    if done.returncode != 0:
        sys.exit(f"batch -j {jobs} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    print(f"  batch -j {jobs}: {done.stdout.strip()}", file=sys.stderr)
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        return seconds, {row["submission_id"]: float(row["total"]) for row in csv.DictReader(fh)}


def run_plain_loop(items, out: Path, problems: list[str]) -> tuple[float, dict[str, float]]:
    out.mkdir(parents=True)
    scores, started = {}, time.perf_counter()
    for n, item in enumerate(items, 1):
        results = out / f"{item.submission_id}.json"
        _, done = timed(GRADER + ["grade", str(item.path), "-o", str(results), "--quiet", "--problems", *problems])
        if done.returncode not in (0, 3):  # 3: the grader failed, and wrote a fallback results.json
            sys.exit(f"grade {item.path} exited with {done.returncode}:\n{done.stderr}")
        scores[item.submission_id] = float(json.loads(results.read_text())["score"])
        if n % 10 == 0 or n == len(items):
            print(f"  plain loop: {n}/{len(items)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return time.perf_counter() - started, scores


def analysis_cost(folder: Path, tmp: Path, problems: list[str], rounds: int) -> int:
    """The cost of the instructor analyses (checks.csv, flags, regrade, answers alike): batch -j 2 with
    them against --no-analysis, alternating so that a change of load hits both alike."""
    times: dict[str, list[float]] = {"with": [], "without": []}
    for n in range(rounds):
        for label, extra in (("with", ()), ("without", ("--no-analysis",))):
            seconds, _ = run_batch(folder, tmp / f"cost-{label}-{n}", 2, problems, extra)
            times[label].append(seconds)
    best = {label: min(values) for label, values in times.items()}
    print(f"batch -j 2 with analyses    {best['with']:8.1f} s (best of {rounds})")
    print(f"batch -j 2 without analyses {best['without']:8.1f} s (best of {rounds})")
    print(f"ratio with/without          {best['with'] / best['without']:8.3f}")
    return 0


# ---------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=60, help="number of submissions (default 60)")
    parser.add_argument("--problems", nargs="+", metavar="KEY", default=DEFAULT_PROBLEMS,
                        help="problems graded by all three (default: all but P1 and P2)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here as JSON")
    parser.add_argument("--analysis-cost", type=int, metavar="ROUNDS", default=0,
                        help="instead: time batch -j 2 with and without its analyses (--no-analysis), "
                             "alternating, ROUNDS times each, and print the ratio")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    unknown = sorted({p.upper() for p in args.problems} - set(PROBLEM_KEYS))
    if unknown:
        parser.error(f"unknown problem key(s) {', '.join(unknown)}; use {', '.join(PROBLEM_KEYS)}")
    problems = sorted({p.upper() for p in args.problems}, key=PROBLEM_KEYS.index)

    with tempfile.TemporaryDirectory(prefix="hw3-batch-bench-") as tmp:
        folder = Path(tmp) / "submissions"
        build_folder(folder, args.count)
        items = discover(folder)
        assert len(items) == args.count, (len(items), args.count)
        print(f"{len(items)} submissions in {folder}; problems {' '.join(problems)}", file=sys.stderr)
        # untimed warm-up: the page cache and __pycache__ of the grader, torch and the reference
        timed(GRADER + ["grade", str(items[0].path), "--quiet", "--problems", *problems])
        if args.analysis_cost:
            return analysis_cost(folder, Path(tmp), problems, args.analysis_cost)

        tree = TreeCpu()
        tree.start()
        with Others(tree) as o1:
            t1, batch1 = run_batch(folder, Path(tmp) / "out-j1", 1, problems)
        with Others(tree) as o2:
            t2, batch2 = run_batch(folder, Path(tmp) / "out-j2", 2, problems)
        with Others(tree) as o0:
            t0, plain = run_plain_loop(items, Path(tmp) / "plain", problems)
        tree.stop()

    ids = [item.submission_id for item in items]
    mismatches = {i: {"batch_j1": batch1.get(i), "batch_j2": batch2.get(i), "plain_loop": plain.get(i)}
                  for i in ids
                  if batch1.get(i) is None or batch2.get(i) is None
                  or abs(batch1[i] - plain[i]) > 1e-9 or abs(batch2[i] - plain[i]) > 1e-9}
    n = len(ids)
    figures = {
        "count": n,
        "problems": problems,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "seconds": {"batch_j1": t1, "batch_j2": t2, "plain_loop": t0},
        "seconds_per_submission": {"batch_j1": t1 / n, "batch_j2": t2 / n, "plain_loop": t0 / n},
        "other_processes_cpus": {"batch_j1": o1.cpus, "batch_j2": o2.cpus, "plain_loop": o0.cpus},
        "ratios": {"batch_j2/batch_j1": t2 / t1, "batch_j2/plain_loop": t2 / t0, "batch_j1/plain_loop": t1 / t0},
        "scores": {i: plain[i] for i in ids},
        "same_scores": not mismatches,
        "mismatches": mismatches,
    }

    left_out = [p for p in PROBLEM_KEYS if p not in problems]
    note = (" (P1 and P2 left out: their K = 1000 trainings would make this take an hour)"
            if {"P1", "P2"} <= set(left_out) else "")
    print(f"{n} submissions, problems {' '.join(problems)}{note}, {figures['cpus']} CPUs")
    print(f"{'':<34}{'seconds':>10}{'s / submission':>16}{'other processes':>18}")
    for label, key in (("hw3grade batch -j 1 (warm)", "batch_j1"), ("hw3grade batch -j 2 (warm)", "batch_j2"),
                       ("plain loop of hw3grade grade", "plain_loop")):
        print(f"{label:<34}{figures['seconds'][key]:>10.1f}{figures['seconds_per_submission'][key]:>16.2f}"
              f"{figures['other_processes_cpus'][key]:>13.2f} CPUs")
    for label, value in figures["ratios"].items():
        print(f"ratio {label:<28}{value:>10.2f}")
    if mismatches:
        print(f"DIFFERENT total scores for {len(mismatches)} submission(s):")
        for i, m in mismatches.items():
            print(f"  {i}: batch -j 1 {m['batch_j1']}, batch -j 2 {m['batch_j2']}, plain loop {m['plain_loop']}")
    else:
        print(f"same total score from all three ways for all {n} submissions "
              f"(min {min(plain.values()):g}, max {max(plain.values()):g})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
