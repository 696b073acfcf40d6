"""Small helpers every reporter shares: safe points, problem order, text cleaning, atomic writes."""
from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.outcome import Outcome, Status

PLACES = 4  # points are rounded to this many decimals in every report, so all reports agree

# What a student reads for each status (terminal table); "passed" stays lower case, failures shout.
STATUS_WORDS = {
    Status.PASSED: "passed",
    Status.FAILED: "FAILED",
    Status.NOT_ATTEMPTED: "not started",
    Status.MISSING: "missing",
    Status.ERROR: "error",
    Status.TIMEOUT: "timeout",
    Status.GRADER_ERROR: "grader error",
}


def finite(x: object) -> float:
    """A float, or 0.0 for NaN, infinities, None and anything that is not a number."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def clean_points(o: Outcome) -> tuple[float, float]:
    """(score, max_score) that are finite, rounded, with 0 <= score <= max_score.

    A non-finite score is a bug upstream (a NaN loss, say): it earns 0, never full marks.
    """
    max_score = round(max(finite(o.max_score), 0.0), PLACES)
    score = round(min(max(finite(o.score), 0.0), max_score), PLACES)
    return score, max_score


def totals(outcomes: Iterable[Outcome]) -> tuple[float, float]:
    """Sum of clean points, rounded the same way as each test's points."""
    s = m = 0.0
    for o in outcomes:
        a, b = clean_points(o)
        s += a
        m += b
    return round(s, PLACES), round(m, PLACES)


def by_problem(outcomes: Iterable[Outcome]) -> dict[str, tuple[float, float]]:
    """{problem: (score, max)} of clean points, in order of first appearance."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.problem, []).append(o)
    return {k: totals(v) for k, v in groups.items()}


def problem_sort_key(key: str, order: Sequence[str] = ()) -> tuple[int, int, str]:
    """The rubric's order (`order`: its problem keys); any other key after them, naturally sorted."""
    if key in order:
        return (0, order.index(key), "")
    m = re.fullmatch(r"([A-Za-z]*)(\d+)", key)
    return (1, int(m.group(2)), m.group(1)) if m else (2, 0, key)


def fmt_points(x: float) -> str:
    """3 -> "3", 1.5 -> "1.5", 1/3 -> "0.33": short enough for a summary line."""
    return f"{round(finite(x), 2):g}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: object, limit: int | None = None) -> str:
    """LF-only, valid UTF-8 text, cut at `limit` characters with a note saying so.

    Lone surrogates (from bytes decoded with surrogateescape) would make the UTF-8 write
    fail and leave no results file at all, so they become U+FFFD here.
    """
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    s = _SURROGATE.sub("\ufffd", s)
    if limit is not None and len(s) > limit:
        s = s[:limit] + f"\n[... {len(s) - limit} more characters cut]"
    return s


def first_line(text: str) -> str:
    for line in clean_text(text).split("\n"):
        if line.strip():
            return line.strip()
    return ""


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then os.replace it into place.

    A reader (Gradescope's harness, a spreadsheet) sees the old file or the new one,
    never half of one, even if the grader is killed mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
