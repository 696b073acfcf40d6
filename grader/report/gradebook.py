"""The gradebook CSV of a batch: one row per submission, one column per problem."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from grader.outcome import GradingResult, Status
from grader.report._common import PLACES, atomic_write, by_problem, problem_sort_key, totals

if TYPE_CHECKING:
    from grader.manual import ManualScores


@dataclass(frozen=True)
class BatchRow:
    """One graded submission of a batch, with the students who made it."""

    submission_id: str
    students: tuple[dict, ...]  # each {"name", "email", "sid"}; a group has several
    result: GradingResult


FIXED_COLUMNS = ["submission_id", "names", "emails", "sids", "total", "max_total"]


def row_status(result: GradingResult) -> str:
    """grader_error when our side failed anywhere: check before importing."""
    failed = result.grader_failure or any(o.status is Status.GRADER_ERROR for o in result.outcomes)
    return "grader_error" if failed else "graded"


def write_grades_csv(rows: list[BatchRow], path: str | os.PathLike, manual: "ManualScores | None" = None,
                     order: Sequence[str] = ()) -> Path:
    """Write the CSV atomically, rows sorted by submission_id, so reruns give the same file; problem
    columns in `order` (the rubric's problem keys), others after them.
    `manual`: hand-graded scores (grader/manual.py): one column per part, counted in `total`,
    `max_total` and their problem's column; an empty cell is missing (named in `manual_missing`), not 0."""
    rows = sorted(rows, key=lambda r: r.submission_id)
    parts = manual.parts if manual else ()
    problems = sorted({o.problem for r in rows for o in r.result.outcomes} | {p.problem for p in parts},
                      key=lambda key: problem_sort_key(key, order))
    extra = [p.id for p in parts] + (["manual_missing"] if manual else [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIXED_COLUMNS + problems + extra + ["status"])
    writer.writeheader()
    for r in rows:
        score, max_score = totals(r.result.outcomes)
        per_problem = by_problem(r.result.outcomes)
        hand: dict[str, float | None] = {}
        if manual:
            hand = manual.of(r.submission_id)
            for key, (got, top) in manual.by_problem(r.submission_id).items():
                old = per_problem.get(key, (0.0, 0.0))
                per_problem[key] = (old[0] + got, old[1] + top)
            score += sum(v for v in hand.values() if v is not None)
            max_score += sum(p.points for p in parts)
        writer.writerow({
            "submission_id": _cell(r.submission_id),
            "names": _joined(r.students, "name"),
            "emails": _joined(r.students, "email"),
            "sids": _joined(r.students, "sid"),
            "total": _number(score),
            "max_total": _number(max_score),
            # a problem with no outcome in this row (a grader failure) stays blank, not 0
            **{p: _number(per_problem[p][0]) for p in problems if p in per_problem},
            **{pid: "" if v is None else _number(v) for pid, v in hand.items()},
            **({"manual_missing": " ".join(manual.missing(r.submission_id))} if manual else {}),
            "status": row_status(r.result),
        })
    return atomic_write(path, buf.getvalue().encode("utf-8"))


def _joined(students: tuple[dict, ...], key: str) -> str:
    return "; ".join(_cell(s.get(key, "")) for s in students)


def _cell(value: object) -> str:
    """Text as written, except that a leading = + - @ is quoted: a student's name must not
    become a formula when the gradebook is opened in a spreadsheet (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(x: float) -> str:
    """2.5 -> "2.5", 3.0 -> "3": plain decimals a spreadsheet reads as numbers."""
    text = f"{round(x, PLACES):.{PLACES}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
