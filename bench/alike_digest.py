"""Time and peak memory of the "answers alike" code digest on the densest sources, at the cap.

    python bench/alike_digest.py [--shapes lines sum ...] [--kb 256] [--before /work/main]

For each shape of tests/dense_sources.py (and examples/correct, the reference, as a baseline), a fresh
Python computes grader.analysis.alike.code_digest of a folder holding one file of that shape, of the
size the digest reads at most (alike.MAX_SOURCE, or --kb), under a 3 GB address-space cap, and reports
its wall time, what the digest added to its peak RSS, and its outcome (a digest, or "not compared" and
why). With --before, the same file also goes through another checkout's grader (e.g. main before the
bound) and the line ends with the ratios of this tree's time and memory to that one's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from grader.analysis import alike  # noqa: E402
from tests.dense_sources import SHAPES  # noqa: E402

AS_CAP = 3 * 2**30

PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    sys.path.insert(0, sys.argv[3])
    from grader.analysis import alike

    def hwm():
        return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

    before, start = hwm(), time.perf_counter()
    try:
        outcome = "digest" if alike.code_digest(Path(sys.argv[1])) else "no digest"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"seconds": time.perf_counter() - start, "added_mb": hwm() - before, "outcome": outcome}))
""")


def measure(folder: Path, tree: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(folder), str(AS_CAP), str(tree)], capture_output=True,
                          text=True, cwd=tree, timeout=3600)
    if done.returncode:
        return {"seconds": float("nan"), "added_mb": float("nan"), "outcome": f"died: {done.stderr[-120:]}"}
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--kb", type=float, default=alike.MAX_SOURCE / 1000, help="source size in kB (1000 bytes)")
    parser.add_argument("--before", type=Path, help="another checkout to compare with (its grader package)")
    args = parser.parse_args(argv)
    size = int(args.kb * 1000)
    print(f"{'shape':<13} {'kB':>6} {'seconds':>8} {'+RSS MB':>8}  outcome" + ("  | before: s, MB; ratios" * bool(args.before)))
    with tempfile.TemporaryDirectory(prefix="alike-digest-") as tmp:
        cases = [("reference", HERE.parent / "examples" / "correct")]
        for shape in args.shapes:
            folder = Path(tmp) / shape
            folder.mkdir()
            (folder / "scratchpad.py").write_text(SHAPES[shape](size - 100))
            cases.append((shape, folder))
        for name, folder in cases:
            kb = sum(f.stat().st_size for f in folder.rglob("*.py")) / 1000
            m = measure(folder, HERE.parent)
            line = f"{name:<13} {kb:6.0f} {m['seconds']:8.2f} {m['added_mb']:8.1f}  {m['outcome'][:60]}"
            if args.before:
                b = measure(folder, args.before.resolve())
                line += (f"  | {b['seconds']:.2f} s, {b['added_mb']:.0f} MB; x{m['seconds'] / b['seconds']:.3f} time, "
                         f"x{m['added_mb'] / max(b['added_mb'], 0.1):.3f} memory")
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
