"""Time and peak memory of reading and converting notebooks, 1 MB to 200 MB (the zip's limit).

    python bench/notebook_size.py [--shapes constants many_cells ...] [--sizes 1 2 4 ...] [--confined]

For each shape of tests/notebook_shapes.py and each size, a fresh Python reads and converts the
notebook (grader.notebook.module_text, in its own process, under a 2 GB address-space cap) and
reports its wall time and what the conversion added to its peak RSS; the table prints both per
MB of notebook, which stay about flat when time and memory are linear in the size. A notebook the
reader refuses (more than MAX_SOURCE_BYTES of code, more than MAX_CELLS cells) shows its refusal:
that is a bound too, reached in time linear in what was read. With --confined, each notebook also
goes through grader.confined_notebook.convert, the grader's own path, and its outcome is shown.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from tests.notebook_shapes import SHAPES  # noqa: E402

SIZES_MB = (1, 2, 4, 8, 16, 32, 64, 128, 200)
AS_CAP = 2 * 2**30

PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    from grader.notebook import NotebookError, module_text

    def hwm():
        return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

    before, start = hwm(), time.perf_counter()
    try:
        text, notes = module_text(Path(sys.argv[1]))
        outcome = f"converted ({len(text) / 2**20:.1f} MB of module)"
    except NotebookError as exc:
        outcome = "refused: " + str(exc)[:70]
    except MemoryError:
        outcome = "MemoryError (over the 2 GB cap)"
    print(json.dumps({"seconds": time.perf_counter() - start, "added_mb": hwm() - before, "outcome": outcome}))
""")


def measure(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), str(AS_CAP)], capture_output=True, text=True,
                          cwd=HERE.parent, timeout=3600)
    if done.returncode:
        return {"seconds": float("nan"), "added_mb": float("nan"), "outcome": f"died: {done.stderr[-200:]}"}
    return json.loads(done.stdout)


def confined(path: Path) -> str:
    from grader.assignment import default
    from grader.confined_notebook import ConversionFailed, NotebookRefused, convert

    start = time.perf_counter()
    try:
        convert([path], path.with_suffix(".py"), default())
        outcome = "converted"
    except (NotebookRefused, ConversionFailed) as exc:
        outcome = str(exc)[:60]
    return f"{time.perf_counter() - start:6.1f} s  {outcome}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--sizes", nargs="+", type=float, default=list(SIZES_MB), help="sizes in MB")
    parser.add_argument("--confined", action="store_true", help="also convert through the confined child")
    args = parser.parse_args(argv)
    print(f"{'shape':<13} {'MB':>6} {'seconds':>8} {'s/MB':>7} {'+RSS MB':>8} {'RSS/MB':>7}  outcome")
    with tempfile.TemporaryDirectory(prefix="notebook-size-") as folder:
        for shape in args.shapes:
            for size in args.sizes:
                path = SHAPES[shape](Path(folder) / "hw3.ipynb", int(size * 2**20))
                mb = path.stat().st_size / 2**20
                m = measure(path)
                line = (f"{shape:<13} {mb:6.1f} {m['seconds']:8.2f} {m['seconds'] / mb:7.3f} {m['added_mb']:8.1f} "
                        f"{m['added_mb'] / mb:7.2f}  {m['outcome']}")
                if args.confined:
                    line += f"  | confined: {confined(path)}"
                print(line, flush=True)
                path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
