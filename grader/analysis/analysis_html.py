"""The instructor's sections of the batch report: flags, per-problem scores, re-grade impact,
answers alike; and the gradebook's notes. Plain HTML strings (escaped), inserted by report/html.py's write_report."""
from __future__ import annotations

import statistics
from html import escape
from typing import Sequence

from ..outcome import GradingResult
from ..report._common import fmt_points
from .alike import Cluster
from .items import CheckStats, Flag
from .regrade import Impact, summary_lines

FLAG_WORDS = {"strong_fail": "strong submissions fail it", "low_discrimination": "zero or negative discrimination",
              "errors": "failures are errors, not wrong values", "nobody": "no one passes it"}
SHOWN_CHANGES = 200


def unavailable(title: str, why: BaseException | str) -> str:
    """In place of a section whose analysis failed as a whole (the others are unaffected)."""
    text = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
    return f"<h2>{escape(title)}</h2>\n<p class=\"warn\">Not available: {escape(text[:500])}</p>"


def notes_html(notes: list[str]) -> str:
    """The submissions an analysis had to leave out, each named with what went wrong."""
    return "".join(f"<p class=\"warn\">{escape(note)}</p>" for note in notes)


def gradebook_notes(rows, hand, left, unwritten=()) -> str:
    """What the gradebook holds beyond this run's gradings: rows kept from earlier runs of
    submissions no longer in FOLDER, and the students without a hand-graded score ("" if neither)."""
    parts = []
    if unwritten:
        parts.append(f"<p class=\"warn\">feedback.html could not be written for: {escape(', '.join(unwritten))}</p>")
    if left:
        parts.append(f"<p class=\"warn\">{len(left)} row(s) kept from earlier runs, of submissions not in this "
                     f"folder (not graded in this run; --prune removes them): {escape(', '.join(left))}</p>")
    if hand is not None:
        missing = [(r.submission_id, hand.missing(r.submission_id)) for r in rows]
        missing = [(sid, ids) for sid, ids in missing if ids]
        body = "".join(f"<tr><td>{escape(sid)}</td><td>{escape(', '.join(ids))}</td></tr>" for sid, ids in missing)
        parts.append(f"<p class=\"warn\">{len(missing)} submission(s) lack hand-graded scores (missing, not 0):</p>"
                     f"<table><tr><th>submission</th><th>missing parts</th></tr>{body}</table>" if missing else
                     f"<p class=\"ok\">Every submission has all {len(hand.parts)} hand-graded scores.</p>")
    return "<h2 id=\"gradebook\">Gradebook</h2>\n" + "".join(parts) if parts else ""


def flags_section(flags: list[Flag], graded: int, notes: Sequence[str] = ()) -> str:
    head = "<h2 id=\"flags\">Checks that may be wrong</h2>\n" + notes_html(list(notes))
    if not flags:
        return head + (f"<p class=\"ok\">No check flagged among {graded} graded submissions "
                       "(docs/BATCH.md: what each flag means, and the minimum counts).</p>")
    body = "".join(f"<tr><td>{escape(f.check_id)}</td><td>{escape(FLAG_WORDS.get(f.kind, f.kind))}</td>"
                   f"<td>{escape(f.why)}</td><td>{escape(', '.join(f.submissions))}</td></tr>" for f in flags)
    return (head + f"<p class=\"warn\">{len(flags)} flag(s): look at these checks before grades go out.</p>"
            "<table><tr><th>check</th><th>flag</th><th>why</th><th>submissions to look at</th></tr>"
            f"{body}</table>")


def checks_section(stats: list[CheckStats], notes: Sequence[str] = ()) -> str:
    rows = "".join(
        f"<tr><td>{escape(s.check_id)}</td><td class=\"n\">{s.graded}</td>"
        f"<td class=\"n\">{_pct(s.pass_rate)}</td><td class=\"n\">{_num(s.discrimination)}</td>"
        f"<td class=\"n\">{_num(s.upper_lower)}</td><td>{escape(s.message)}</td></tr>" for s in stats)
    return ("<h2>Item analysis of each check</h2>\n<p class=\"muted\">discrimination: correlation of passing "
            "with the rest-score; upper-lower: pass rate of the top 27% minus the bottom 27%. Also in "
            "checks.csv.</p>" + notes_html(list(notes)) + "<table><tr><th>check</th><th>graded</th><th>pass rate</th>"
            "<th>discrimination</th><th>upper-lower</th><th>most common failure (numbers as #)</th></tr>"
            f"{rows}</table>")


