"""The checks of a check package: each module's own `CheckList`, read after importing it.

A check belongs to the module whose `CHECKS` list it was added to: a module that imports another
(a hidden-check module taking helpers from its problem's module) lists only its own, whatever was
imported first, and importing a module again adds nothing.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Iterable

from .base import Check, CheckList


def check_modules(package: str) -> tuple[str, ...]:
    """Every module of the check package (discovered: adding a file adds its checks); `_private` ones hold helpers."""
    found = importlib.import_module(package)
    return tuple(f"{package}.{info.name}" for info in pkgutil.iter_modules(found.__path__)
                 if not info.name.startswith("_"))


def load_checks(package: str, extra: Iterable[Check] = ()) -> dict[str, Check]:
    """{check id: Check} of every module of `package`, then `extra` (an assignment's unittest checks)."""
    found: dict[str, Check] = {}
    declared_by: dict[str, str] = {}
    for name in check_modules(package):
        for check in declared_in(importlib.import_module(name)):
            _add(found, declared_by, check, name)
    for check in extra:
        _add(found, declared_by, check, check.declared_in or "the assignment's unittest files")
    return found


def declared_in(module) -> tuple[Check, ...]:
    """The checks `module` itself declares: its `CHECKS` list, when that list is its own (not imported)."""
    checks = vars(module).get("CHECKS")
    if isinstance(checks, CheckList) and checks.module == module.__name__:
        return tuple(checks)
    return ()


def _add(found: dict[str, Check], declared_by: dict[str, str], check: Check, where: str) -> None:
    if check.id in found:
        raise ValueError(f"check {check.id!r} is declared twice: in {declared_by[check.id]} and in {where}")
    found[check.id] = check
    declared_by[check.id] = where
