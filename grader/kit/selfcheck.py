"""The student's self-check: ``python check.py [PROBLEM ...]`` inside the unpacked kit.

The autograder's own pipeline (`grader.runner.grade`: locate, probe in a child process,
judge in this one) on the kit's assignment (``.selfcheck/assignment.yaml``: the copied
check package, probe files and template copy) and its rubric, which lists the visible
checks only. Judges reach the reference through ``<reference package>.<module>``, which
here is `grader.kit.frozen`'s stand-in: answers frozen from the reference when the kit
was built. A check whose judge asks the reference something the kit has no answer for is
shown as "on Gradescope".

Plots: for a problem the assignment's ``plots`` names a file for, the check module that
declares one of its checks (or made its probes) may define ``selfcheck_plot(path,
observations, problem_name)``: the self-check calls it with what the check's judge saw, and
names the file when it returns one (None: nothing to draw for this check).

Exit status: 0 when every visible check of the problems asked for passes, 1 when one
does not, 2 for a usage error, 3 when the self-check itself failed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
from pathlib import Path
from typing import AbstractSet, Callable, Mapping, Sequence

from .. import assignment as assignment_module
from .. import rubric as rubric_module
from ..assignment import Assignment
from ..checks import base
from ..outcome import GradingResult, Outcome, Status
from ..report._common import fmt_points, problem_sort_key
from ..runner import grade, sandbox_for
from . import table
from .frozen import FrozenReference

SELFCHECK_DIR = ".selfcheck"   # in the kit: the grader's copy, assignment.yaml, rubric.yaml, frozen.json, kit.json
PLOT_HOOK = "selfcheck_plot"          # a check module's function that draws its check's plot (see above)


@dataclasses.dataclass(frozen=True)
class KitPaths:
    root: Path                        # the unpacked kit: the student's modules and check.py

    @property
    def selfcheck(self) -> Path:
        return self.root / SELFCHECK_DIR

    @property
    def rubric(self) -> Path:
        return self.selfcheck / "rubric.yaml"

    @property
    def frozen(self) -> Path:
        return self.selfcheck / "frozen.json"

    @property
    def manifest(self) -> Path:
        return self.selfcheck / "kit.json"

    @property
    def assignment(self) -> Path:
        return self.selfcheck / assignment_module.MANIFEST


@dataclasses.dataclass
class SelfCheck:
    """One run: the outcomes, and what the taps on the judges saw."""

    result: GradingResult
    offline: frozenset[str]                              # checks the frozen answers could not judge
    plots: dict[str, tuple[Callable, tuple]]             # check id -> (its module's plot hook, what its judge saw)
    misses: dict[str, str]                               # check id -> the first miss, for the message

    @property
    def passed(self) -> bool:
        return bool(self.result.outcomes) and all(o.status.passed for o in self.result.outcomes)


def main(argv: Sequence[str] | None = None, *, kit: Path) -> int:
    paths = KitPaths(Path(kit).resolve())
    try:
        assignment = assignment_module.load(paths.assignment)
        assignment.import_paths()
        rubric = assignment.load_rubric(paths.rubric)
    except Exception:
        return _failed()
    parser = _parser(assignment.name, rubric.problem_keys)
    args = parser.parse_args(argv)
    try:
        problems = _problem_keys(rubric, args.problems)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"check.py: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(paths, assignment, rubric, problems, args)
    except KeyboardInterrupt:
        print("\ncheck.py: interrupted", file=sys.stderr)
        return 130
    except Exception:
        return _failed()


def _failed() -> int:
    print("check.py: the self-check itself failed (not your code's fault). Please send this to your "
          f"instructor:\n{traceback.format_exc()}", file=sys.stderr)
    return 3


def _parser(name: str, keys: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python check.py",
        description=f"Run the visible checks of {name} on the modules in this folder.")
    parser.add_argument("problems", nargs="*", metavar="PROBLEM",
                        help=f"only these problems: {_key_list(keys)} (default: all)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the table (default: on a terminal only)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the outcomes to FILE (for tools)")
    return parser


def _problem_keys(rubric: rubric_module.Rubric, keys: Sequence[str]) -> set[str] | None:
    """The problems asked for (any case), None for all; ValueError names the unknown ones."""
    try:
        return rubric.parse_problem_keys(list(keys))
    except rubric_module.RubricError:
        known = {k.upper() for k in rubric.problem_keys}
        unknown = sorted({k.upper() for k in keys} - known, key=lambda k: problem_sort_key(k, rubric.problem_keys))
        raise ValueError(f"unknown problem {', '.join(unknown)}: use {_key_list(rubric.problem_keys)}") from None


def _key_list(keys: Sequence[str]) -> str:
    """Problem keys as ranges where one letter numbers them in a row: A1, A2, A3, B1 -> "A1..A3, B1"."""
    runs: list[list[str]] = []
    for key in keys:
        letter, number = key.rstrip("0123456789"), key[len(key.rstrip("0123456789")):]
        last = runs[-1][-1] if runs else ""
        last_letter, last_number = last.rstrip("0123456789"), last[len(last.rstrip("0123456789")):]
        if runs and number and last_number and letter == last_letter and int(number) == int(last_number) + 1:
            runs[-1].append(key)
        else:
            runs.append([key])
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 2 else ", ".join(r) for r in runs)


def _run(paths: KitPaths, assignment: Assignment, rubric: rubric_module.Rubric, problems: set[str] | None,
         args: argparse.Namespace) -> int:
    manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    entries = rubric.select(problems)
    if not entries:
        print(f"check.py: no visible checks for {', '.join(sorted(problems or ()))}: "
              "they are all hidden and run on Gradescope only.")
        return 0
    reference = manifest.get("reference") or {}
    frozen = FrozenReference.load(paths.frozen, reference.get("package", assignment.reference),
                                  reference.get("modules", assignment.modules))
    order = rubric.problem_keys
    asked = "all problems" if not problems else ", ".join(sorted(problems, key=lambda k: problem_sort_key(k, order)))
    print(f"Checking {len(entries)} visible checks of {asked} on the modules in {paths.root} ...", flush=True)
    run = check(paths, assignment, rubric, entries, frozen)
    footer = _footer(run, manifest, problems, _plots(run, paths.root, assignment, rubric), order)
    color = {"always": True, "never": False}.get(args.color)
    table.print_result(run.result, offline=run.offline, footer=tuple(footer), color=color)
    status = 0 if run.passed else 1
    if args.json:
        data = {"result": run.result.to_dict(), "offline": sorted(run.offline), "exit_status": status}
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return status


def check(paths: KitPaths, assignment: Assignment, rubric: rubric_module.Rubric,
          entries: Sequence[rubric_module.CheckEntry], frozen: FrozenReference) -> SelfCheck:
    """Grade the kit's folder on `entries` with the autograder's pipeline and the frozen reference."""
    frozen.install()
    taps = _Taps(frozen, {e.id for e in entries if e.problem in assignment.plots})
    checks = taps.on(assignment.catalog, [e.id for e in entries])
    result = grade(paths.root, assignment, rubric=rubric, checks=checks, entries=entries,
                   sandbox=kit_sandbox(assignment, rubric, paths))
    outcomes = tuple(_offline(o, taps.misses[o.check_id]) if o.check_id in taps.misses else o
                     for o in result.outcomes)
    result = dataclasses.replace(result, outcomes=outcomes)
    return SelfCheck(result, frozenset(taps.misses), taps.plots, taps.misses)


def kit_sandbox(assignment: Assignment, rubric: rubric_module.Rubric, paths: KitPaths):
    """The autograder's limits; the child finds the kit's grader copy, and a run that starts two children
    or more forks them from a zygote of its own, as `hw3grade grade` does. Where /proc is missing (macOS)
    the child cannot measure its address space, so there is no memory limit."""
    config = sandbox_for(assignment, rubric, pythonpath=(str(paths.selfcheck),), grading_zygote=True)
    if not os.path.exists("/proc/self/statm"):
        config = dataclasses.replace(config, memory_mb=0)
    return config


class _Taps:
    """Wraps each judge: notes frozen-answer misses per check, keeps what the judges of `plotted` checks
    saw for their module's plot hook."""

    def __init__(self, frozen: FrozenReference, plotted: AbstractSet[str] = frozenset()) -> None:
        self.frozen = frozen
        self.plotted = plotted
        self.misses: dict[str, str] = {}
        self.plots: dict[str, tuple[Callable, tuple]] = {}

    def on(self, checks: Mapping[str, base.Check], ids: Sequence[str]) -> dict[str, base.Check]:
        """`checks` with the judges of `ids` wrapped (the runner is handed these)."""
        tapped = dict(checks)
        for check_id in ids:
            if check_id in checks:
                found = checks[check_id]
                hook = _plot_hook(found) if check_id in self.plotted else None
                tapped[check_id] = dataclasses.replace(found, judge=self._tap(check_id, found.judge, hook))
        return tapped

    def _tap(self, check_id: str, judge: Callable[[base.JudgeContext], base.Verdict], hook: Callable | None):
        def run(ctx: base.JudgeContext) -> base.Verdict:
            if hook is not None:
                self.plots[check_id] = (hook, tuple(ctx.observations))
            before = len(self.frozen.misses)
            try:
                return judge(ctx)
            finally:
                if len(self.frozen.misses) > before:
                    self.misses[check_id] = str(self.frozen.misses[before])

        return run


