"""OUT/<id>/feedback.html: the page a student reads about their graded submission.

Built from what Gradescope shows that student once grades are published and the due date
has passed (report/gradescope.py's results.json), and nothing more: each check whose
visibility is not "hidden" with its score and output (the message a student may see, with
its hint); the "hidden" checks only as one line of points, never a message, a title or a
problem of their own, as Gradescope never shows them; the hand-graded scores once merged.
One self-contained page (inline CSS, no script, no external resource); everything from a
submission goes through html.escape.
"""
from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from grader.report._common import atomic_write, clean_text, fmt_points, problem_sort_key
from grader.report.gradebook import BatchRow
from grader.report.gradescope import fallback_results, to_results_json
from grader.report.html import _CSS

if TYPE_CHECKING:
    from grader.manual import ManualScores

FILE_NAME = "feedback.html"
_MORE_CSS = ("pre{white-space:pre-wrap;margin:0;font-size:.9em}tr.fail td:nth-child(2){color:#a40000}"
             ".total{font-size:1.2em}")


def write_feedback(row: BatchRow, path: str | os.PathLike, title: str,
                   manual: "ManualScores | None" = None, order: Sequence[str] = ()) -> Path:
    """`order`: the rubric's problem keys (the order of the points by problem)."""
    result = row.result
    data = (fallback_results(result.grader_failure) if result.grader_failure and not result.outcomes
            else to_results_json(result))
    shown = [t for t in data["tests"] if t["visibility"] != "hidden"]
    hidden = [t for t in data["tests"] if t["visibility"] == "hidden"]
    hand = _hand_graded(row.submission_id, manual)
    score = data["score"] + sum(s for _, _, s, _ in hand if s is not None)
    possible = sum(t["max_score"] for t in data["tests"]) + sum(top for _, _, _, top in hand)
    names = "; ".join(s.get("name", "") for s in row.students if s.get("name"))
    sections = [
        f"<p>Submission {escape(row.submission_id)}{' (' + escape(names) + ')' if names else ''}</p>",
        f"<p class=\"total\">Total: <b>{fmt_points(score)} / {fmt_points(possible)}</b></p>",
        _problems(shown, hidden, hand, order),
        _checks(shown),
        _figures(result.outcomes),
        _hidden(hidden),
        _manual(hand),
        _notes(result.notes),
    ]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}: feedback</title><style>{_CSS}{_MORE_CSS}</style></head><body>\n"
            f"<h1>{escape(title)}: your feedback</h1>\n" + "\n".join(s for s in sections if s) + "\n</body></html>\n")
    return atomic_write(path, page.encode("utf-8"))


def _hand_graded(sid: str, manual) -> list[tuple[str, str, float | None, float]]:
    """(problem, title, points or None when not graded yet, possible) of each hand-graded part."""
    if manual is None:
        return []
    given = manual.of(sid)
    return [(p.problem, p.title, given[p.id], p.points) for p in manual.parts]


def _problems(shown: list[dict], hidden: list[dict], hand, order: Sequence[str]) -> str:
    per: dict[str, list[float]] = {}
    for t in shown:
        got = per.setdefault(t["tags"][0] if t.get("tags") else "", [0.0, 0.0])
        got[0] += t["score"]
        got[1] += t["max_score"]
    for problem, _, score, top in hand:
        got = per.setdefault(problem, [0.0, 0.0])
        got[0] += score or 0.0
        got[1] += top
    rows = "".join(f"<tr><td>{escape(p)}</td><td class=\"n\">{fmt_points(s)}</td><td class=\"n\">{fmt_points(m)}"
                   "</td></tr>" for p, (s, m) in sorted(per.items(), key=lambda kv: problem_sort_key(kv[0], order)))
    if hidden:
        rows += (f"<tr><td>hidden checks</td><td class=\"n\">{fmt_points(sum(t['score'] for t in hidden))}</td>"
                 f"<td class=\"n\">{fmt_points(sum(t['max_score'] for t in hidden))}</td></tr>")
    return ("<h2>Points by problem</h2>\n<table><tr><th>problem</th><th>points</th><th>possible</th></tr>"
            f"{rows}</table>")


def _checks(shown: list[dict]) -> str:
    rows = "".join(
        f"<tr class=\"{'ok' if t['status'] == 'passed' else 'fail'}\"><td>{escape(t['name'])}</td>"
        f"<td>{'passed' if t['status'] == 'passed' else 'failed'}</td>"
        f"<td class=\"n\">{fmt_points(t['score'])} / {fmt_points(t['max_score'])}</td>"
        f"<td><pre>{escape(t['output']) if t['status'] != 'passed' else ''}</pre></td></tr>" for t in shown)
    return ("<h2>Checks</h2>\n<table><tr><th>check</th><th>result</th><th>points</th><th>what went wrong, "
            f"and a hint</th></tr>{rows}</table>")


def _figures(outcomes) -> str:
    """The plots the student's code drew, as the checks that judged them decoded them (a visible check's
    only: the grader keeps no figure of a hidden one). Embedded as data: the page stays self-contained."""
    drawn = [o for o in outcomes if o.figure and o.visibility != "hidden"]
    if not drawn:
        return ""
    shown = "".join(f"<figure><img alt=\"{escape(o.title)}\" style=\"max-width:100%\" "
                    f"src=\"data:image/png;base64,{escape(o.figure)}\"><figcaption>{escape(o.name)}</figcaption>"
                    "</figure>" for o in drawn)
    return f"<h2>Your plots</h2>\n{shown}"


def _hidden(hidden: list[dict]) -> str:
    if not hidden:
        return ""
    return (f"<p class=\"muted\">{len(hidden)} hidden check(s), worth {fmt_points(sum(t['max_score'] for t in hidden))}"
            " points, count in your total; as on Gradescope, they are not shown one by one.</p>")


def _manual(hand) -> str:
    if not hand:
        return ""
    rows = "".join(f"<tr><td>{escape(problem)}</td><td>{escape(title)}</td><td class=\"n\">"
                   f"{'not graded yet' if score is None else fmt_points(score)}</td><td class=\"n\">{fmt_points(top)}"
                   "</td></tr>" for problem, title, score, top in hand)
    return ("<h2>Graded by hand</h2>\n<table><tr><th>problem</th><th>part</th><th>points</th><th>possible</th></tr>"
            f"{rows}</table>")


def _notes(notes) -> str:
    """What the grader noted about the submission (skipped notebook code, say), as on Gradescope."""
    if not notes:
        return ""
    return "<h2>Notes</h2>\n<ul>" + "".join(f"<li>{escape(clean_text(n))}</li>" for n in notes) + "</ul>"


def path_for(out: Path, submission_id: str) -> Path:
    return Path(out) / submission_id / FILE_NAME
