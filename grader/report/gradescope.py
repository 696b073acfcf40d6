"""Gradescope's results.json: build it from a GradingResult, validate it, write it atomically.

Why not gradescope-utils' JSONTestRunner: it is a unittest runner that turns unittest
test methods into results, while hw3grade grades by probing student code in a child
process and judging in the parent, so there are no unittest cases to run. We keep its
conventions instead: top-level "score" (sum of test scores) and "execution_time", and
tests carrying name / score / max_score / status / output / tags / visibility / number.
Two deliberate differences: "execution_time" is a number (Gradescope's spec says
seconds; the runner writes a string), and a score never exceeds max_score (the runner's
@partial_credit does not clamp).

Every string is LF-only valid UTF-8, every number finite, and no value is null: the
things that make Gradescope say "The autograder failed to execute correctly".
"""
from __future__ import annotations

import functools
import html
import json
import math
import os
from pathlib import Path
from typing import TypeGuard

from grader.outcome import GradingResult, Outcome, Status
from grader.report._common import (
    PLACES,
    atomic_write,
    by_problem,
    clean_points,
    clean_text,
    fmt_points,
    totals,
)

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
MAX_TEST_OUTPUT = 20_000  # characters; Gradescope documents no limit, so stay modest

# The one-line word put before the message of a check that did not pass.
_PREFIX = {
    Status.FAILED: "Failed",
    Status.NOT_ATTEMPTED: "Not attempted",
    Status.MISSING: "Missing",
    Status.ERROR: "Error",
    Status.TIMEOUT: "Timed out",
    Status.GRADER_ERROR: "Autograder error (not your fault, please tell the instructor)",
}

_CONTACT = "This is not a problem with your submission: please contact the instructor."


def to_results_json(result: GradingResult, *, stdout_visibility: str = "hidden") -> dict:
    """Gradescope's results dict for one graded submission, one test per Outcome, in order."""
    if stdout_visibility not in VISIBILITIES:
        raise ValueError(f"stdout_visibility={stdout_visibility!r}: expected one of {VISIBILITIES}")
    tests = [_test(o, i) for i, o in enumerate(result.outcomes, start=1)]
    _make_names_unique(tests)
    exec_time = result.execution_time
    return {
        "score": round(sum(t["score"] for t in tests), PLACES),
        "execution_time": round(exec_time, 2) if _is_seconds(exec_time) else 0.0,
        # simple_format (Gradescope's default for this field) reads HTML: escape our text so
        # a note such as "cell <lambda>" is shown, not swallowed as a tag
        "output": html.escape(_summary(result), quote=False),
        "output_format": "simple_format",
        # test outputs and names hold the student's own text (exception messages): shown as
        # plain text, never rendered as HTML or Markdown, whatever Gradescope's default becomes
        "test_output_format": "text",
        "test_name_format": "text",
        "stdout_visibility": stdout_visibility,
        "tests": tests,
    }


def _test(o: Outcome, number: int) -> dict:
    score, max_score = clean_points(o)
    message = clean_text(o.message)
    if not o.status.passed:
        message = f"{_PREFIX[o.status]}: {message}" if message.strip() else _PREFIX[o.status]
    # An unknown visibility is a rubric bug; hiding the check is the side that leaks nothing.
    visibility = o.visibility if o.visibility in VISIBILITIES else "hidden"
    return {
        "name": clean_text(o.name).strip() or f"{o.problem} check {number}",
        "score": score,
        "max_score": max_score,
        "status": "passed" if o.status is Status.PASSED else "failed",
        "visibility": visibility,
        "output": clean_text(message, MAX_TEST_OUTPUT),
        "output_format": "text",
        "tags": [clean_text(o.problem)],
        "number": str(number),
    }


def _make_names_unique(tests: list[dict]) -> None:
    """Second "A1 loss" becomes "A1 loss (2)": Gradescope has no rule, but instructors and
    our own tools match tests by name."""
    taken = {t["name"] for t in tests}
    seen: set[str] = set()
    for t in tests:
        name = t["name"]
        if name in seen:
            k = 2
            while f"{name} ({k})" in taken:
                k += 1
            t["name"] = f"{name} ({k})"
            taken.add(t["name"])
        seen.add(name)


