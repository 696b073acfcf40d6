"""Notebooks of a given size and shape, written as a stream (never held whole), for the tests and
bench/notebook_size.py: the measured attacks of issue 17 and the honest shapes of large notebooks.

- ``statements``: one code cell of `a = 1` lines (the attack: 3.5 MB is half a million statements);
- ``constants``: one code cell of distinct constants ``c123 = 123`` (the quadratic conversion);
- ``empty_cells``: ``{}`` cells, three bytes each (the reader's per-cell overhead);
- ``many_cells``: code cells of a small function each, with a short printed output;
- ``one_big_cell``: one code cell whose source is a long list literal;
- ``big_outputs``: a few code cells, each with a long printed log (outputs are skipped unread).
"""
from __future__ import annotations

import json
from pathlib import Path

_HEAD = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
_TAIL = "]}"


def _cell(source: str, outputs: list | None = None) -> str:
    return json.dumps({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": outputs or [],
                       "source": source})


def _write(path: Path, size: int, piece, first: str = "") -> Path:
    """`first`, then pieces `piece(i)` (JSON cells, comma-separated) until the file holds `size` bytes."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_HEAD + first)
        written, i = len(_HEAD) + len(first), 0
        while written < size:
            text = ("," if first or i else "") + piece(i)
            fh.write(text)
            written += len(text)
            i += 1
        fh.write(_TAIL)
    return path


def _one_cell(path: Path, size: int, line) -> Path:
    """One code cell whose source is a list of `line(i)`, up to `size` bytes."""
    with open(path, "w", encoding="utf-8") as fh:
        head = _HEAD + '{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ['
        fh.write(head)
        written, i = len(head), 0
        while written < size:
            text = ("," if i else "") + json.dumps(line(i))
            fh.write(text)
            written += len(text)
            i += 1
        fh.write("]}" + _TAIL)
    return path


def statements(path: Path, size: int) -> Path:
    return _one_cell(path, size, lambda i: "a = 1\n")


def constants(path: Path, size: int) -> Path:
    return _one_cell(path, size, lambda i: f"c{i} = {i}\n")


def one_big_cell(path: Path, size: int) -> Path:
    return _one_cell(path, size, lambda i: ("DATA = [\n" if i == 0 else f"    {i}.25, {i}.5, {i}.75,\n"))


def empty_cells(path: Path, size: int) -> Path:
    return _write(path, size, lambda i: "{}")


def many_cells(path: Path, size: int) -> Path:
    log = [{"output_type": "stream", "name": "stdout", "text": [f"step {k}: loss 0.{k:04d}\n" for k in range(60)]}]
    return _write(path, size, lambda i: _cell(f"def f{i}(x):\n    return x * {i}\n\nprint(f{i}(2))\n", log))


def big_outputs(path: Path, size: int) -> Path:
    lines = [f"epoch {k} loss 0.{k:06d} \\u00e9 \"ok\"\n" for k in range(20_000)]
    log = [{"output_type": "stream", "name": "stdout", "text": lines}]
    return _write(path, size, lambda i: _cell(f"def g{i}(x):\n    return x + {i}\n", log),
                  first=_cell("import torch\n"))


SHAPES = {"statements": statements, "constants": constants, "empty_cells": empty_cells,
          "many_cells": many_cells, "one_big_cell": one_big_cell, "big_outputs": big_outputs}
