"""Probe kind ``unittest``: run one test method of an instructor's unittest file in the child.

The file arrives as source text (the child may not read the grader's files: Landlock on an
instructor's machine, another user on Gradescope), is compiled once per child, and its test
runs next to the submission, whose modules import by name. Back comes what happened, as plain
data; the test's points, name and visibility were read by the parent from the file itself
(grader/unittests.py), never from here.
"""
from __future__ import annotations

import contextlib
import hashlib
import sys
import types
import unittest
from typing import Any

from .registry import probe
from .student import ImportFailed

MESSAGE_CHARS = 4000


@probe("unittest")
def run_unittest(student, source: str, filename: str, test: str, modules: list | None = None) -> dict[str, Any]:
    _notebook_stands_in(student, modules or [])
    module = _module(source, filename)
    class_name, _, method = test.partition(".")
    case = getattr(module, class_name)(method)
    result = unittest.TestResult()
    case.run(result)
    score = getattr(getattr(type(case), method), "__score__", None)   # gradescope-utils' set_score
    problems = result.failures or result.errors
    return {"outcome": "passed" if result.wasSuccessful() else "failed" if result.failures else "error",
            "score": float(score) if isinstance(score, (int, float)) else None,
            "message": _last_lines(problems[0][1]) if problems else ""}


def _notebook_stands_in(student, modules: list) -> None:
    """`import stats` in a test finds the submission's stats.py, else the notebook, as a check would
    (stats.py's untouched stubs that the notebook defines are the notebook's, as in a check)."""
    for name in modules:
        if not isinstance(name, str):
            continue
        if student.has_module(name) and student.from_notebook().get(name):
            with contextlib.suppress(ImportFailed):   # the test's own import says it
                student.load(name)
        elif name not in sys.modules and not student.has_module(name):
            notebook = student.notebook_module()
            if notebook is not None:
                sys.modules[name] = notebook


def _module(source: str, filename: str) -> types.ModuleType:
    name = "_unittest_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__file__ = filename
        sys.modules[name] = module
        exec(compile(source, filename, "exec"), module.__dict__)
    return sys.modules[name]


def _last_lines(traceback_text: str) -> str:
    """The assertion's own lines (the end of the traceback), not the frames of unittest."""
    lines = [line for line in traceback_text.rstrip().splitlines() if line.strip(" ^~\t")]
    return "\n".join(lines[-3:])[-MESSAGE_CHARS:]
