"""A code cell's Python, as IPython runs it.

Line magics, ``!shell`` lines and ``?help`` are left out (replaced by ``pass``, so line numbers
stay the cell's); a cell that starts with a cell magic which runs its body as the notebook's
Python in its namespace (``%%time``, ``%%capture``) is read without that line, and any other cell
magic (``%%timeit``, ``%%bash``, ``%%writefile``, an unknown one) makes its cell define nothing
(:mod:`grader.notebook.cell_magics` says which and why).

Standard library only: nothing of the notebook runs here.
"""
from __future__ import annotations

import ast
import re

from .cell_magics import CellMagic, leading_cell_magic


_MAGIC = re.compile(r"^(\s*)(%|!|\?|[A-Za-z_][\w.,\s]*=\s*[%!])")   # %magic, !shell, ?help, x = !ls


def cell_python(source: str) -> tuple[str | None, list[CellMagic]]:
    """What of the cell IPython runs as the notebook's Python, in the notebook's namespace, and the
    cell magics it starts with: the body of ``%%time``, ``%%capture`` ... (their lines blanked, so
    line numbers stay the cell's), or None when a magic does not run its body there (``%%bash``,
    ``%%timeit``, an unknown one: see :mod:`.cell_magics`)."""
    magics: list[CellMagic] = []
    while (magic := leading_cell_magic(source)) is not None:   # `%%capture` over `%%time` runs both
        magics.append(magic)
        if not magic.runs_body:
            return None, magics
        source = magic.body
    return source, magics


def without_magics(source: str) -> tuple[str | None, str]:
    """The cell's Python with IPython line magics / shell lines replaced by ``pass`` (line numbers kept).

    Returns ``(None, "%%name")`` for a cell whose cell magic does not run its body as the notebook's Python.
    """
    python, magics = cell_python(source)
    if python is None:
        return None, "%%" + magics[-1].name
    kept = []
    for line in python.splitlines():
        m = _MAGIC.match(line)
        stripped = line.rstrip()
        if m:
            kept.append(m.group(1) + "pass")
        elif stripped.endswith("?") and not stripped.endswith("\\?") and _is_help(stripped):
            kept.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", ""


def _is_help(line: str) -> bool:
    """``np.linspace?`` / ``obj??``: IPython help, not Python."""
    return re.fullmatch(r"\s*[A-Za-z_][\w.]*\?{1,2}", line) is not None


def parse_cell(source: str) -> ast.Module:
    """Parse what of a cell runs as the notebook's Python, first as is (a ``%`` inside a string must
    survive), then without line magics."""
    python = cell_python(source)[0] or ""
    try:
        return ast.parse(python)
    except SyntaxError:
        cleaned, _ = without_magics(python)
        return ast.parse(cleaned or "")
