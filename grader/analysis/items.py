"""Item analysis of a class: which checks may be wrong.

As exam boards analyse items: each check's pass rate and its discrimination, the
point-biserial correlation between passing it and the rest-score (the submission's total
minus that check's points). A sound check is passed more often by submissions that do well
on everything else (discrimination > 0). Flags, each with the submissions to look at:

- `strong_fail`: most otherwise-strong submissions (rest-score >= STRONG_REST of the rest's
  maximum) fail it: often a tolerance or an expectation that is off;
- `low_discrimination`: passing it does not go with doing well elsewhere (r <= LOW_R);
- `errors`: its failures are mostly errors, time-outs or out-of-memory, not wrong values
  (a time limit too tight, a probe the template cannot take);
- `nobody`: no submission passes it.

Small classes make noisy statistics, so the first three need MIN_CLASS graded submissions,
and the counts below; a check failed by a handful of submissions is never flagged for its
discrimination (a few one-bug submissions with otherwise full marks make r negative by chance).
"""
from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from ..outcome import GradingResult, Outcome, Status

MIN_CLASS = 10            # graded submissions before any statistical flag
STRONG_REST = 0.8         # "otherwise strong": rest-score at least this share of the rest's maximum
MIN_STRONG = 5            # strong submissions needed to say "most of them fail it"
STRONG_FAIL_SHARE = 0.5   # share of the strong submissions failing it that flags it
MIN_SIDE = 5              # passes and failures each, before judging a discrimination
LOW_R = 0.05              # discrimination at or below this: "zero or negative"
ERROR_SHARE = 0.5         # share of its failures that are errors/time-outs that flags it
MIN_NOBODY = 5            # graded submissions before "no one passes it" means something
UPPER_LOWER = 0.27        # Kelley's upper and lower groups, for the upper-lower difference
LISTED = 12               # submissions a flag lists

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ERRORS = (Status.ERROR, Status.TIMEOUT)


