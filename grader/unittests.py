"""An assignment's own unittest files, written with gradescope-utils' decorators, as checks.

An instructor who already has Gradescope tests lists their files in the manifest (`unittests:`).
Each test method becomes one check: its id, title (the docstring's first line), points
(``@weight`` or ``@partial_credit``), visibility (``@visibility``), number (``@number``) and
problem (a ``@tags`` value that is a problem key of the rubric, else the file's name) are read
here from the file's syntax, so that nothing the submission does can change them. The test runs
in the child like any probe (grader/probes/unittests.py), under the same limits; its outcome
merges into the same Outcomes, results.json, CSV and report as every other check.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .checks.base import Check, JudgeContext, Probe, Verdict
from .rubric import VISIBILITIES, CheckEntry, Rubric, RubricError, unique_ids

_DECORATORS = {"weight", "partial_credit", "visibility", "number", "tags", "hide_errors"}


@dataclass(frozen=True)
class UnitTest:
    id: str
    path: Path
    test: str                  # "TestClass.test_method"
    title: str
    points: float
    visibility: str
    partial: bool
    tags: tuple[str, ...]
    hidden_message: str | None   # @hide_errors: what a failure says instead of its assertion


def discover(path: Path) -> list[UnitTest]:
    """Every test method of every TestCase-like class in the file, in the file's order."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    found.append(_unit_test(Path(path), node.name, item))
    return found


def _unit_test(path: Path, class_name: str, method: ast.FunctionDef) -> UnitTest:
    marks = {}
    for decorator in method.decorator_list:
        if isinstance(decorator, ast.Call):
            name = getattr(decorator.func, "id", None) or getattr(decorator.func, "attr", None)
            if name in _DECORATORS:
                marks[name] = [ast.literal_eval(a) for a in decorator.args]
    points = (marks.get("partial_credit") or marks.get("weight") or [0])[0]
    visibility = (marks.get("visibility") or ["visible"])[0]
    if visibility not in VISIBILITIES:
        raise ValueError(f"{path.name}, {class_name}.{method.name}: @visibility({visibility!r}) is not one of "
                         f"{', '.join(VISIBILITIES)}")
    doc = ast.get_docstring(method)
    number = (marks.get("number") or [""])[0]
    title = (doc.splitlines()[0] if doc else method.name.replace("_", " "))
    return UnitTest(id=f"{path.stem}.{class_name}.{method.name}", path=path, test=f"{class_name}.{method.name}",
                    title=f"{number} {title}".strip(), points=float(points), visibility=visibility,
                    partial="partial_credit" in marks, tags=tuple(str(t) for t in marks.get("tags", ())),
                    hidden_message=(marks.get("hide_errors") or [None])[0] if "hide_errors" in marks else None)


def entries(tests: list[UnitTest], problem_keys: tuple[str, ...], timeout: float, seed: int) -> tuple[CheckEntry, ...]:
    return tuple(CheckEntry(id=t.id, problem=next((k for k in t.tags if k in problem_keys), t.path.stem),
                            title=t.title, points=t.points, visibility=t.visibility, rtol=0.0, atol=0.0,
                            timeout=timeout, seed=seed) for t in tests)


def with_unittests(rubric: Rubric, paths: Sequence[Path]) -> Rubric:
    """`rubric` with the tests of these unittest files as entries, after its own checks."""
    if not paths:
        return rubric
    tests = []
    for path in paths:
        try:
            tests += discover(path)
        except (OSError, SyntaxError, ValueError) as exc:
            raise RubricError(f"{path}: cannot read this unittest file ({exc})") from None
    timeout = statistics.mode(e.timeout for e in rubric.checks)
    found = entries(tests, rubric.problem_keys, timeout, rubric.checks[0].seed)
    unique_ids(rubric.checks + found, "the rubric and its unittest files")
    keys = tuple((k, k) for k in dict.fromkeys(e.problem for e in found) if k not in rubric.problem_keys)
    return dataclasses.replace(rubric, checks=rubric.checks + found, problems=rubric.problems + keys)


def checks(paths: Sequence[Path], modules: tuple[str, ...]) -> list[Check]:
    """One check for each test of these files (`modules`: the contract's, which a test may import)."""
    return [_check(test, modules) for path in paths for test in discover(path)]


def _check(test: UnitTest, modules: tuple[str, ...]) -> Check:
    source = test.path.read_text(encoding="utf-8")
    params = {"source": source, "filename": test.path.name, "test": test.test, "modules": list(modules)}
    probe = Probe("unittest", params, module="", label=f"{test.path.name}: {test.test}")
    return Check(test.id, lambda rng: [probe], lambda ctx: _judge(ctx, test),
                 hint=test.hidden_message or "", declared_in=test.path.name)


def _judge(ctx: JudgeContext, test: UnitTest) -> Verdict:
    """The child's report, read as hostile data: anything malformed fails the test."""
    report = ctx.observations[0].value
    outcome = report.get("outcome") if isinstance(report, dict) else None
    score = report.get("score") if isinstance(report, dict) else None
    message = report.get("message") if isinstance(report, dict) else None
    if outcome not in ("passed", "failed", "error") or not isinstance(message, str):
        return Verdict.failed("The test did not report a result the grader can read.")
    fraction = 1.0 if outcome == "passed" else 0.0
    if test.partial and isinstance(score, float) and math.isfinite(score) and test.points > 0:
        fraction = min(max(score / test.points, 0.0), 1.0)
    text = test.hidden_message if test.hidden_message and outcome != "passed" else message
    return Verdict(fraction, text if fraction < 1.0 else "")
