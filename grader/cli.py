"""`hw3grade`: a thin command line over plain functions (which are the API and are tested directly).

Exit status: 0 whenever grading took place (whatever the score), 2 for a usage or
rubric error, 3 when the grader itself failed (a fallback results.json is still written).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

from . import assignment as assignment_module
from . import rubric as rubric_module
from . import runner
from .assignment import Assignment, AssignmentError
from .report import gradescope, table
from .supervision import cgroups
from .supervision.processes import adopt_orphans


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if getattr(args, "needs_assignment", True):   # from here on, args.assignment is the loaded Assignment
            args.assignment = chosen(args.assignment)
        return args.func(args)
    except rubric_module.RubricError as exc:
        print(f"hw3grade: rubric error: {exc}", file=sys.stderr)
        return 2
    except AssignmentError as exc:
        print(f"hw3grade: assignment error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hw3grade: interrupted", file=sys.stderr)
        return 130


def chosen(path: Path | None) -> Assignment:
    """`--assignment PATH` if given, else the default one (grader/assignment.py); its packages made importable."""
    assignment = assignment_module.load(path) if path else assignment_module.default()
    assignment.import_paths()
    return assignment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hw3grade", description="Grades an assignment (Homework 3 by default).")
    parser.add_argument("--assignment", type=Path, metavar="PATH",
                        help="the assignment's assignment.yaml or its folder (default: Homework 3)")
    commands = parser.add_subparsers(metavar="COMMAND")

    grade = commands.add_parser("grade", help="grade one submission (folder, .zip or .ipynb)")
    grade.add_argument("submission", type=Path)
    grade.add_argument("-o", "--output", type=Path, help="write Gradescope's results.json here")
    grade.add_argument("--rubric", type=Path, help="a rubric.yaml other than the packaged one")
    grade.add_argument("--problems", nargs="+", metavar="KEY", help="only these problems (keys of the rubric)")
    grade.add_argument("--visible-only", action="store_true", help="only the checks students can see")
    grade.add_argument("--details", action="store_true", help="show instructor details (hidden checks' messages)")
    grade.add_argument("--quiet", action="store_true", help="no table on the terminal")
    grade.set_defaults(func=_cmd_grade)

    check = commands.add_parser("check-rubric", help="validate a rubric.yaml against the declared checks")
    check.add_argument("--rubric", type=Path, help="a rubric.yaml other than the assignment's own")
    check.add_argument("rubric_path", type=Path, nargs="?", help=argparse.SUPPRESS)   # the older positional form
    check.set_defaults(func=_cmd_check_rubric)

    for name, module in (("batch", "grader.batch.cli"), ("export", "grader.export"), ("build", "grader.build.cli"),
                         ("new, self-test", "grader.authoring")):
        _add_optional(commands, name, module)
    return parser


def _add_optional(commands, name: str, module: str) -> None:
    """Subcommands that live in their own module register themselves with `add_arguments`."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return
    mod.add_arguments(commands)


def _cmd_grade(args: argparse.Namespace) -> int:
    adopt_orphans()   # this process grades one submission and starts nothing else meanwhile
    rubric = args.assignment.load_rubric(args.rubric)
    problems = rubric.parse_problem_keys(args.problems)
    entries = rubric.select(problems, visible_only=args.visible_only)
    try:
        result = runner.grade(args.submission, args.assignment, rubric=rubric, entries=entries,
                              sandbox=runner.sandbox_for(args.assignment, rubric, grading_zygote=True),
                              identity=Path(args.submission).resolve().name)
    except Exception:
        detail = traceback.format_exc()
        if args.output:
            gradescope.write_results(gradescope.fallback_results(detail), args.output)
        print(f"hw3grade: the grader failed:\n{detail}", file=sys.stderr)
        return 3
    if args.output:
        gradescope.write_results(gradescope.to_results_json(result), args.output)
    if not args.quiet:
        table.print_table(result, show_details=args.details)
        if args.details:   # what bounds the child's processes together on this machine
            print(f"Containment: {cgroups.describe()}")
    return 0


def _cmd_check_rubric(args: argparse.Namespace) -> int:
    rubric = args.assignment.load_rubric(args.rubric or args.rubric_path)
    declared = set(args.assignment.catalog)
    listed = {e.id for e in rubric.checks}
    package = args.assignment.checks
    problems = [f"rubric lists {i!r}, which no declaration in {package} defines" for i in sorted(listed - declared)]
    problems += [f"{package} declares {i!r}, which the rubric does not list" for i in sorted(declared - listed)]
    for line in problems:
        print(f"hw3grade: {line}", file=sys.stderr)
    if not problems:
        print(f"{rubric.source}: {len(rubric.checks)} checks, {sum(e.points for e in rubric.checks):g} points, "
              f"{len(rubric.manual)} hand-graded parts: OK")
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
