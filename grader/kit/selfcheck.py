"""The student's self-check: ``python check.py [P1 ... Q8]`` inside the unpacked kit.

The autograder's own pipeline (`grader.runner.grade`: locate, probe in a child process,
judge in this one) on the kit's rubric, which lists the visible checks only. Judges reach
the reference through ``reference.<module>``, which here is `grader.kit.frozen`'s
stand-in: answers frozen from the reference when the kit was built. A check whose judge
asks the reference something the kit has no answer for is shown as "on Gradescope".

Exit status: 0 when every visible check of the problems asked for passes, 1 when one
does not, 2 for a usage error, 3 when the self-check itself failed.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import rubric as rubric_module
from ..checks import base
from ..checks.catalog import load_checks
from ..outcome import GradingResult, Outcome, Status
from ..report._common import fmt_points, problem_sort_key
from ..runner import grade, sandbox_for
from . import table
from .frozen import FrozenReference

SELFCHECK_DIR = ".selfcheck"          # in the kit: the grader's copy, rubric.yaml, frozen.json, kit.json
FIT_PROBE = "p1_fit"                  # the probe kind of the full training runs of Problems 1 and 2
PLOT_NAMES = {"P1": "problem1_selfcheck_fit.png", "P2": "problem2_selfcheck_fit.png"}


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


@dataclasses.dataclass
class SelfCheck:
    """One run: the outcomes, and what the taps on the judges saw."""

    result: GradingResult
    offline: frozenset[str]                              # checks the frozen answers could not judge
    fits: dict[str, tuple[dict, Any]]                    # check id -> (probe params, what the fit probe returned)
    misses: dict[str, str]                               # check id -> the first miss, for the message

    @property
    def passed(self) -> bool:
        return bool(self.result.outcomes) and all(o.status.passed for o in self.result.outcomes)


def main(argv: Sequence[str] | None = None, *, kit: Path) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        problems = _problem_keys(args.problems)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"check.py: {exc}", file=sys.stderr)
        return 2
    paths = KitPaths(Path(kit).resolve())
    try:
        return _run(paths, problems, args)
    except KeyboardInterrupt:
        print("\ncheck.py: interrupted", file=sys.stderr)
        return 130
    except Exception:
        print("check.py: the self-check itself failed (not your code's fault). Please send this to your "
              f"instructor:\n{traceback.format_exc()}", file=sys.stderr)
        return 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python check.py",
        description="Run the visible checks of Homework 3 on the modules in this folder.")
    parser.add_argument("problems", nargs="*", metavar="PROBLEM",
                        help="only these problems: P1..P7, Q1..Q8 (default: all)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the table (default: on a terminal only)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the outcomes to FILE (for tools)")
    return parser


def _problem_keys(keys: Sequence[str]) -> set[str] | None:
    wanted = {k.upper() for k in keys}
    unknown = sorted(wanted - set(rubric_module.PROBLEMS), key=problem_sort_key)
    if unknown:
        raise ValueError(f"unknown problem {', '.join(unknown)}: use P1..P7 or Q1..Q8")
    return wanted or None


def _run(paths: KitPaths, problems: set[str] | None, args: argparse.Namespace) -> int:
    rubric = rubric_module.load(paths.rubric)
    manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    entries = rubric.select(problems)
    if not entries:
        print(f"check.py: no visible checks for {', '.join(sorted(problems or ()))}: "
              "they are all hidden and run on Gradescope only.")
        return 0
    frozen = FrozenReference.load(paths.frozen)
    asked = "all problems" if not problems else ", ".join(sorted(problems, key=problem_sort_key))
    print(f"Checking {len(entries)} visible checks of {asked} on the modules in {paths.root} ...", flush=True)
    run = check(paths, rubric, entries, frozen)
    footer = _footer(run, manifest, problems, _plots(run, paths.root))
    color = {"always": True, "never": False}.get(args.color)
    table.print_result(run.result, offline=run.offline, footer=tuple(footer), color=color)
    status = 0 if run.passed else 1
    if args.json:
        data = {"result": run.result.to_dict(), "offline": sorted(run.offline), "exit_status": status}
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return status


def check(paths: KitPaths, rubric: rubric_module.Rubric, entries: Sequence[rubric_module.CheckEntry],
          frozen: FrozenReference) -> SelfCheck:
    """Grade the kit's folder on `entries` with the autograder's pipeline and the frozen reference."""
    frozen.install()
    taps = _Taps(frozen)
    with taps.on([e.id for e in entries]):
        result = grade(paths.root, rubric, entries=entries, sandbox=kit_sandbox(rubric, paths))
    outcomes = tuple(_offline(o, taps.misses[o.check_id]) if o.check_id in taps.misses else o
                     for o in result.outcomes)
    result = dataclasses.replace(result, outcomes=outcomes)
    return SelfCheck(result, frozenset(taps.misses), taps.fits, taps.misses)


def kit_sandbox(rubric: rubric_module.Rubric, paths: KitPaths):
    """The autograder's limits; the child finds the kit's grader copy. Where /proc is missing (macOS)
    the child cannot measure its address space, so there is no memory limit."""
    config = sandbox_for(rubric, pythonpath=(str(paths.selfcheck),))
    if not os.path.exists("/proc/self/statm"):
        config = dataclasses.replace(config, memory_mb=0)
    return config


class _Taps:
    """Wraps each judge: notes frozen-answer misses per check, keeps the full training runs for the plot."""

    def __init__(self, frozen: FrozenReference) -> None:
        self.frozen = frozen
        self.misses: dict[str, str] = {}
        self.fits: dict[str, tuple[dict, Any]] = {}

    @contextlib.contextmanager
    def on(self, ids: Sequence[str]) -> Iterator[None]:
        """Wrap the registered judges of `ids` for a block (the registry is put back afterwards)."""
        checks = load_checks()
        saved = {i: checks[i] for i in ids if i in checks}
        for check_id, found in saved.items():
            checks[check_id] = dataclasses.replace(found, judge=self._tap(check_id, found.judge))
        try:
            yield
        finally:
            checks.update(saved)

    def _tap(self, check_id: str, judge: Callable[[base.JudgeContext], base.Verdict]):
        def run(ctx: base.JudgeContext) -> base.Verdict:
            for obs in ctx.observations:
                if obs.probe.kind == FIT_PROBE and obs.raised is None:
                    self.fits[check_id] = (obs.probe.params, obs.returned)
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


def _footer(run: SelfCheck, manifest: dict, problems: set[str] | None, plots: list[str]) -> list[str]:
    lines = []
    hidden = {p: pts for p, pts in manifest.get("hidden_points", {}).items() if not problems or p in problems}
    if hidden:
        ordered = sorted(hidden.items(), key=lambda kv: problem_sort_key(kv[0]))
        parts = ", ".join(f"{p} {fmt_points(pts)}" for p, pts in ordered)
        lines.append(f"Hidden checks ({fmt_points(sum(hidden.values()))} more points: {parts}) run only on "
                     "Gradescope, after you submit. Passing every visible check here is necessary, not sufficient.")
    if run.offline:
        lines.append(f"{len(run.offline)} check(s) marked \"{table.OFFLINE_WORD}\" need the reference solution for "
                     "the values your code returned: the self-check cannot judge them, Gradescope will.")
    lines += plots
    outcomes = run.result.outcomes
    passed = sum(o.status.passed for o in outcomes)
    lines.append("All visible checks pass." if run.passed
                 else f"{passed} of {len(outcomes)} visible checks pass.")
    return lines


def _plots(run: SelfCheck, folder: Path) -> list[str]:
    """Draw each full training run's learned function next to f_true (and the data, when the probe sent it)."""
    lines = []
    for check_id, (params, returned) in sorted(run.fits.items()):
        problem = check_id.partition(".")[0]
        path = folder / PLOT_NAMES.get(problem, f"{check_id}_selfcheck.png")
        try:
            draw_fit(path, params, returned, title=f"Problem {problem[1:]}: your trained MLP next to f_true")
        except Exception as exc:  # no matplotlib, a result without predictions: the checks still stand
            lines.append(f"{problem}: could not draw the plot of your fit ({type(exc).__name__}: {exc}).")
            continue
        lines.append(f"{problem}: the plot of your fitted function is in\n  {path}")
    return lines


