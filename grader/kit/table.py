"""The self-check's table in plain text (the kit does not need rich): ANSI colour on a terminal only.

One row per check, grouped by problem, the message of every check that did not pass
below its row, a subtotal per problem and the total of the visible checks. The words and
the points are the autograder's (`grader.report._common`), so both tables read alike.
"""
from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import TextIO

from ..outcome import GradingResult, Outcome, Status
from ..report._common import STATUS_WORDS, by_problem, clean_points, clean_text, totals

_COLORS = {
    Status.PASSED: "32",            # green
    Status.FAILED: "1;31",          # bold red
    Status.NOT_ATTEMPTED: "33",     # yellow
    Status.MISSING: "33",
    Status.ERROR: "1;31",
    Status.TIMEOUT: "1;31",
    Status.GRADER_ERROR: "1;35",    # bold magenta
}
OFFLINE_WORD = "on Gradescope"
_OFFLINE_COLOR = "36"               # cyan
_PROBLEM_W, _STATUS_W, _POINTS_W = 7, 13, 9
_MIN_WIDTH, _MAX_WIDTH = 60, 120


def auto_color(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def terminal_width(stream: TextIO) -> int:
    columns = shutil.get_terminal_size((100, 24)).columns if auto_color(stream) or _isatty(stream) else 100
    return max(_MIN_WIDTH, min(columns, _MAX_WIDTH))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def render(result: GradingResult, *, color: bool = False, width: int = 100, offline: frozenset[str] = frozenset(),
           footer: tuple[str, ...] = ()) -> str:
    """The table as text. `offline`: ids of checks the kit cannot judge (shown as "on Gradescope")."""
    paint = _painter(color)
    width = max(_MIN_WIDTH, width)
    check_w = width - _PROBLEM_W - _STATUS_W - _POINTS_W - 3
    lines: list[str] = []
    if result.grader_failure:
        lines += _wrapped("Self-check error (not your fault): " + clean_text(result.grader_failure), width, "")
    for note in result.notes:
        lines += [paint(line, "33") for line in _wrapped("Note: " + clean_text(note), width, "      ", first="")]
    if lines:
        lines.append("")
    header = f"{'Problem':<{_PROBLEM_W}} {'Check':<{check_w}} {'Status':<{_STATUS_W}} {'Points':>{_POINTS_W}}"
    lines += [paint(header, "1"), "-" * width]
    groups: dict[str, list[Outcome]] = {}
    for o in result.outcomes:
        groups.setdefault(o.problem, []).append(o)
    subtotals = by_problem(result.outcomes)
    indent = " " * (_PROBLEM_W + 1)
    for problem, outcomes in groups.items():
        for o in outcomes:
            word, style = ((OFFLINE_WORD, _OFFLINE_COLOR) if o.check_id in offline
                           else (STATUS_WORDS[o.status], _COLORS[o.status]))
            title = textwrap.wrap(clean_text(o.title), check_w) or [""]
            points = _points(*clean_points(o))
            lines.append(f"{o.problem:<{_PROBLEM_W}} {title[0]:<{check_w}} "
                         f"{paint(f'{word:<{_STATUS_W}}', style)} {points:>{_POINTS_W}}")
            lines += [indent + t for t in title[1:]]
            if not o.status.passed and o.message.strip():
                lines += [paint(line, "2") for line in _wrapped(o.message, width, indent + "  ", first=indent + "  ")]
        score, most = subtotals[problem]
        label = f"{problem} subtotal"
        lines.append(paint(f"{'':<{_PROBLEM_W}} {label:<{check_w + _STATUS_W + 1}} {_points(score, most):>{_POINTS_W}}",
                           "1"))
        lines.append("")
    score, most = totals(result.outcomes)
    lines.append("-" * width)
    lines.append(paint(f"{'TOTAL':<{_PROBLEM_W}} {'visible checks':<{check_w + _STATUS_W + 1}} "
                       f"{_points(score, most):>{_POINTS_W}}", "1"))
    for text in footer:
        lines.append("")
        lines += _wrapped(text, width, "")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def print_result(result: GradingResult, stream: TextIO | None = None, *, offline: frozenset[str] = frozenset(),
                 footer: tuple[str, ...] = (), color: bool | None = None) -> None:
    stream = sys.stdout if stream is None else stream
    color = auto_color(stream) if color is None else color
    stream.write(render(result, color=color, width=terminal_width(stream), offline=offline, footer=footer))
    stream.flush()


def _painter(color: bool):
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color and text else text

    return paint


def _wrapped(text: str, width: int, indent: str, first: str | None = None) -> list[str]:
    """Each line of `text` wrapped to `width`, continuation lines indented."""
    out: list[str] = []
    first = indent if first is None else first
    for raw in clean_text(text).strip().split("\n"):
        lead = first if not out else indent
        pieces = textwrap.wrap(raw, width, initial_indent=lead, subsequent_indent=indent + "  ",
                               break_on_hyphens=False, break_long_words=False, replace_whitespace=False,
                               drop_whitespace=True)
        out += pieces or [lead]
    return out


def _points(score: float, most: float) -> str:
    return f"{score:.1f}/{most:.1f}" if _tenths(score) and _tenths(most) else f"{score:g}/{most:g}"


def _tenths(x: float) -> bool:
    return abs(x * 10 - round(x * 10)) < 1e-9
