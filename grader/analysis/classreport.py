"""What the batch tells an instructor after the deadline, beyond the gradebook: item analysis
(OUT/checks.csv, flags), re-grade impact (OUT/regrade.csv) and answers alike, as report sections.

Reads the results only (and each submission's source, parsed, never run); writes nothing a
student sees."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from ..outcome import GradingResult, Status
from ..report._common import atomic_write
from . import alike, analysis_html, items
from .regrade import Impact

CHECKS_CSV = "checks.csv"
STATUSES = tuple(s.value for s in Status)
T = TypeVar("T")


@dataclass(frozen=True)
class Sections:
    top: tuple[str, ...]
    bottom: tuple[str, ...]


def isolated(analysis: str, results: dict[str, GradingResult],
             each: Callable[[str, GradingResult], T]) -> tuple[dict[str, T], list[str]]:
    """`each(id, result)` for every submission: one that raises costs this analysis of that
    submission only, and a note names it (never the batch, the report, or the others)."""
    values: dict[str, T] = {}
    notes: list[str] = []
    for sid, result in results.items():
        try:
            values[sid] = each(sid, result)
        except alike.NotCompared as exc:   # over a bound the analysis keeps: why, not a failure
            notes.append(f"{analysis}: submission {sid} not compared ({exc})")
        except Exception as exc:   # RecursionError, MemoryError, a bug on odd input: this one only
            notes.append(f"{analysis}: submission {sid} could not be analysed ({type(exc).__name__})")
    return values, notes


def section(title: str, build: Callable[[], str]) -> str:
    """One analysis's section; if the analysis fails as a whole, a line saying so in its place."""
    try:
        return build()
    except Exception as exc:
        return analysis_html.unavailable(title, exc)


def build(out: Path, results: dict[str, GradingResult], paths: dict[str, Path], impact: Impact | str) -> Sections:
    """Write OUT/checks.csv; the report's sections (flags and re-grade on top, the rest below).
    Each analysis runs apart from the others, and each submission apart within it (`isolated`).
    `impact`: the re-grade impact, or why it could not be worked out."""
    usable, item_notes = isolated("item analysis", items.analysable(results), _item_ready)
    stats: list[items.CheckStats] | Exception
    try:
        stats = items.analyse(usable)
        atomic_write(out / CHECKS_CSV, checks_csv(stats).encode("utf-8"))
    except Exception as exc:   # the two sections built on it say so, the others stand
        stats = exc

    def item_stats() -> list[items.CheckStats]:
        if isinstance(stats, Exception):
            raise stats
        return stats

    flags = section("Checks that may be wrong", lambda: analysis_html.flags_section(
        items.flags(item_stats(), usable), len(usable), item_notes))
    regrade_part = (analysis_html.unavailable("Re-grade impact", impact) if isinstance(impact, str)
                    else section("Re-grade impact", lambda: analysis_html.regrade_section(impact)))
    problems = section("Score distribution of each problem", lambda: analysis_html.problems_section(usable))
    checks = section("Item analysis of each check", lambda: analysis_html.checks_section(item_stats(), item_notes))
    alike_part = section("Answers alike (to review)", lambda: _alike(results, paths))
    return Sections(top=(flags, regrade_part), bottom=(problems, checks, alike_part))


def _item_ready(sid: str, result: GradingResult) -> GradingResult:
    """What the item analysis reads of one submission, read once alone: it raises here, not amid the class."""
    items.analyse({sid: result})
    result.by_problem()
    return result


def _alike(results: dict[str, GradingResult], paths: dict[str, Path]) -> str:
    usable, notes = isolated("answers alike", items.analysable(results), _answers_ready)
    digests, code_notes = isolated("answers alike", {s: r for s, r in results.items() if s in paths},
                                   lambda sid, _: alike.code_digest(paths[sid]))
    return analysis_html.alike_section(alike.clusters(usable), alike.identical_code(digests), notes + code_notes)


def _answers_ready(sid: str, result: GradingResult) -> GradingResult:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in result.answers.items()):
        raise TypeError("fingerprints that are not text")
    return result


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
