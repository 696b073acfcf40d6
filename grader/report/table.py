"""The terminal table: one row per check, grouped by problem, with subtotals and the total.

Student-derived text (messages, notes) is passed to rich as `Text`, never as a markup
string, so a message such as "[red]" or ":smile:" is printed as written.
"""
from __future__ import annotations

import io
import os
import sys
from typing import TextIO

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from grader.outcome import GradingResult, Outcome, Status
from grader.report._common import STATUS_WORDS, by_problem, clean_points, clean_text, totals

_STYLES = {
    Status.PASSED: "green",
    Status.FAILED: "bold red",
    Status.NOT_ATTEMPTED: "yellow",
    Status.MISSING: "yellow",
    Status.ERROR: "bold red",
    Status.TIMEOUT: "bold red",
    Status.GRADER_ERROR: "bold magenta",
}
_WIDTH = 100  # for rendering to a string, where there is no terminal to measure


def render_table(result: GradingResult, *, color: bool | None = None,
                 show_details: bool = False, hidden_note: str = "",
                 width: int | None = None) -> str:
    """The table as a string. color=None: colour only if stdout is a terminal.

    show_details adds each check's instructor-only `detail` under its row.
    """
    if color is None:
        color = _auto_color(sys.stdout)
    buf = io.StringIO()
    _print(_console(buf, color, width or _WIDTH), result, show_details, hidden_note)
    return buf.getvalue()


def print_table(result: GradingResult, file: TextIO | None = None, *,
                show_details: bool = False, hidden_note: str = "") -> None:
    """Print the table to `file` (stdout by default), in colour only if it is a terminal."""
    file = sys.stdout if file is None else file
    console = _console(file, _auto_color(file), None)
    _print(console, result, show_details, hidden_note)


def _auto_color(file: object) -> bool:
    """Colour on a terminal, unless the user set NO_COLOR (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(file.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def _console(file: TextIO, color: bool, width: int | None) -> Console:
    # color_system=None makes rich write no escape codes at all, not even bold
    return Console(file=file, width=width, force_terminal=color,
                   color_system="standard" if color else None, no_color=not color,
                   markup=False, emoji=False, highlight=False, soft_wrap=False)


def _print(console: Console, result: GradingResult, show_details: bool, hidden_note: str) -> None:
    parts: list = []
    if result.grader_failure:
        parts.append(Text("Autograder error (not the student's fault): "
                          + clean_text(result.grader_failure), style="bold magenta"))
    for note in result.notes:
        parts.append(Text("Note: " + clean_text(note), style="yellow"))
    parts.append(_table(result, show_details))
    if hidden_note:
        parts.append(Text(clean_text(hidden_note), style="dim"))
    console.print(Group(*parts))


def _table(result: GradingResult, show_details: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("Problem", no_wrap=True)
    table.add_column("Check", ratio=1, overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)

    groups: dict[str, list[Outcome]] = {}
    for o in result.outcomes:
        groups.setdefault(o.problem, []).append(o)
    subtotals = by_problem(result.outcomes)
    for problem, outcomes in groups.items():
        for o in outcomes:
            table.add_row(Text(o.problem), _check_cell(o, show_details),
                          Text(STATUS_WORDS[o.status], style=_STYLES[o.status]),
                          Text(_points(*clean_points(o))))
        s, m = subtotals[problem]
        table.add_row("", Text(f"{problem} subtotal", style="bold"), "",
                      Text(_points(s, m), style="bold"), end_section=True)
    s, m = totals(result.outcomes)
    table.add_row(Text("TOTAL", style="bold"), "", "", Text(_points(s, m), style="bold"))
    return table


def _check_cell(o: Outcome, show_details: bool) -> Text:
    """The title, and for a check that did not pass its message on the lines below."""
    cell = Text(clean_text(o.title))
    message = "" if o.status.passed else o.message
    extra = [message, _beyond(o.detail, message) if show_details else ""]
    for text in extra:
        text = clean_text(text).strip()
        if text:
            cell.append("\n" + text, style="dim")
    return cell


def _beyond(detail: str, message: str) -> str:
    """What the instructor-only detail adds to the message shown: the detail often is the message
    (a missing function), or the message with a traceback after it."""
    detail, message = detail.strip(), message.strip()
    if not detail or detail in message:
        return ""
    return detail[len(message):] if message and detail.startswith(message) else detail


def _points(score: float, max_score: float) -> str:
    return f"{score:.1f}/{max_score:.1f}" if _tenths(score) and _tenths(max_score) \
        else f"{score:g}/{max_score:g}"


def _tenths(x: float) -> bool:
    return abs(x * 10 - round(x * 10)) < 1e-9
