"""What a batch runs when it ends, for the instructor: the analyses (`Analysis`), the records they read,
and `--dry-run` (grader/batch.py calls these)."""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..outcome import GradingResult
from ..report._common import atomic_write
from . import analysis_html, classreport, regrade

if TYPE_CHECKING:   # grader/batch.py imports this module
    from ..batch import BatchSummary

GRADING_FILE = "grading.json"
STAGED = ("grading.json", "results.json")


def records(out: Path, ids) -> dict[str, dict]:
    """Each submission's grading.json as it is on disk (any fingerprint), by id."""
    found = {}
    for sid in ids:
        try:
            data = json.loads((out / sid / GRADING_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("result"), dict):
            found[sid] = data
    return found


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


def dry_run(folder: Path, out: Path, options: dict, run: Callable[..., BatchSummary]) -> BatchSummary:
    """Grade into a staging folder inside OUT (the unchanged results are copied, not regraded),
    compare with OUT's results, and remove the staging folder: nothing in OUT is replaced; the
    changes found go to OUT/regrade-dry-run.csv (regrade.csv's columns)."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dry-run-", dir=out))
    try:
        old = records(out, [p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")])
        for sid in old:
            (staging / sid).mkdir()
            for name in STAGED:
                if (out / sid / name).is_file():
                    shutil.copy2(out / sid / name, staging / sid / name)
        summary = run(folder, staging, **options, analysis=False, exclude=(out,))
        new = records(staging, old)
        impact = regrade.impact_of(_generation(old), _generation(new), "dry-run")
        atomic_write(out / regrade.DRY_RUN_CSV_NAME, regrade.csv_text(list(impact.changes)).encode())
        return _with_impact(summary, impact)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _generation(recs: dict[str, dict]) -> dict[str, tuple[str | None, GradingResult]]:
    return {sid: (r.get("content"), GradingResult.from_dict(r["result"])) for sid, r in recs.items()}


def _with_impact(summary: BatchSummary, impact: regrade.Impact) -> BatchSummary:
    return dataclasses.replace(summary, impact=impact)
