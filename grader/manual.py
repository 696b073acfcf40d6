"""Hand-graded scores (`hw3grade batch DIR -o OUT --manual scores.csv`): the rubric's `manual:` parts.

scores.csv has one row per student, keyed by the first of these columns it has: `submission_id`,
`email` or `sid`; and one column per `manual:` id of the rubric (a part without a column is
missing for everyone). Name columns (`name`, `names`, `emails`, `sids`) may stay in the file and
are not read. The file is checked whole before anything in OUT changes; any fault stops the
batch with a message naming the row and the column (`ManualError`). Merged scores are kept in
OUT/manual.json, so a later run without `--manual` keeps them, until another `--manual` replaces
them. An empty cell, or a student with no row, is *missing*: never 0.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .rubric import ManualEntry
from .report._common import atomic_write

SAVED = "manual.json"
KEY_COLUMNS = ("submission_id", "email", "sid")       # in this order: the first present keys the rows
IGNORED_COLUMNS = frozenset({"name", "names", "emails", "sids", "student"})
MAX_BYTES = 16 * 2**20


class ManualError(ValueError):
    """scores.csv cannot be merged (message for the instructor, naming the row and the column)."""


@dataclass(frozen=True)
class ManualScores:
    """The hand-graded parts in force and each submission's scores (only those given)."""

    parts: tuple[ManualEntry, ...]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)   # submission id -> part id -> points

    def of(self, sid: str) -> dict[str, float | None]:
        """Every part's points for one submission; None where missing."""
        given = self.scores.get(sid, {})
        return {p.id: given.get(p.id) for p in self.parts}

    def missing(self, sid: str) -> list[str]:
        return [part for part, score in self.of(sid).items() if score is None]

    def by_problem(self, sid: str) -> dict[str, tuple[float, float]]:
        """{problem: (points given, points possible)} of the hand-graded parts."""
        found: dict[str, tuple[float, float]] = {}
        for part in self.parts:
            score, top = found.get(part.problem, (0.0, 0.0))
            found[part.problem] = (score + (self.scores.get(sid, {}).get(part.id) or 0.0), top + part.points)
        return found


def parts_for(manual: Iterable[ManualEntry], problems: Iterable[str] | None) -> tuple[ManualEntry, ...]:
    """The rubric's hand-graded parts of the selected problems (all when none is selected)."""
    chosen = set(problems or ())
    return tuple(p for p in manual if not chosen or p.problem in chosen)


def read(path: Path, parts: tuple[ManualEntry, ...], students: dict[str, tuple[dict, ...]]) -> ManualScores:
    """Read and check scores.csv against the parts and the batch's submissions ({id: students}).
    Raises ManualError at the first fault, naming its row and column."""
    name = Path(path).name
    rows = _rows(Path(path))
    header = [h.strip() for h in rows[0]] if rows else []
    key = next((k for k in KEY_COLUMNS if k in header), None)
    if key is None:
        raise ManualError(f"{name}, row 1: no column identifies the students; name one of them "
                          f"{', '.join(KEY_COLUMNS)} (found: {', '.join(header) or 'nothing'})")
    by_id = {p.id: p for p in parts}
    for column in header:
        if column not in by_id and column not in KEY_COLUMNS and column.lower() not in IGNORED_COLUMNS:
            raise ManualError(f"{name}, row 1, column {column!r}: not a hand-graded part of the rubric "
                              f"(they are: {', '.join(by_id) or 'none'})")
    lookup = _lookup(key, students)
    scores: dict[str, dict[str, float]] = {}
    seen: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        record = dict(zip(header, (c.strip() for c in cells)))
        who = record.get(key, "")
        sid = lookup.get(_norm(key, who))
        if sid is None:
            raise ManualError(f"{name}, row {number}, column {key!r}: {who!r} is no student of this batch")
        if sid in seen:
            raise ManualError(f"{name}, row {number}, column {key!r}: {who!r} (submission {sid}) already has "
                              f"row {seen[sid]}")
        seen[sid] = number
        scores[sid] = {pid: _points(record[pid], by_id[pid], name, number)
                       for pid in by_id if record.get(pid, "") != ""}
    return ManualScores(parts, scores)


def _rows(path: Path) -> list[list[str]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ManualError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB: not a file of scores")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManualError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ManualError(f"{path.name} is not UTF-8 text: save it as CSV (UTF-8)") from None
    try:
        return list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise ManualError(f"{path.name} is not a CSV file ({exc})") from None


def _norm(key: str, value: str) -> str:
    return value.strip().lower() if key == "email" else value.strip()


def _lookup(key: str, students: dict[str, tuple[dict, ...]]) -> dict[str, str]:
    """Key value -> submission id (a group's members each lead to their submission)."""
    if key == "submission_id":
        return {sid: sid for sid in students}
    return {_norm(key, s.get(key, "")): sid for sid, group in students.items() for s in group if s.get(key)}


def _points(cell: str, part: ManualEntry, name: str, row: int) -> float:
    where = f"{name}, row {row}, column {part.id!r}"
    try:
        value = float(cell)
    except ValueError:
        raise ManualError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ManualError(f"{where}: {cell!r} is not a number")
    if value < 0:
        raise ManualError(f"{where}: {cell} is below 0")
    if value > part.points:
        raise ManualError(f"{where}: {cell} is above the part's {part.points:g} points")
    return value


# ---------------------------------------------------------------- OUT/manual.json
def save(out: Path, manual: ManualScores) -> None:
    atomic_write(out / SAVED, json.dumps({"parts": [p.id for p in manual.parts], "scores": manual.scores},
                                         allow_nan=False, indent=1).encode())


def load(out: Path, parts: tuple[ManualEntry, ...]) -> ManualScores | None:
    """The merged scores kept in OUT, for the parts in force; None when no scores were ever merged."""
    try:
        data = json.loads((Path(out) / SAVED).read_text(encoding="utf-8"))
        given = {str(sid): {str(k): float(v) for k, v in row.items()} for sid, row in data["scores"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    ids = {p.id for p in parts}
    return ManualScores(parts, {sid: {k: v for k, v in row.items() if k in ids} for sid, row in given.items()})