def _is_seconds(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x >= 0


def _summary(result: GradingResult) -> str:
    """The submission-level text every student sees.

    Totals count only "visible" checks: this text is always shown, so counting hidden or
    after-due-date checks here would reveal them early.
    """
    lines: list[str] = []
    if result.grader_failure:
        lines += ["The autograder itself failed while grading this submission. " + _CONTACT,
                  clean_text(result.grader_failure, MAX_TEST_OUTPUT), ""]
    shown = [o for o in result.outcomes if o.visibility == "visible"]
    score, max_score = totals(shown)
    not_shown = len(result.outcomes) - len(shown)
    if not_shown:
        _, rest = totals(o for o in result.outcomes if o.visibility != "visible")
        lines.append(f"Score on the checks shown here: {fmt_points(score)} / "
                     f"{fmt_points(max_score)} ({not_shown} more checks worth {fmt_points(rest)}"
                     " points are not shown yet or are hidden)")
    else:
        lines.append(f"Total: {fmt_points(score)} / {fmt_points(max_score)}")
    parts = [f"{p} {fmt_points(s)}/{fmt_points(m)}" for p, (s, m) in by_problem(shown).items()]
    if parts:
        lines.append(" | ".join(parts))
    if any(o.status is Status.GRADER_ERROR for o in result.outcomes):
        lines.append("Some checks could not be graded because of an autograder problem. "
                     + _CONTACT)
    if result.notes:
        lines += ["", "Notes:"] + [f"- {clean_text(n)}" for n in result.notes]
    return "\n".join(lines)


def fallback_results(error_text: str) -> dict:
    """What to write when the grader itself failed: score 0, a visible informational test
    telling the student it is not their fault, and a hidden one with the technical text
    for the instructor (Otter's `without_results`)."""
    student = ("The autograder could not grade this submission because of an error in the "
               "autograder. " + _CONTACT)
    return {
        "score": 0,
        "execution_time": 0.0,
        "output": student,
        "output_format": "simple_format",
        "stdout_visibility": "hidden",
        "tests": [
            {"name": "Autograder error", "score": 0, "max_score": 0, "status": "failed",
             "visibility": "visible", "output": student, "number": "1"},
            {"name": "Autograder error: technical details", "score": 0, "max_score": 0,
             "status": "failed", "visibility": "hidden",
             "output": clean_text(error_text, MAX_TEST_OUTPUT), "number": "2"},
        ],
    }


def write_results(data: dict, path: str | os.PathLike) -> Path:
    """Write `data` as results.json: strict JSON (NaN raises here, not on Gradescope), atomic."""
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, indent=1) + "\n"
    return atomic_write(path, text.encode("utf-8"))


@functools.cache
def _validator():
    from jsonschema import Draft202012Validator   # here: the student kit's copy of this module runs without it

    schema = json.loads((Path(__file__).with_name("results_schema.json")).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_results(data: dict) -> list[str]:
    """Problems with `data` as a results.json of ours; [] when it is fine.

    results_schema.json checks structure and types; here, what a schema cannot say.
    """
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{_where(e.absolute_path)}: {e.message}" for e in errors]
    problems += _walk(data, "$")
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list):
        return problems
    names: set[str] = set()
    total = 0.0
    for i, t in enumerate(tests):
        if not isinstance(t, dict):
            continue
        s, m = t.get("score"), t.get("max_score")
        if _num(s) and _num(m) and s > m + 1e-9:
            problems.append(f"$.tests[{i}]: score {s} exceeds max_score {m}")
        total += s if _num(s) else 0.0
        name = t.get("name")
        if isinstance(name, str):
            if name.strip() in names:
                problems.append(f"$.tests[{i}]: duplicate name {name!r}")
            names.add(name.strip())
    top = data.get("score")
    if _num(top) and abs(top - total) > 1e-6:
        problems.append(f"$.score: {top} is not the sum of the test scores ({total})")
    return problems


def _num(x: object) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _walk(x: object, where: str) -> list[str]:
    """Non-finite numbers and carriage returns, anywhere in the document."""
    if isinstance(x, float) and not math.isfinite(x):
        return [f"{where}: {x} is not valid JSON"]
    if isinstance(x, str) and "\r" in x:
        return [f"{where}: carriage return (Gradescope wants LF line endings)"]
    if isinstance(x, dict):
        return [p for k, v in x.items() for p in _walk(v, f"{where}.{k}")]
    if isinstance(x, list):
        return [p for i, v in enumerate(x) for p in _walk(v, f"{where}[{i}]")]
    return []


def _where(parts) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
