"""The batch's progress: a rich bar (count, rate, ETA), one line per grading, or nothing."""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from ..outcome import GradingResult
from .discovery import BatchItem

if TYPE_CHECKING:   # rich is imported only when a bar is shown
    from rich.progress import Progress


class Reporter:
    """A rich progress bar (count, rate, ETA), one line per grading, or nothing."""

    def __init__(self, mode: str | None, total: int, items: int, skipped: int) -> None:
        self.mode, self.total = (mode or None), total
        self.done = 0
        self.started = time.monotonic()
        self._bar: Progress | None = None
        if self.mode:
            self._print(f"{items} submissions: {total} to grade, {skipped} unchanged since the last run")

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def __enter__(self) -> "Reporter":
        if self.mode == "bar" and self.total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=Console(stderr=True), speed_estimate_period=300)
            self._bar.__enter__()
            self._task = self._bar.add_task("grading", total=self.total, rate="")
        return self

    def advance(self, item: BatchItem, result: GradingResult) -> None:
        self.done += 1
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed * 60
        if result.grader_failure:
            self._print(f"grader failure on {item.submission_id}: {result.grader_failure.splitlines()[0]}")
        if self._bar is not None:
            self._bar.update(self._task, advance=1, rate=f"{rate:.1f}/min")
        elif self.mode == "lines":
            left = (self.total - self.done) / (self.done / elapsed)
            self._print(f"[{self.done}/{self.total}] {item.submission_id}: {result.score:g}/{result.max_score:g} "
                        f"({rate:.1f}/min, ETA {_duration(left)})")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
