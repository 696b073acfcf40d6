"""The batch report: one self-contained HTML page an instructor can open or mail around.

Self-contained means no external URL at all (no CDN, no web font): plots are inline PNGs
drawn with matplotlib's Agg canvas, and the CSS is inline. Everything that comes from a
submission (ids, names, messages) goes through html.escape.
"""
from __future__ import annotations

import base64
import io
import os
import statistics
from collections import Counter
from html import escape
from pathlib import Path

from grader.outcome import Status
from grader.report._common import (
    STATUS_WORDS,
    atomic_write,
    finite,
    first_line,
    fmt_points,
    totals,
)
from grader.report.gradebook import BatchRow, row_status

TOP_FAILURES = 25
TOP_SLOWEST = 10

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:60em;
     padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
     text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
img{max-width:100%;height:auto}.muted{color:#777}.warn{color:#a40000;font-weight:600}.ok{color:#1a6e1a}
"""


def write_report(rows: list[BatchRow], path: str | os.PathLike, *,
                 timings: dict[str, float] | None = None, top: tuple[str, ...] = (),
                 bottom: tuple[str, ...] = ()) -> Path:
    """Write the report for a batch.

    timings: optional batch-level durations in seconds, by label (e.g. {"wall time": 812.4}),
    listed as given. top, bottom: extra sections (HTML, already escaped) before the summary and
    after the most common failures.
    """
    rows = sorted(rows, key=lambda r: r.submission_id)
    sections = [*top, _summary(rows), _histogram(rows), _pass_rates(rows), _failures(rows), *bottom,
                _slowest(rows)]
    if timings:
        sections.append(_timings(timings))
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>hw3grade batch report</title>"
            f"<style>{_CSS}</style></head><body>\n<h1>hw3grade batch report</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")
    return atomic_write(path, page.encode("utf-8"))


def _summary(rows: list[BatchRow]) -> str:
    scores = [totals(r.result.outcomes)[0] for r in rows]
    possible = max((totals(r.result.outcomes)[1] for r in rows), default=0.0)
    errors = sum(row_status(r.result) == "grader_error" for r in rows)
    stats = [("submissions", str(len(rows))), ("points possible", fmt_points(possible))]
    if scores:
        stats += [("mean", fmt_points(statistics.fmean(scores))),
                  ("median", fmt_points(statistics.median(scores))),
                  ("max", fmt_points(max(scores)))]
    stats.append(("with grader errors", str(errors)))
    body = "".join(f"<tr><th>{escape(k)}</th><td class=\"n\">{escape(v)}</td></tr>"
                   for k, v in stats)
    return f"<h2>Summary</h2>\n<table>{body}</table>"


def _histogram(rows: list[BatchRow]) -> str:
    if not rows:
        return "<h2>Score distribution</h2>\n<p class=\"muted\">No submissions.</p>"
    scores = [totals(r.result.outcomes)[0] for r in rows]
    top = max([totals(r.result.outcomes)[1] for r in rows] + scores + [1.0])
    fig = _figure(6.5, 3.2)
    ax = fig.add_subplot()
    ax.hist(scores, bins=min(20, max(5, int(top))), range=(0, top), color="#4c72b0",
            edgecolor="white")
    ax.set_xlabel("total score")
    ax.set_ylabel("submissions")
    return f"<h2>Score distribution</h2>\n{_img(fig, 'Histogram of total scores')}"


def _pass_rates(rows: list[BatchRow]) -> str:
    seen: dict[str, list[int]] = {}  # check name -> [passed, graded], in rubric order
    for r in rows:
        for o in r.result.outcomes:
            acc = seen.setdefault(o.name, [0, 0])
            acc[0] += o.status is Status.PASSED
            acc[1] += 1
    if not seen:
        return "<h2>Pass rate of each check</h2>\n<p class=\"muted\">No checks graded.</p>"
    names = list(seen)
    rates = [100 * seen[n][0] / seen[n][1] for n in names]
    fig = _figure(7.5, 0.8 + 0.28 * len(names))
    ax = fig.add_subplot()
    bars = ax.barh(range(len(names)), rates, color="#55a868")
    ax.bar_label(bars, fmt="%.0f%%", padding=2, fontsize=7)
    ax.set_yticks(range(len(names)), [_label(n) for n in names], fontsize=8)
    ax.invert_yaxis()  # first check on top, as in the rubric
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    return f"<h2>Pass rate of each check</h2>\n{_img(fig, 'Pass rate of each check')}"


def _failures(rows: list[BatchRow]) -> str:
    counts = Counter((o.name, STATUS_WORDS[o.status], first_line(o.message))
                     for r in rows for o in r.result.outcomes if not o.status.passed)
    if not counts:
        return "<h2>Most common failures</h2>\n<p class=\"muted\">No failures.</p>"
    body = "".join(f"<tr><td class=\"n\">{n}</td><td>{escape(check)}</td>"
                   f"<td>{escape(status)}</td><td>{escape(message)}</td></tr>"
                   for (check, status, message), n in
                   sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FAILURES])
    return ("<h2>Most common failures</h2>\n<table><tr><th>count</th><th>check</th><th>status</th>"
            f"<th>message (first line)</th></tr>{body}</table>")


def _slowest(rows: list[BatchRow]) -> str:
    slow = sorted(rows, key=lambda r: (-_seconds(r.result.execution_time), r.submission_id))
    body = "".join(
        f"<tr><td>{escape(r.submission_id)}</td>"
        f"<td>{escape('; '.join(str(s.get('name', '')) for s in r.students))}</td>"
        f"<td class=\"n\">{_seconds(r.result.execution_time):.1f}</td>"
        f"<td class=\"n\">{escape(fmt_points(totals(r.result.outcomes)[0]))}</td></tr>"
        for r in slow[:TOP_SLOWEST])
    return ("<h2>Slowest submissions</h2>\n<table><tr><th>submission</th><th>students</th>"
            f"<th>seconds</th><th>score</th></tr>{body}</table>")


def _timings(timings: dict[str, float]) -> str:
    body = "".join(f"<tr><th>{escape(str(k))}</th><td class=\"n\">{_seconds(v):.1f} s</td></tr>"
                   for k, v in timings.items())
    return f"<h2>Timings</h2>\n<table>{body}</table>"


def _seconds(x: object) -> float:
    # a NaN time must not poison the sort or print as "nan"
    return max(finite(x), 0.0)


def _label(name: str) -> str:
    """Check names as tick labels: short, and "$" escaped so matplotlib does not read TeX."""
    name = name if len(name) <= 60 else name[:57] + "..."
    return name.replace("$", r"\$")


def _figure(width: float, height: float):
    # Figure without pyplot: no global state, no GUI backend, always the Agg canvas.
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


def _img(fig, alt: str) -> str:
    buf = io.BytesIO()
    # metadata={"Software": None}: no matplotlib URL inside the file
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
