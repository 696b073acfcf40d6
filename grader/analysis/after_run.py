"""What a batch runs when it ends, for the instructor: the analyses (`Analysis`; grader/batch/run.py calls it)."""
from __future__ import annotations

from pathlib import Path

from . import analysis_html, classreport, regrade

class Analysis:
    """Run at the end of a batch: the re-grade impact (regrade.csv), checks.csv, and the report's sections."""

    def __init__(self, out: Path, setup: str, contents: dict[str, str | None], paths: dict[str, Path],
                 complete: bool) -> None:
        self.out, self.setup, self.contents, self.paths, self.complete = out, setup, contents, paths, complete
        self.impact: regrade.Impact | None = None

    def sections(self, rows) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(top, bottom) sections for report.html. Each analysis fails alone, and within it each
        submission (grader/analysis/classreport.py): never the batch's end, never the report."""
        results = {row.submission_id: row.result for row in rows}
        try:
            current = {sid: (self.contents.get(sid), r) for sid, r in results.items()}
            self.impact = regrade.conclude(self.out, self.setup, current, self.complete)
            impact: regrade.Impact | str = self.impact
        except Exception as exc:
            impact = f"{type(exc).__name__}: {exc}"
        try:
            built = classreport.build(self.out, results, self.paths, impact)
            return built.top, built.bottom
        except Exception as exc:   # a bug of ours outside every analysis: one line, the report still written
            return (analysis_html.unavailable("Instructor analyses", exc),), ()
