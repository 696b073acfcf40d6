"""One grading the batch owes: a submission, its fingerprint, and how it went so far."""
from __future__ import annotations

from dataclasses import dataclass

from .discovery import BatchItem


@dataclass
class Task:
    item: BatchItem
    stamp: str | None
    attempts: int = 0
    alone: bool = False          # its worker died once: graded again with nothing else running
