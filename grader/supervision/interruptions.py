"""The register of children disturbed from outside, for the batch to grade them again alone.

"interference": the zygote died or was stopped under a child (the grader's failure);
"suspect": a signal nothing of the grader sent ended the child (`signals.SUSPECT_SIGNALS`), or it
was found stopped (someone else's doing, or its own). grader/zygote.py files those of the
children it forked, grader/sandbox.py those it started itself; grader/batch/worker.py reads them per
grading with a mark.
"""
from __future__ import annotations

import threading

_INTERRUPTIONS: list[tuple[str, str]] = []
_INTERRUPTIONS_LOCK = threading.Lock()


def interruptions() -> int:
    """A mark for `interruptions_since`."""
    with _INTERRUPTIONS_LOCK:
        return len(_INTERRUPTIONS)


def interruptions_since(mark: int) -> list[tuple[str, str]]:
    """(kind, what) for each child disturbed since `mark`: "interference" (the zygote died or was
    stopped under it: the grader's failure) or "suspect" (a signal nothing of the grader sent ended
    it, or it was found stopped: someone else's doing, or its own)."""
    with _INTERRUPTIONS_LOCK:
        return list(_INTERRUPTIONS[mark:])


def note_interruption(kind: str, text: str) -> None:
    """File one (see `interruptions_since`)."""
    with _INTERRUPTIONS_LOCK:
        _INTERRUPTIONS.append((kind, text))
