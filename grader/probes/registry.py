"""Probe kinds: what the child can be asked to do, by name.

A probe receives the `Student` and the decoded parameters of the request and
returns plain data (anything `wire.encode` takes). Arrays in the parameters arrive
as float64/int64 torch tensors, ``{"__fn__": ...}`` specs as callables (`callables.py`).
The assignment's probe kinds live in its probe files and register here too. A kind whose answers
are larger than `wire.DEFAULT_ANSWER_BYTES` says how large they may be (``answer_bytes``); the
child reports those sizes when it is ready, and the parent reads no larger answer of that kind.
"""
from __future__ import annotations

from typing import Any, Callable

from . import wire

PROBES: dict[str, Callable[..., Any]] = {}
#: {probe kind: the largest answer it may send, in bytes}, for the kinds that declare more than the default.
ANSWER_BYTES: dict[str, int] = {}


def probe(name: str, *, answer_bytes: int | None = None):
    """Register a probe kind under `name`; `answer_bytes`: its largest answer, when that is more than
    `wire.DEFAULT_ANSWER_BYTES` (at most `wire.MAX_ANSWER_BYTES`)."""

    if answer_bytes is not None and not (type(answer_bytes) is int and 0 < answer_bytes <= wire.MAX_ANSWER_BYTES):
        raise ValueError(f"probe kind {name!r}: answer_bytes must be a number of bytes up to "
                         f"{wire.MAX_ANSWER_BYTES}, got {answer_bytes!r}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in PROBES:
            raise ValueError(f"probe kind {name!r} is registered twice")
        PROBES[name] = func
        if answer_bytes is not None:
            ANSWER_BYTES[name] = answer_bytes
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