def problems_section(results: dict[str, GradingResult]) -> str:
    scores: dict[str, list[float]] = {}
    possible: dict[str, float] = {}
    for result in results.values():
        for key, (score, top) in result.by_problem().items():
            scores.setdefault(key, []).append(score)
            possible[key] = max(possible.get(key, 0.0), top)
    rows = "".join(
        f"<tr><td>{escape(key)}</td><td class=\"n\">{fmt_points(possible[key])}</td>"
        f"<td class=\"n\">{fmt_points(statistics.fmean(v))}</td><td class=\"n\">{fmt_points(statistics.median(v))}</td>"
        f"<td class=\"n\">{fmt_points(min(v))}</td><td class=\"n\">{sum(x >= possible[key] for x in v)}</td>"
        f"<td class=\"n\">{sum(x <= 0 for x in v)}</td></tr>" for key, v in scores.items())
    return ("<h2>Score distribution of each problem</h2>\n<table><tr><th>problem</th><th>possible</th><th>mean</th>"
            f"<th>median</th><th>min</th><th>full marks</th><th>zero</th></tr>{rows}</table>")


def regrade_section(impact: Impact) -> str:
    head = "<h2 id=\"regrade\">Re-grade impact</h2>\n"
    if impact.state == "none":
        return head + ("<p class=\"muted\">No change: every result was graded with the same rubric, reference "
                       "and checks as before (or there were no earlier results).</p>")
    lines = "".join(f"<li>{escape(line)}</li>" for line in summary_lines(list(impact.changes)))
    if impact.state == "partial":
        intro = (f"<p class=\"warn\">Re-grade under way (the run was interrupted): {impact.compared} submissions "
                 f"regraded, {impact.waiting} still to regrade; run again to finish. The gradebook lists only the "
                 "regraded ones; the earlier results are kept in previous.json.</p>")
    else:
        intro = (f"<p>The rubric, reference or checks changed: {len(impact.changes)} of {impact.compared} "
                 "submissions changed (regrade.csv).</p>")
    rows = "".join(
        f"<tr><td>{escape(c.submission_id)}</td><td class=\"n\">{fmt_points(c.old)}</td>"
        f"<td class=\"n\">{fmt_points(c.new)}</td><td class=\"n\">{c.change:+g}</td>"
        f"<td>{escape('; '.join(f'{i}: {a} → {b}' for i, a, b in c.flips))}</td></tr>"
        for c in impact.changes[:SHOWN_CHANGES])
    table = ("<table><tr><th>submission</th><th>old</th><th>new</th><th>change</th><th>checks that flipped</th>"
             f"</tr>{rows}</table>") if rows else ""
    notes = notes_html([f"re-grade impact: submission {sid} could not be analysed (its earlier result is unreadable)"
                        for sid in impact.unreadable])
    return head + intro + notes + (f"<ul>{lines}</ul>" if lines else "") + table


def alike_section(found: list[Cluster], pairs: list[tuple[str, ...]], notes: Sequence[str] = ()) -> str:
    head = ("<h2 id=\"alike\">Answers alike (to review)</h2>\n<p class=\"muted\">Submissions sharing wrong "
            "answers that few others give, and submissions with the same code once comments, names and layout "
            "are removed. A list to review, not a finding: a shared textbook mistake or a study group reads the "
            "same. Never shown to students.</p>") + notes_html(list(notes))
    clusters = "".join(
        f"<tr><td>{escape(', '.join(c.members))}</td><td>"
        + escape("; ".join(f"{check} (given by {n} of {c.graded})" for check, n in c.shared)) + "</td></tr>"
        for c in found)
    part1 = ("<h3>Shared rare wrong answers</h3><table><tr><th>submissions</th><th>checks answered alike "
             f"(how rare)</th></tr>{clusters}</table>") if clusters else "<p>No shared rare wrong answers.</p>"
    same = "".join(f"<tr><td>{escape(', '.join(group))}</td></tr>" for group in pairs)
    part2 = (f"<h3>Identical code</h3><table><tr><th>submissions</th></tr>{same}</table>" if same
             else "<p>No identical code.</p>")
    return head + part1 + part2


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:+.2f}"
