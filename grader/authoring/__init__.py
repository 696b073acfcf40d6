"""For an instructor writing an assignment: `hw3grade new PATH` and `hw3grade self-test`.

`new` writes a skeleton that works end to end (grader/authoring/skeleton.py). `self-test` is the
assignment's own test: the rubric agrees with the declarations, the reference gets every point,
the template starts every check "not started" (and scores 0), and each sample submission the
manifest lists under `samples:` gets the score it declares. Everything is graded as `hw3grade
grade` grades, in the sandboxed child.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..assignment import Assignment, package_dir
from ..outcome import GradingResult, Status
from ..runner import grade as grade_one
from ..unittests import discover
from . import skeleton


class AuthoringError(ValueError):
    """`new` cannot write where it was asked to: the message says why."""


def new(path: Path, name: str | None = None) -> list[Path]:
    """Write a working skeleton assignment into `path` (a new or empty folder); returns its files."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AuthoringError(f"{path} already exists and is not an empty folder: choose a new path")
    pkg = _package_prefix(path.resolve().name)
    written = []
    for relative, text in skeleton.files(name or _title(path.resolve().name), pkg).items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def _package_prefix(folder: str) -> str:
    """A folder name as the prefix of import packages: "Homework 4" -> "homework_4"."""
    slug = re.sub(r"\W+", "_", folder.lower()).strip("_") or "assignment"
    return slug if slug[0].isalpha() else f"a_{slug}"


def _title(folder: str) -> str:
    return re.sub(r"[_\-]+", " ", folder).strip().capitalize() or "New assignment"


# ---------------------------------------------------------------- self-test

@dataclass(frozen=True)
class Finding:
    """One line of the self-test: what was graded, what it should get, and whether it did."""

    subject: str
    ok: bool
    said: str


def self_test(assignment: Assignment, grade=grade_one) -> list[Finding]:
    """Grade the reference, the template and the declared samples; one Finding each (and the rubric's).
    `grade`: `grader.runner.grade`, or a stand-in taking the same arguments."""
    rubric = assignment.load_rubric()
    findings = [_rubric_agrees(rubric, set(assignment.catalog))]
    reference_dir = package_dir(assignment.reference, assignment.import_root)
    findings.append(_every_point("reference", grade(reference_dir, assignment, rubric=rubric, identity="self-test")))
    findings.append(_not_started(grade(assignment.template_dir, assignment, rubric=rubric, identity="self-test"),
                                 _unittest_ids(assignment)))
    for path, declared in assignment.samples.items():
        subject = _shown(path, assignment.manifest.parent)
        if not path.exists():
            findings.append(Finding(subject, False, "the manifest lists it under samples:, but it does not exist"))
            continue
        findings.append(_declared_score(subject, grade(path, assignment, rubric=rubric, identity="self-test"),
                                        declared))
    return findings


def _rubric_agrees(rubric, declared: set[str]) -> Finding:
    listed = {e.id for e in rubric.checks}
    wrong = [f"lists {i!r}, which no check declares" for i in sorted(listed - declared)]
    wrong += [f"does not list the declared check {i!r}" for i in sorted(declared - listed)]
    if wrong:
        return Finding("rubric", False, "; ".join(wrong))
    return Finding("rubric", True, f"{len(listed)} checks, every one declared")


def _every_point(subject: str, result: GradingResult) -> Finding:
    short = [o for o in result.outcomes if not o.status.passed]
    if not short:
        return Finding(subject, True, f"{result.score:g}/{result.max_score:g}, every check passes")
    lost = "; ".join(f"{o.check_id}: {o.status.value} ({_first_line(o.detail or o.message)})" for o in short)
    return Finding(subject, False, f"{result.score:g}/{result.max_score:g}: the reference misses {lost}")


def _not_started(result: GradingResult, unittest_ids: set[str]) -> Finding:
    # A unittest file cannot tell "not started" from "wrong": for those, scoring nothing is enough.
    wrong = [o for o in result.outcomes
             if o.score > 0 or (o.check_id not in unittest_ids and o.status is not Status.NOT_ATTEMPTED)]
    if not wrong:
        return Finding("template", True, f"{len(result.outcomes)} checks, none started, 0/{result.max_score:g}")
    said = "; ".join(f"{o.check_id}: {o.status.value}, {o.score:g} points" for o in wrong)
    return Finding("template", False, f"every check should be 'not started' and score 0, but {said}")


def _declared_score(subject: str, result: GradingResult, declared: float) -> Finding:
    if abs(result.score - declared) <= 1e-6:
        return Finding(subject, True, f"{result.score:g}/{result.max_score:g}, as declared")
    changed = ", ".join(f"{o.check_id} {o.score:g}/{o.max_score:g}" for o in result.outcomes
                        if o.score < o.max_score) or "none"
    return Finding(subject, False, f"{result.score:g}/{result.max_score:g}, but samples: declares {declared:g} "
                                   f"(checks short of full marks: {changed})")


def _unittest_ids(assignment: Assignment) -> set[str]:
    return {test.id for path in assignment.unittests for test in discover(path)}


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:120]


# ---------------------------------------------------------------- command line

def add_arguments(commands) -> None:
    """Called by grader.cli: registers `new` and `self-test`."""
    new_parser = commands.add_parser("new", help="write a working skeleton assignment into a new folder")
    new_parser.add_argument("path", type=Path)
    new_parser.add_argument("--name", help="the assignment's title (default: from the folder's name)")
    new_parser.set_defaults(func=_cmd_new, needs_assignment=False)

    test_parser = commands.add_parser(
        "self-test", help="grade the reference (every point), the template (nothing started) and the samples")
    test_parser.set_defaults(func=_cmd_self_test)


def _cmd_new(args: argparse.Namespace) -> int:
    try:
        written = new(args.path, args.name)
    except AuthoringError as exc:
        print(f"hw3grade: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files into {args.path}; try it:\n"
          f"  hw3grade --assignment {args.path} self-test\n"
          f"  hw3grade --assignment {args.path} grade {args.path}/submissions/buggy")
    return 0


def _cmd_self_test(args: argparse.Namespace) -> int:
    findings = self_test(args.assignment)
    for finding in findings:
        print(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.subject}: {finding.said}")
    failed = sum(not f.ok for f in findings)
    print(f"self-test: {len(findings) - failed} of {len(findings)} as expected")
    return 1 if failed else 0