def draw_fit(path: Path, params: dict, returned: dict, *, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..checks.p1 import contract_params, contract_predict, fit_runs

    # the fit probe's runs, as the judge sees them: the trained parameters of l1, l2, l3 in the contract's
    # forward pass (never predictions from the child); the run drawn is the best, the one judged
    if isinstance(returned, dict) and "layers" in returned:
        raise ValueError("MLP() does not have the contract's layers l1, l2, l3: nothing to draw")
    runs = fit_runs(returned, params["seeds"])
    if not runs:
        raise ValueError("no training run came back")
    run, _, _ = min(runs, key=lambda r: r[1])
    grid = np.asarray(params["grid"], dtype=np.float64).reshape(-1)
    pred = contract_predict(contract_params(run["params"], "the plotted run"), grid)
    returned = run
    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        if returned.get("X") is not None and returned.get("Y") is not None:
            X = np.asarray(returned["X"], dtype=np.float64).reshape(-1)
            Y = np.asarray(returned["Y"], dtype=np.float64).reshape(-1)
            shown = (X >= grid[0]) & (X <= grid[-1])
            ax.scatter(X[shown], Y[shown], s=8, color="tab:gray", alpha=0.6, label="your data")
        ax.plot(grid, (grid - 2) * np.cos(4 * grid), color="tab:blue", label="f_true")
        ax.plot(grid, pred, color="tab:red", label="your trained MLP")
        ax.set_xlim(grid[0], grid[-1])
        ax.set_xlabel("x")
        ax.set_title(title)
        ax.legend()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
