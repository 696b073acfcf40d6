"""Re-grade impact: what a change of the rubric, the reference or the checks does to every student.

Each grading.json records the digest of the grading's *setup* (rubric, selected problems,
grader and reference code, versions) and of the submission's *content*. When a batch starts
over an OUT whose results were graded with another setup, it first keeps them in
OUT/previous.json (atomically, before any of them is replaced). When the run completes, the
submissions graded under both setups with the same content are compared: OUT/regrade.csv and
a section of report.html list each one whose score changed or whose checks flipped, and
previous.json is retired. An interrupted run keeps previous.json, so the next run still
compares against the results from before the change; the gradebook meanwhile lists only the
results of the new setup (never a mix presented as one).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..outcome import GradingResult
from ..report._common import atomic_write

PREVIOUS = "previous.json"
CSV_NAME = "regrade.csv"
DRY_RUN_CSV_NAME = "regrade-dry-run.csv"   # what --dry-run found; the next complete run removes it
COLUMNS = ("submission_id", "old_total", "new_total", "change", "flipped", "points_changed")


@dataclass(frozen=True)
class Change:
    submission_id: str
    old: float
    new: float
    flips: tuple[tuple[str, str, str], ...]      # (check id, old status, new status)
    deltas: tuple[tuple[str, float], ...]        # (check id, new points - old points), nonzero only

    @property
    def change(self) -> float:
        return round(self.new - self.old, 6)


@dataclass(frozen=True)
class Impact:
    """What a run reports about re-grading: nothing changed, a change under way, or a completed one."""

    state: str                       # "none" | "partial" | "complete"
    changes: tuple[Change, ...] = ()
    compared: int = 0                # submissions graded under both setups
    waiting: int = 0                 # (partial) submissions not regraded yet
    unreadable: tuple[str, ...] = ()  # kept results that could not be read back: left out, named


# ---------------------------------------------------------------- comparing two generations
def compare(old: dict[str, GradingResult], new: dict[str, GradingResult]) -> list[Change]:
    """Every submission in both whose total changed or one of whose checks flipped."""
    changes = []
    for sid in sorted(old.keys() & new.keys()):
        change = _compare_one(sid, old[sid], new[sid])
        if change.flips or change.change:
            changes.append(change)
    return changes


def _compare_one(sid: str, old: GradingResult, new: GradingResult) -> Change:
    before = {o.check_id: o for o in old.outcomes}
    after = {o.check_id: o for o in new.outcomes}
    flips, deltas = [], []
    for check_id in [*after, *(c for c in before if c not in after)]:
        a, b = before.get(check_id), after.get(check_id)
        old_status, new_status = (a.status.value if a else "absent"), (b.status.value if b else "absent")
        if (old_status == "passed") != (new_status == "passed"):
            flips.append((check_id, old_status, new_status))
        delta = round(_points(b) - _points(a), 6)
        if delta:
            deltas.append((check_id, delta))
    return Change(sid, old.score, new.score, tuple(flips), tuple(deltas))


def _points(outcome) -> float:
    return outcome.score if outcome is not None and math.isfinite(outcome.score) else 0.0


def summary_lines(changes: list[Change]) -> list[str]:
    """One line per check and change of points: "A1.norm: 8 students gain 2 points"."""
    counts = Counter((check_id, delta) for c in changes for check_id, delta in c.deltas)
    order = sorted(counts, key=lambda key: (-counts[key], key[0], key[1]))
    return [_line(check_id, delta, counts[(check_id, delta)]) for check_id, delta in order]


def _line(check_id: str, delta: float, n: int) -> str:
    who = "student" if n == 1 else "students"
    verb = ("gains" if n == 1 else "gain") if delta > 0 else ("loses" if n == 1 else "lose")
    size = abs(delta)
    return f"{check_id}: {n} {who} {verb} {size:g} point{'' if size == 1 else 's'}"


def impact_lines(impact: Impact | None) -> list[str]:
    """What the command line prints about re-grading (nothing when nothing changed)."""
    if impact is None or (impact.state == "none"):
        return []
    if not impact.changes:
        return [f"re-grade: no score changed ({impact.compared} submissions compared)"]
    head = {"partial": "re-grade so far (interrupted)", "dry-run": "re-grade impact (dry run, nothing replaced)"}
    lines = [f"{head.get(impact.state, 're-grade')}: {len(impact.changes)} of {impact.compared} submissions change"]
    return lines + ["  " + line for line in summary_lines(list(impact.changes))]


def csv_text(changes: list[Change]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for c in changes:
        writer.writerow([c.submission_id, f"{c.old:g}", f"{c.new:g}", f"{c.change:+g}",
                         "; ".join(f"{i}: {a}->{b}" for i, a, b in c.flips),
                         "; ".join(f"{i}: {d:+g}" for i, d in c.deltas)])
    return buffer.getvalue()


# ---------------------------------------------------------------- the previous generation on disk
def keep_previous(out: Path, setup: str, records: dict[str, dict]) -> int:
    """Before a run with setup `setup` replaces anything: keep every result graded under another
    setup in OUT/previous.json (merged into one kept for this setup by an interrupted run).
    `records` are the grading.json contents by submission id. Returns how many are kept."""
    older = {sid: r for sid, r in records.items() if r.get("setup") and r["setup"] != setup}
    kept = load_previous(out, setup)
    if not older and kept is None:
        return 0
    merged = {**older, **(kept or {})}
    atomic_write(out / PREVIOUS, json.dumps({"setup": setup, "results": merged}, allow_nan=False).encode())
    return len(merged)


def load_previous(out: Path, setup: str) -> dict[str, dict] | None:
    """The results kept for a change to `setup`, or None (none, or kept for another change)."""
    try:
        data = json.loads((out / PREVIOUS).read_text(encoding="utf-8"))
        return dict(data["results"]) if data.get("setup") == setup else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def conclude(out: Path, setup: str, current: dict[str, tuple[str | None, GradingResult]], complete: bool) -> Impact:
    """After a run: compare what previous.json kept with `current` (this setup's results by id, with
    their content digests); a complete run writes regrade.csv and retires previous.json."""
    kept = load_previous(out, setup)
    if kept is None:
        if complete:
            atomic_write(out / CSV_NAME, csv_text([]).encode())
            (out / DRY_RUN_CSV_NAME).unlink(missing_ok=True)
        return Impact("none")
    old, unreadable = {}, []
    for sid, record in kept.items():   # one unreadable kept result costs that submission's comparison only
        try:
            old[sid] = (record.get("content"), _result(record))
        except Exception:
            unreadable.append(sid)
    impact = dataclasses.replace(impact_of(old, current, "complete" if complete else "partial"),
                                 unreadable=tuple(sorted(unreadable)))
    if complete:
        atomic_write(out / CSV_NAME, csv_text(list(impact.changes)).encode())
        (out / PREVIOUS).unlink(missing_ok=True)
        (out / DRY_RUN_CSV_NAME).unlink(missing_ok=True)
    return impact


def impact_of(old: dict[str, tuple[str | None, GradingResult]], new: dict[str, tuple[str | None, GradingResult]],
              state: str) -> Impact:
    """The changes between two generations, over the submissions whose content is the same in both."""
    same = {sid for sid in old.keys() & new.keys() if old[sid][0] is not None and old[sid][0] == new[sid][0]}
    changes = compare({sid: old[sid][1] for sid in same}, {sid: new[sid][1] for sid in same})
    return Impact(state, tuple(changes), len(same), len(old.keys() - new.keys()))


def _result(record: dict) -> GradingResult:
    return GradingResult.from_dict(record["result"])
