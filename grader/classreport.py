"""What the batch tells an instructor after the deadline, beyond the gradebook: item analysis
(OUT/checks.csv, flags), re-grade impact (OUT/regrade.csv) and answers alike, as report sections.

Reads the results only (and each submission's source, parsed, never run); writes nothing a
student sees."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from . import alike, items
from .outcome import GradingResult, Status
from .regrade import Impact
from .report import analysis_html
from .report._common import atomic_write

CHECKS_CSV = "checks.csv"
STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class Sections:
    top: tuple[str, ...]
    bottom: tuple[str, ...]


def build(out: Path, results: dict[str, GradingResult], paths: dict[str, Path], impact: Impact) -> Sections:
    """Write OUT/checks.csv; the report's sections (flags and re-grade on top, the rest below)."""
    usable = items.analysable(results)
    stats = items.analyse(usable)
    atomic_write(out / CHECKS_CSV, checks_csv(stats).encode("utf-8"))
    found = items.flags(stats, usable)
    clusters = alike.clusters(usable)
    code = alike.identical_code({sid: alike.code_digest(path) for sid, path in paths.items() if sid in results})
    return Sections(
        top=(analysis_html.flags_section(found, len(usable)), analysis_html.regrade_section(impact)),
        bottom=(analysis_html.problems_section(usable), analysis_html.checks_section(stats),
                analysis_html.alike_section(clusters, code)))


def checks_csv(stats: list[items.CheckStats]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["check_id", "problem", "points", "graded", *STATUSES, "pass_rate", "discrimination",
                     "upper_lower", "common_message", "common_message_count"])
    for s in stats:
        writer.writerow([s.check_id, s.problem, f"{s.max_score:g}", s.graded, *(s.counts.get(k, 0) for k in STATUSES),
                         _fmt(s.pass_rate), _fmt(s.discrimination), _fmt(s.upper_lower), _cell(s.message),
                         s.message_count])
    return buffer.getvalue()


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def _cell(text: str) -> str:
    """Never a spreadsheet formula (a message may start with -, =, + or @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
