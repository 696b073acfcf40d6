"""Reading a notebook costs memory in proportion to its code, never to its outputs (issue 11, item 5).

A notebook with a huge output cell (one 128 MB image string, or 2.5 million printed lines)
is converted in a fresh process, which reports its own peak RSS (VmHWM) before and after:
the conversion may add a few MB, far below the outputs' size (the whole-file JSON reader
it replaced peaked at about 3x the file: 1.2 GB for a 400 MB output cell).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.hw3testing import HW3

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "corpus" / "correct_styles" / "notebook" / "hw3.ipynb"
#: What converting may add to the process's peak RSS, whatever the outputs' size.
BOUND_MB = 24


def write_with_huge_output(path: Path, megabytes: int, shape: str) -> int:
    """hw3.ipynb with one output of `megabytes` MB in its 10th cell, written without holding it."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = nb.pop("cells")
    size = megabytes * 2**20
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(nb)[:-1] + ', "cells": [')
        for i, cell in enumerate(cells):
            fh.write(", " if i else "")
            if i != 10:
                fh.write(json.dumps(cell))
                continue
            head = json.dumps({**cell, "outputs": []})
            fh.write(head[: head.index('"outputs": []')] + '"outputs": [')
            if shape == "string":   # a plot: one base64 string
                fh.write('{"output_type": "display_data", "metadata": {}, "data": {"image/png": "')
                block, end = "iVBORw0KGgoAAAANSUhEUgAA" * 43690, '\\n"}}'
            else:                   # a training log: a list of short lines, with escapes
                fh.write('{"output_type": "stream", "name": "stdout", "text": [')
                block, end = '"epoch 12 loss 0.0123 \\u00e9 \\"ok\\" \\\\\\n", ' * 20000, '"done\\n"]}'
            written = 0
            while written < size:
                fh.write(block)
                written += len(block)
            fh.write(end + "]" + head[head.index('"outputs": []') + len('"outputs": []'):])
        fh.write("]}")
    return path.stat().st_size


PROBE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from grader.notebook import code_cells, notebook_to_module

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    modules, constants = json.loads(sys.argv[3])      # the contract, as the grader hands it to the converter
    before = hwm()
    notes = notebook_to_module(Path(sys.argv[1]), Path(sys.argv[2]), tuple(modules), frozenset(constants))
    cells = code_cells(Path(sys.argv[1]))
    print(json.dumps({"before": before, "after": hwm(), "cells": len(cells), "notes": notes}))
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("shape, megabytes", [("string", 128), ("lines", 96)])
def test_a_huge_output_costs_no_memory(tmp_path, shape, megabytes):
    path = tmp_path / "hw3.ipynb"
    size = write_with_huge_output(path, megabytes, shape)
    assert size > megabytes * 2**20
    contract = json.dumps([list(HW3.modules), sorted(HW3.constants)])
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), str(tmp_path / "m.py"), contract],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["after"] - report["before"] < BOUND_MB, report
    assert report["cells"] == 32
    # the module is what the notebook without its huge output gives
    plain = tmp_path / "plain"
    plain.mkdir()
    from grader.notebook import notebook_to_module

    assert notebook_to_module(NOTEBOOK, plain / "m.py", HW3.modules, HW3.constants) == report["notes"]
    assert (plain / "m.py").read_text().splitlines()[1:] == (tmp_path / "m.py").read_text().splitlines()[1:]
