"""A student's notebook as an importable module: its imports, definitions and constants only.

One job per module, in the order a notebook goes through them:

- :mod:`.reader`: the bounded JSON reader (the trust boundary): the code cells' sources, read as
  a stream with outputs skipped unread, under size, cell and field caps; :class:`NotebookError`.
- :mod:`.cells` and :mod:`.cell_magics`: a cell's Python as IPython runs it (line magics, shell
  lines, and which cell magics run their body in the notebook's namespace).
- :mod:`.syntax`: what a statement reads, binds and calls, from its syntax alone (the cheap whitelist).
- :mod:`.slicer`: the AST slicer that keeps definitions, imports and the constants they need without
  the experiments, and writes the notes for the student (:func:`module_text`, :func:`notebook_to_module`).

When grading, grader/confined_notebook.py reads and slices a notebook in a confined child, under
limits. Standard library only: nothing of the notebook runs here.
"""
from __future__ import annotations

from .reader import NotebookError, code_cells, read_code_cells
from .slicer import count_definitions, module_text, notebook_to_module

__all__ = ["NotebookError", "code_cells", "count_definitions", "module_text", "notebook_to_module",
           "read_code_cells"]
