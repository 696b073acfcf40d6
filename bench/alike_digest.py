"""Time and peak memory of the "answers alike" code digest on the densest sources, at the cap.

    python bench/alike_digest.py [--shapes lines sum ...] [--before /work/main [--before-kb 1990]]

For each shape of tests/dense_sources.py (and examples/correct, the reference, as a baseline), a fresh
Python computes grader.analysis.alike.code_digest of a folder holding one file of that shape, as large
as the digest still parses (the most of MAX_SOURCE bytes within MAX_TOKENS tokens: the worst case),
under a 3 GB address-space cap, and reports its wall time, what the digest added to its peak RSS, and
its outcome. A last row per shape shows the refusal just over the bound. With --before, each shape
also goes through another checkout's grader (e.g. main before the bound) at --before-kb (its cap),
and the line ends with the ratios of this tree's worst time and memory to that one's.
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

from tests.dense_sources import SHAPES, largest_compared  # noqa: E402

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
    parser.add_argument("--before", type=Path, help="another checkout to compare with (its grader package)")
    parser.add_argument("--before-kb", type=float, default=1990, help="size for --before, in kB (its cap)")
    args = parser.parse_args(argv)
    print(f"{'shape':<13} {'kB':>6} {'seconds':>8} {'+RSS MB':>8}  outcome"
          + ("  | before: kB, s, MB; ratios" if args.before else ""))
    with tempfile.TemporaryDirectory(prefix="alike-digest-") as tmp:
        show("reference", HERE.parent / "examples" / "correct")
        for shape in args.shapes:
            worst = largest_compared(shape)
            before = None
            if args.before:
                before = (measure(write(Path(tmp) / "before", SHAPES[shape](int(args.before_kb * 1000))),
                                  args.before.resolve()), args.before_kb)
            show(shape, write(Path(tmp) / shape, SHAPES[shape](worst)), before)
            show("  +1 kB", write(Path(tmp) / shape, SHAPES[shape](worst + 1000)))
    return 0


def write(folder: Path, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "scratchpad.py").write_text(text)
    return folder


def show(name: str, folder: Path, before: tuple[dict, float] | None = None) -> None:
    kb = sum(f.stat().st_size for f in folder.rglob("*.py")) / 1000
    m = measure(folder, HERE.parent)
    line = f"{name:<13} {kb:6.0f} {m['seconds']:8.2f} {m['added_mb']:8.1f}  {m['outcome'][:50]}"
    if before:
        b, b_kb = before
        line += (f"  | {b_kb:.0f} kB, {b['seconds']:.2f} s, {b['added_mb']:.0f} MB; "
                 f"x{m['seconds'] / b['seconds']:.3f} time, x{m['added_mb'] / max(b['added_mb'], 0.1):.3f} memory")
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
