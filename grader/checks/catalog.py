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
    return {cid: check for cid, check in CHECKS.items() if check.declared_in.startswith(package)}
