"""The checks of an assignment: every module of its check package, imported once and discovered."""
from __future__ import annotations

import importlib

from .base import CHECKS, Check


def load_checks(assignment=None) -> dict[str, Check]:
    """Import every declaration module of the assignment (the active one by default) once;
    returns {check id: Check} of the checks it declares."""
    from ..assignment import active

    assignment = assignment or active()
    for name in assignment.check_modules():
        importlib.import_module(name)
    package = assignment.checks + "."
    found = {cid: check for cid, check in CHECKS.items() if check.declared_in.startswith(package)}
    return {**found, **_unittest_checks(assignment)}


def _unittest_checks(assignment) -> dict[str, Check]:
    """The assignment's gradescope-utils tests, one check each (grader/unittests.py)."""
    if not assignment.unittests:
        return {}
    from .. import unittests

    tests = [t for path in assignment.unittests for t in unittests.discover(path)]
    unittests.register_checks(tests, assignment.modules)
    return {t.id: CHECKS[t.id] for t in tests}
