"""Probe kind ``unittest``: run one test method of an instructor's unittest file in the child.

The file arrives as source text (the child may not read the grader's files: Landlock on an
instructor's machine, another user on Gradescope), is compiled once per child, and its test
runs next to the submission, whose modules import by name. Back comes what happened, as plain
data; the test's points, name and visibility were read by the parent from the file itself
(grader/unittests.py), never from here.

A verdict is what the engine saw, not what unittest's objects say (issue 17.5): this module
keeps, when it is imported (before any student code), the unittest module, its TestCase's
attributes and the builtins. Each test runs in a fresh copy of the instructor's module, called
by the engine's own code (no TestResult, no TestCase.run: an assertion is an exception the
engine catches itself), with TestCase and the builtins put back first. After the test, anything
of those, of the test module's globals or of its class that changed makes the test an error
that scores nothing. Student code runs in this process, so it can still reach deeper
(sys.settrace, a thread that restores what it patched, an object whose __eq__ or __float__
lies, gradescope-utils' decorators, the score set_score records): README.md says so.
"""
from __future__ import annotations

import builtins
import contextlib
import hashlib
import sys
import traceback
import types
import unittest
from typing import Any

from .registry import probe
from .student import ImportFailed

MESSAGE_CHARS = 4000
TAMPERED = ("The test's own machinery (unittest, its module, its class or the builtins) was changed while it "
            "ran, by the submitted code: the test does not count.")

# what student code may later patch, as it is before any of it runs
_UNITTEST, _TEST_CASE = unittest, unittest.TestCase
_CASE_ATTRS = dict(vars(unittest.TestCase))
_BUILTINS = dict(vars(builtins))
_ASSERTION_ERROR, _SKIP_TEST = AssertionError, unittest.SkipTest
_FORMAT_EXCEPTION = traceback.format_exception


@probe("unittest")
def run_unittest(student, source: str, filename: str, test: str, modules: list | None = None) -> dict[str, Any]:
    _notebook_stands_in(student, modules or [])
    _restore()
    module = _module(source, filename)
    class_name, _, method = test.partition(".")
    cls = module.__dict__[class_name]
    function = _lookup(cls, method)
    before = (dict(module.__dict__), dict(vars(cls)))
    case = cls(method)
    outcome, message = _run(case, function)
    if _tampered(case, module, cls, before):
        outcome, message = "error", TAMPERED
    score = getattr(function, "__score__", None)   # gradescope-utils' set_score
    points = float(score) if type(score) is int or type(score) is float else None   # not a bool, nor a subclass
    return {"outcome": outcome, "score": points, "message": message}


def _run(case: unittest.TestCase, function) -> tuple[str, str]:
    """setUp, the test, tearDown and cleanups, called here: the outcome is the exception seen, if any."""
    try:
        case.setUp()
        try:
            function(case)
        finally:
            case.tearDown()
            case.doCleanups()
    except _ASSERTION_ERROR as exc:
        return "failed", _last_lines(exc)
    except _SKIP_TEST as exc:
        return "failed", f"skipped: {exc}"
    except BaseException as exc:   # student code may raise anything, SystemExit included
        return "error", _last_lines(exc)
    return "passed", ""


def _lookup(cls: type, name: str):
    """The test method as the class defines it (the instance's own attributes left out)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(f"{cls.__name__} has no test {name}")


def _restore() -> None:
    """unittest, TestCase and the builtins as they were before any student code ran."""
    sys.modules["unittest"] = _UNITTEST
    if _UNITTEST.TestCase is not _TEST_CASE:
        _UNITTEST.TestCase = _TEST_CASE   # type: ignore[misc]  # put back: student code replaced it
    for name in set(vars(_TEST_CASE)) - set(_CASE_ATTRS):
        delattr(_TEST_CASE, name)
    for name, value in _CASE_ATTRS.items():
        if vars(_TEST_CASE).get(name) is not value and name not in ("__dict__", "__weakref__"):
            setattr(_TEST_CASE, name, value)
    for name, value in _BUILTINS.items():
        if vars(builtins).get(name) is not value:
            setattr(builtins, name, value)


def _changed(now: dict, before: dict, ignore: tuple[str, ...] = ()) -> bool:
    return set(now) - set(ignore) != set(before) - set(ignore) or any(
        now[k] is not before[k] for k in before if k not in ignore and k in now)


def _tampered(case, module, cls, before: tuple[dict, dict]) -> bool:
    """Whether what decided this test's verdict changed while it ran."""
    if sys.modules.get("unittest") is not _UNITTEST or _UNITTEST.TestCase is not _TEST_CASE:
        return True
    if _changed(dict(vars(_TEST_CASE)), _CASE_ATTRS) or _changed(dict(vars(builtins)), _BUILTINS, ("_",)):
        return True
    if _changed(module.__dict__, before[0]) or _changed(dict(vars(cls)), before[1]):
        return True
    defined = {n for k in cls.__mro__ for n in vars(k)}
    return any(callable(value) and name in defined for name, value in vars(case).items())


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


_CODE: dict[str, types.CodeType] = {}


def _module(source: str, filename: str) -> types.ModuleType:
    """A fresh module of the test file for each test (compiled once): what one test's student code
    did to the module's globals or classes never carries to the next; it is in no sys.modules."""
    name = "_unittest_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    if name not in _CODE:
        _CODE[name] = compile(source, filename, "exec")
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(_CODE[name], module.__dict__)
    return module


def _last_lines(exc: BaseException) -> str:
    """The assertion's own lines (the end of the traceback), not the frames of unittest (those whose
    globals hold `__unittest`, as unittest's own reports leave them out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and "__unittest" not in tb.tb_next.tb_frame.f_globals:
        tb = tb.tb_next      # keep the frames up to the test's own line, cut where unittest's begin
    if tb is not None and tb.tb_next is not None:
        tb.tb_next = None
    text = "".join(_FORMAT_EXCEPTION(type(exc), exc, tb))
    lines = [line for line in text.rstrip().splitlines() if line.strip(" ^~\t")]
    return "\n".join(lines[-3:])[-MESSAGE_CHARS:]
