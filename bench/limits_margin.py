"""How much room each time and memory limit of rubric.yaml leaves to correct work.

    python bench/limits_margin.py [--cpus 0.5] [--memory-mb 768] [--styles numpy_first loops ...]

Grades every correct style of tests/corpus/correct_styles/ plus the reference, each in a
cgroup with Gradescope's limits (768 MB, half a CPU; run as root), and prints, for every
check, the slowest style, its time and the margin its time limit keeps (limit / time: a
check's time covers all its probes, so the margin of a single probe is larger still), then
the peak memory of each grading (grader + child, from the cgroup) and the peak the
n = 10^6 VJPs report. The rubric's comments quote these figures.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO)]

from tests import cgroup_limits  # noqa: E402
from tests.hw3testing import HW3, write_submission  # noqa: E402

STYLES = REPO / "tests" / "corpus" / "correct_styles"
GRADE_ONE = """
import json, sys
from grader.assignment import default
from grader.runner import grade
result = grade(sys.argv[1], default())
json.dump({o.check_id: {"status": o.status.value, "duration": o.duration, "message": o.message}
           for o in result.outcomes}, open(sys.argv[2], "w"))
"""


def grade_in_cgroup(folder: Path, out: Path, cpus: float, memory_mb: int) -> tuple[dict, cgroup_limits.Usage | None]:
    command = [sys.executable, "-c", GRADE_ONE, str(folder), str(out)]
    why_not = cgroup_limits.available()
    if why_not:
        print(f"  (no cgroup: {why_not}; graded without limits)")
        subprocess.run(command, check=True, cwd=REPO)
        return json.loads(out.read_text()), None
    with cgroup_limits.GradescopeLimits(memory_mb, cpus) as limits:
        limits.run(command, check=True, cwd=REPO)
        return json.loads(out.read_text()), limits.usage()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpus", type=float, default=cgroup_limits.GRADESCOPE_CPUS)
    parser.add_argument("--memory-mb", type=int, default=cgroup_limits.GRADESCOPE_MEMORY_MB)
    parser.add_argument("--styles", nargs="*", default=None)
    args = parser.parse_args()
    rubric = HW3.load_rubric()
    work = Path(tempfile.mkdtemp(prefix="hw3grade-limits-"))
    folders = {"reference": write_submission(work / "reference")}
    for style in sorted(p for p in STYLES.iterdir() if p.is_dir()):
        if args.styles is None or style.name in args.styles:
            folders[style.name] = style
    results, usages = {}, {}
    for name, folder in folders.items():
        print(f"grading {name} ({args.cpus:g} CPU, {args.memory_mb} MB) ...", flush=True)
        results[name], usages[name] = grade_in_cgroup(folder, work / f"{name}.json", args.cpus, args.memory_mb)
    print(f"\n{'check':34} {'limit':>6} {'slowest style':>18} {'time':>7} {'margin':>7}   not passed")
    for entry in rubric.checks:
        times = {name: r[entry.id]["duration"] for name, r in results.items()}
        slowest = max(times, key=times.get)
        failed = [n for n, r in results.items() if r[entry.id]["status"] != "passed"]
        margin = entry.timeout / times[slowest] if times[slowest] > 0 else float("inf")
        print(f"{entry.id:34} {entry.timeout:>5g}s {slowest:>18} {times[slowest]:>6.2f}s {margin:>6.1f}x   "
              f"{', '.join(failed)}")
    print(f"\n{'grading':18} {'score':>6} {'total s':>8} {'peak MB (cgroup)':>17} {'VJP peak MB':>12}")
    for name, result in results.items():
        passed = sum(1 for r in result.values() if r["status"] == "passed")
        total = sum(r["duration"] for r in result.values())
        usage = usages[name]
        peaks = re.findall(r"peak memory (\d+) MB", result["Q2.vjp_large"]["message"])
        print(f"{name:18} {passed:>3}/{len(result):<3} {total:>7.1f} "
              f"{(f'{usage.peak_mb:.0f}' + (' OOM' if usage.oom_kills else '')) if usage else '-':>17} "
              f"{max(map(int, peaks)) if peaks else '-':>12}")
    print(f"\nlimits.memory_mb: {rubric.limits.memory_mb} MB above torch in the child; "
          f"Gradescope's container: {args.memory_mb} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
