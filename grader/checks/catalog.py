"""Every check declaration, one module per problem key (p1.py ... q8.py)."""
from __future__ import annotations

import importlib

from .base import CHECKS, Check

PROBLEM_MODULES = ("p1", "p2", "p3", "p4", "p5", "p6", "p7", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8")


def load_checks() -> dict[str, Check]:
    """Import every declaration module once; returns the registry {check id: Check}."""
    for name in PROBLEM_MODULES:
        qualified = f"{__package__}.{name}"
        try:
            importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise
    return CHECKS
