"""Peak memory and wall time of one Gradescope run: run_autograder on the correct example,
every problem (K = 1000 epochs included), in Gradescope's layout in a temp root.

    python bench/gradescope_memory.py [--problems P3 Q2 ...] [--interval 0.05] [--hostile] [--limits]

--hostile grades the worst hostile answer instead (the reference whose cross_entropy returns a
plain list of three million floats and whose softmax returns a 100 MB bytes object); --limits
runs run_autograder inside a cgroup with Gradescope's 768 MB and half a CPU
(tests/cgroup_limits.py) and also reports the cgroup's own peak and out-of-memory kills.

Builds the zip, lays it out as Gradescope does (tests/gradescope/test_autograder.py's
helpers), runs setup_sandbox.sh, then run_autograder; as root the child runs as the test
user `hw3test`, as on Gradescope. Every 50 ms it sums, over the whole process tree of
run_autograder (the shell, the grader, runuser, the child), the RSS and the PSS (shared
pages split between the processes sharing them: torch's libraries are mapped by both
the grader and the child) and keeps the peaks. Gradescope's default container has 768 MB
(SPEC.md section 5).
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "gradescope")]

from grader.build.autograder import build_autograder  # noqa: E402
from tests import cgroup_limits  # noqa: E402
from tests.hw3testing import write_submission  # noqa: E402
from test_autograder import (  # noqa: E402
    TEST_USER,
    GradescopeRoot,
    Isolation,
    _can_import_torch,
    _runuser,
    _shim_python,
    validate,
)

MB = 2**20
HOSTILE = {
    "losses": "\ndef cross_entropy(f, y):\n    return [0.5] * 3_000_000\n",
    "softmax": "\ndef softmax(x, dim=-1):\n    return b'x' * (100 * 2**20)\n",
}


class TreeSampler(threading.Thread):
    """Peak summed RSS / PSS of a process and all its descendants, sampled every `interval` s."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.peak_by_role: dict[str, int] = {}
        self.samples = 0
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> last CPU seconds seen

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            rss = pss = 0
            for p in procs:
                try:
                    times = p.cpu_times()
                    self.cpu[(p.pid, p.create_time())] = times.user + times.system
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                    role = _role(p)
                    self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), getattr(info, "pss", info.rss))
                except psutil.Error:
                    continue
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.samples += 1
            self.stop.wait(self.interval)


def _role(p: psutil.Process) -> str:
    cmd = " ".join(p.cmdline())
    if "gradescope_entry" in cmd:
        return "grader (parent)"
    if "grader.probes.child" in cmd and "runuser" not in p.name():
        return "child"
    return "other"


def isolation(zip_path: Path, base: Path) -> Isolation:
    import os

    if os.geteuid() != 0 or _runuser() is None:
        return Isolation("", sys.executable, "not root")
    probe = GradescopeRoot.make(zip_path, base / "probe", Isolation(TEST_USER, sys.executable))
    probe.setup()
    if _can_import_torch(TEST_USER, sys.executable):
        return Isolation(TEST_USER, sys.executable)
    shim_dir = base / "shim"
    shim_dir.mkdir(mode=0o755)
    shim = _shim_python(shim_dir)
    if shim and _can_import_torch(TEST_USER, shim):
        return Isolation(TEST_USER, shim)
    return Isolation("", sys.executable, "no Python the test user can run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="*", default=None, help="only these problems (default: all)")
    parser.add_argument("--interval", type=float, default=0.05, help="sampling period in seconds")
    parser.add_argument("--hostile", action="store_true", help="grade the worst hostile answer")
    parser.add_argument("--limits", action="store_true", help="inside a 768 MB, half-CPU cgroup")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="hw3grade-bench-"))
    base.chmod(0o755)
    try:
        zip_path = build_autograder(base / "autograder.zip").path
        iso = isolation(zip_path, base)
        gs = GradescopeRoot.make(zip_path, base / "case", iso)
        gs.setup()
        if args.hostile:
            write_submission(gs.root / "submission", patch=HOSTILE)
        else:
            shutil.copytree(HERE.parent / "examples" / "correct", gs.root / "submission")
        limits = cgroup_limits.GradescopeLimits() if args.limits and not cgroup_limits.available() else None
        if limits:
            limits.__enter__()
        env = gs.env()
        if args.problems:
            env["HW3GRADE_PROBLEMS"] = " ".join(args.problems)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = subprocess.Popen([str(gs.root / "run_autograder")], env=env, cwd=gs.root,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=limits.join if limits else None)
        sampler = TreeSampler(process.pid, args.interval)
        sampler.start()
        output, _ = process.communicate()
        wall = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the larger of: what the kernel accounted to waited-for descendants, what the samples saw
        cpu = max((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sum(sampler.cpu.values()))
        validate(gs.results)
        results = json.loads(gs.results.read_text("utf-8"))
        total = sum(t.get("max_score", 0) for t in results["tests"])
        print(f"child runs as: {iso.user or 'the current user (' + iso.reason + ')'}")
        print(f"problems: {' '.join(args.problems) if args.problems else 'all'}; score {results['score']:g} / {total:g}")
        print(f"wall time of run_autograder: {wall:.1f} s; CPU time of its process tree: {cpu:.1f} s "
              f"(Gradescope's default is 1/2 vCPU: expect at least {2 * cpu:.0f} s there)")
        print(f"peak memory of the process tree: RSS {sampler.peak_rss / MB:.0f} MB, "
              f"PSS {sampler.peak_pss / MB:.0f} MB ({sampler.samples} samples every {args.interval * 1000:.0f} ms)")
        for role, peak in sorted(sampler.peak_by_role.items()):
            print(f"  peak PSS of {role}: {peak / MB:.0f} MB")
        if limits:
            usage = limits.usage()
            print(f"inside the cgroup (768 MB, half a CPU): peak {usage.peak_mb:.0f} MB, "
                  f"out-of-memory kills {usage.oom_kills}")
            limits.__exit__(None, None, None)
        print("Gradescope's default container: 768 MB, 10 minutes")
        if process.returncode != 0:
            print(output)
            return 1
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
