"""`hw3grade build TARGET`: the files an instructor uploads or hands out.

    hw3grade [--assignment PATH] build autograder [-o autograder.zip]
                                                      Gradescope's autograder of the assignment
                                                      (default: the default one; grader/build/autograder.py)
    hw3grade build student-kit ...                    once grader/build/student_kit.py exists

Adding a target: a module that defines ``configure(parser)`` (add its options and
``parser.set_defaults(func=...)``, where func(args) returns the exit status), listed in
OPTIONAL_TARGETS below; or call ``register_target(name, help, configure)`` before the
parser is built. A module that only defines ``build_kit(output, assignment)`` gets ``-o PATH``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Callable

from .autograder import TORCH_INDEX_URL, BuildError, build_autograder

Configure = Callable[[argparse.ArgumentParser], None]

#: name -> (help, configure); built-in targets first, registered ones after.
TARGETS: dict[str, tuple[str, Configure]] = {}
#: Targets that live in their own module and appear once the module exists.
OPTIONAL_TARGETS = {"student-kit": ("grader.build.student_kit", "the zip students get: template and self-check")}


def register_target(name: str, help: str, configure: Configure) -> None:
    """Make `hw3grade build NAME` exist; configure(parser) adds its options and set_defaults(func=...)."""
    TARGETS[name] = (help, configure)


def add_arguments(subparsers) -> None:
    """Called by grader.cli: registers `build` and its targets."""
    build = subparsers.add_parser("build", help="build the Gradescope autograder (and other deliverables)",
                                  description=__doc__.split("\n\n")[0])
    targets = build.add_subparsers(dest="target", metavar="TARGET")
    build.set_defaults(func=lambda args: _no_target(build))
    for name, (module, help) in OPTIONAL_TARGETS.items():
        if name not in TARGETS:
            configure = _optional(module)
            if configure is not None:
                register_target(name, getattr(sys.modules.get(module), "HELP", help), configure)
    for name, (help, configure) in TARGETS.items():
        configure(targets.add_parser(name, help=help, description=help))


def _no_target(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _optional(module_name: str) -> Configure | None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    if hasattr(module, "configure"):
        return module.configure
    if hasattr(module, "build_kit"):
        def configure(parser: argparse.ArgumentParser) -> None:
            parser.add_argument("-o", "--output", type=Path, default=Path("student-kit.zip"),
                                help="where to write it (default: %(default)s)")
            parser.set_defaults(func=lambda args: (module.build_kit(args.output, args.assignment),
                                                   print(f"wrote {args.output}"), 0)[-1])
        return configure
    return None


# ---------------------------------------------------------------- `build autograder`

def _configure_autograder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"),
                        help="where to write the zip (default: %(default)s)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="the whole run's time budget on Gradescope (default: the rubric's limits."
                             "budget_seconds); set Gradescope's timeout at least 60 s above it")
    parser.add_argument("--torch", dest="torch_requirement", default=None, metavar="REQUIREMENT",
                        help="the torch requirement setup.sh installs (default: the pin in constraints/ci.txt)")
    parser.add_argument("--torch-index-url", default=TORCH_INDEX_URL,
                        help="where setup.sh gets torch (default: %(default)s, the CPU build)")
    parser.set_defaults(func=_cmd_autograder)


def _cmd_autograder(args: argparse.Namespace) -> int:
    try:
        report = build_autograder(args.output, budget_seconds=args.budget_seconds, assignment=args.assignment,
                                  torch_requirement=args.torch_requirement, torch_index_url=args.torch_index_url)
    except BuildError as exc:
        print(f"hw3grade build: {exc}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(f"hw3grade build: warning: {warning}", file=sys.stderr)
    print(f"wrote {report.path}: {report.assignment} ({report.files} files, {report.size / 1024:.0f} KiB); "
          f"setup.sh installs {report.torch_requirement} and {', '.join(report.requirements)}")
    extra = report.points - report.rubric_points
    print(f"Gradescope's total: {report.points:g} points"
          + (f" (the rubric's {report.rubric_points:g} and {extra:g} from the unittest files)" if extra else ""))
    print("Upload it on Gradescope: Configure Autograder > Zip file upload (see docs/GRADESCOPE.md).")
    return 0


register_target("autograder", "the zip to upload to Gradescope (setup.sh, run_autograder, the grader)",
                _configure_autograder)
