"""Probe kinds: what the child can be asked to do, by name.

A probe receives the `Student` and the decoded parameters of the request and
returns plain data (anything `wire.encode` takes). Arrays in the parameters arrive
as float64/int64 torch tensors, ``{"__fn__": ...}`` specs as callables (`callables.py`).
Per-problem probes live in their own modules of this package and register here.
"""
from __future__ import annotations

from typing import Any, Callable

PROBES: dict[str, Callable[..., Any]] = {}


def probe(name: str):
    """Register a probe kind under `name`."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in PROBES:
            raise ValueError(f"probe kind {name!r} is registered twice")
        PROBES[name] = func
        return func

    return register


@probe("call")
def call(student, target: str, args: tuple = (), kwargs: dict | None = None) -> Any:
    """Call one student function and return what it returned."""
    return student.resolve(target)(*args, **(kwargs or {}))


@probe("value")
def value(student, target: str) -> Any:
    """Read a module-level constant (an answer the template leaves as None); the template's
    placeholder None is "not started"."""
    found = student.resolve(target)
    if found is None:
        raise NotImplementedError(f"{target.partition('.')[2]} is still None")
    return found