@dataclass(frozen=True)
class CheckStats:
    """One check across the class."""

    check_id: str
    problem: str
    title: str
    max_score: float
    counts: dict[str, int]          # status value -> submissions
    passed: tuple[str, ...]         # submission ids
    failed: tuple[str, ...]         # every other graded status (grader errors left out)
    discrimination: float | None    # point-biserial r with the rest-score; None when undefined
    upper_lower: float | None       # pass rate of the upper group minus the lower group's
    message: str                    # most common failure message, numbers blanked
    message_count: int

    @property
    def graded(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def pass_rate(self) -> float | None:
        return len(self.passed) / self.graded if self.graded else None


@dataclass(frozen=True)
class Flag:
    check_id: str
    kind: str                       # strong_fail | low_discrimination | errors | nobody
    why: str
    submissions: tuple[str, ...]


def blank_numbers(text: str) -> str:
    """A message's headline with its numbers as '#': the same mistake with other values reads the same."""
    return _NUMBER.sub("#", headline(text))


def headline(text: str) -> str:
    """The line that says what went wrong: the first, or, for a traceback (a unittest's failure),
    its last line, the exception ("AssertionError: 0 != 4"), not "Traceback (most recent call last):"."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback (") or line.lstrip().startswith('File "') for line in lines):
        return lines[-1].strip()
    return lines[0]


def analysable(results: dict[str, GradingResult]) -> dict[str, GradingResult]:
    """The results an analysis may use: the grader did not fail on them as a whole."""
    return {sid: r for sid, r in results.items() if r.outcomes and not r.grader_failure}


def analyse(results: dict[str, GradingResult]) -> list[CheckStats]:
    """Statistics of every check, in the order the checks first appear."""
    results = analysable(results)
    by_check: dict[str, dict[str, Outcome]] = {}
    for sid, result in sorted(results.items()):
        for outcome in result.outcomes:
            by_check.setdefault(outcome.check_id, {})[sid] = outcome
    totals = {sid: r.score for sid, r in results.items()}
    return [_stats(outcomes, totals) for outcomes in by_check.values()]


def _stats(outcomes: dict[str, Outcome], totals: dict[str, float]) -> CheckStats:
    first = next(iter(outcomes.values()))
    counted = {sid: o for sid, o in outcomes.items() if o.status is not Status.GRADER_ERROR}
    passed = tuple(sid for sid, o in counted.items() if o.status.passed)
    failed = tuple(sid for sid, o in counted.items() if not o.status.passed)
    rest = {sid: totals[sid] - _finite(o.score) for sid, o in counted.items()}
    messages = Counter(blank_numbers(o.detail or o.message) for o in counted.values() if not o.status.passed)
    message, count = messages.most_common(1)[0] if messages else ("", 0)
    return CheckStats(first.check_id, first.problem, first.title, first.max_score,
                      dict(Counter(o.status.value for o in outcomes.values())), passed, failed,
                      point_biserial([sid in passed for sid in rest], list(rest.values())),
                      upper_lower(passed, rest), message, count)


def _finite(x: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


def point_biserial(passed: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Pearson's r between passing (0/1) and a score; None when either does not vary."""
    if len(passed) < 2 or len(set(passed)) < 2 or len(set(scores)) < 2:
        return None
    r = statistics.correlation([float(p) for p in passed], [float(s) for s in scores])
    return max(-1.0, min(1.0, r))


def upper_lower(passed: Sequence[str], rest: dict[str, float]) -> float | None:
    """Pass rate in the top UPPER_LOWER by rest-score minus the bottom's (ties by id)."""
    size = int(len(rest) * UPPER_LOWER)
    if size < 1:
        return None
    ranked = sorted(rest, key=lambda sid: (-rest[sid], sid))
    passing = set(passed)

    def rate(group: list[str]) -> float:
        return sum(sid in passing for sid in group) / len(group)

    return rate(ranked[:size]) - rate(ranked[-size:])


# ---------------------------------------------------------------- flags
def flags(stats: list[CheckStats], results: dict[str, GradingResult]) -> list[Flag]:
    """The checks an instructor should look at before grades go out, each with why."""
    results = analysable(results)
    rests = {s.check_id: _rest_shares(s, results) for s in stats}
    found = []
    for s in stats:
        for rule in (_nobody, _strong_fail, _low_discrimination, _errors):
            flag = rule(s, rests[s.check_id], results)
            if flag is not None:
                found.append(flag)
    return found


def _rest_shares(s: CheckStats, results: dict[str, GradingResult]) -> dict[str, float]:
    """Each graded submission's rest-score as a share of the rest's maximum."""
    shares = {}
    for sid in (*s.passed, *s.failed):
        result = results[sid]
        own = next(o for o in result.outcomes if o.check_id == s.check_id)
        top = result.max_score - own.max_score
        shares[sid] = (result.score - _finite(own.score)) / top if top > 0 else 1.0
    return shares


def _ranked(ids, rest: dict[str, float]) -> tuple[str, ...]:
    return tuple(sorted(ids, key=lambda sid: (-rest[sid], sid)))


def _nobody(s: CheckStats, rest: dict[str, float], results) -> Flag | None:
    if s.passed or s.graded < MIN_NOBODY:
        return None
    return Flag(s.check_id, "nobody", f"none of the {s.graded} submissions passes it",
                _ranked(s.failed, rest)[:LISTED])


def _strong_fail(s: CheckStats, rest: dict[str, float], results) -> Flag | None:
    strong = [sid for sid in rest if rest[sid] >= STRONG_REST]
    failing = [sid for sid in strong if sid in set(s.failed)]
    if len(results) < MIN_CLASS or len(strong) < MIN_STRONG or len(failing) < STRONG_FAIL_SHARE * len(strong):
        return None
    return Flag(s.check_id, "strong_fail",
                f"{len(failing)} of the {len(strong)} submissions that score at least {STRONG_REST:.0%} on "
                f"everything else fail it", _ranked(failing, rest)[:LISTED])


def _low_discrimination(s: CheckStats, rest: dict[str, float], results) -> Flag | None:
    r = s.discrimination
    if len(results) < MIN_CLASS or min(len(s.passed), len(s.failed)) < MIN_SIDE or r is None or r > LOW_R:
        return None
    return Flag(s.check_id, "low_discrimination",
                f"discrimination {r:+.2f}: its {len(s.failed)} failing submissions do as well or better on the "
                f"rest than its {len(s.passed)} passing ones", _ranked(s.failed, rest)[:LISTED])


def _errors(s: CheckStats, rest: dict[str, float], results) -> Flag | None:
    erring = [sid for sid in s.failed if _status(results[sid], s.check_id) in _ERRORS]
    if len(results) < MIN_CLASS or len(s.failed) < MIN_SIDE or len(erring) < ERROR_SHARE * len(s.failed):
        return None
    kinds = Counter(_status(results[sid], s.check_id).value for sid in erring)
    listed = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    return Flag(s.check_id, "errors", f"{len(erring)} of its {len(s.failed)} failures are errors or time-outs "
                f"({listed}), not wrong values; most common: {s.message}", _ranked(erring, rest)[:LISTED])


def _status(result: GradingResult, check_id: str) -> Status:
    return next(o.status for o in result.outcomes if o.check_id == check_id)