def _offline(outcome: Outcome, why: str) -> Outcome:
    message = ("Judged on Gradescope only: this check compares the values your code returned with the "
               "reference solution, which the self-check does not contain (it scores 0 here).")
    return dataclasses.replace(outcome, status=Status.GRADER_ERROR, score=0.0, message=message, detail=why)


def _footer(run: SelfCheck, manifest: dict, problems: set[str] | None, plots: list[str],
            order: Sequence[str]) -> list[str]:
    lines = []
    hidden = {p: pts for p, pts in manifest.get("hidden_points", {}).items() if not problems or p in problems}
    if hidden:
        ordered = sorted(hidden.items(), key=lambda kv: problem_sort_key(kv[0], order))
        parts = ", ".join(f"{p} {fmt_points(pts)}" for p, pts in ordered)
        lines.append(f"Hidden checks ({fmt_points(sum(hidden.values()))} more points: {parts}) run only on "
                     "Gradescope, after you submit. Passing every visible check here is necessary, not sufficient.")
    tests = manifest.get("unittest_points", {})
    if tests:
        names = " and ".join(sorted(tests))
        lines.append(f"Your instructor's tests in {names} ({fmt_points(sum(tests.values()))} more points) run "
                     "only on Gradescope, after you submit.")
    if run.offline:
        lines.append(f"{len(run.offline)} check(s) marked \"{table.OFFLINE_WORD}\" need the reference solution for "
                     "the values your code returned: the self-check cannot judge them, Gradescope will.")
    lines += plots
    outcomes = run.result.outcomes
    passed = sum(o.status.passed for o in outcomes)
    lines.append("All visible checks pass." if run.passed
                 else f"{passed} of {len(outcomes)} visible checks pass.")
    return lines


def _plot_hook(check: base.Check) -> Callable | None:
    """The plot hook of the module that declared the check, else of the one that made its probes."""
    for name in (check.declared_in, getattr(check.probes, "__module__", None)):
        hook = getattr(sys.modules.get(name or ""), PLOT_HOOK, None)
        if callable(hook):
            return hook
    return None


def _plots(run: SelfCheck, folder: Path, assignment: Assignment, rubric: rubric_module.Rubric) -> list[str]:
    """Each plotted check's hook draws what its judge saw into the file the assignment names for its problem."""
    lines = []
    names = assignment.plots
    problems = {e.id: e.problem for e in rubric.checks}
    for check_id, (hook, observations) in sorted(run.plots.items()):
        problem = problems.get(check_id, check_id.partition(".")[0])
        path = folder / names.get(problem, f"{check_id}_selfcheck.png")
        try:
            drawn = hook(path, observations, rubric.problem_name(problem))
        except Exception as exc:  # no matplotlib, a result without predictions: the checks still stand
            lines.append(f"{problem}: could not draw the plot of your fit ({type(exc).__name__}: {exc}).")
            continue
        if drawn is not None:
            lines.append(f"{problem}: the plot of your fitted function is in\n  {path}")
    return lines

