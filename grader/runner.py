"""One grading: locate -> probe in the child -> judge in the parent -> Outcomes.

Phase 1 runs every probe of every selected check in a child process (restarted
after a crash or a timeout). Phase 2 judges, after the child is gone, so the
parent's torch and the student's allocations never add up in memory.
"""
from __future__ import annotations

import base64
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import answers, messages, scratch
from .assignment import Assignment
from .checks import base
from .checks.callables import reference_answer
from .compare import (Mismatch, Tolerance, describe, form, holds_non_finite, holds_only_numbers, non_finite,
                      not_numbers, noting_float32_slack)
from .draws import identity_key, rng_for
from .outcome import GradingResult, Outcome, Status
from .probes import wire
from .probes.wire import FailureKind
from .rubric import CheckEntry, Rubric
from .sandbox import Child, ChildFailure, SandboxConfig, grading_zygote
from .staging import private_copy
from .submission import Located, SubmissionError, locate

MAX_FIGURE_BYTES = 1 << 20     # a plot larger than this is judged but not kept for the feedback page

ModuleProblem = tuple[Status, str, str]   # why a module cannot be used: status, message, detail ("" when none)


@dataclass
class _Pending:
    """A check between the phases: its probes, and what the child said about each."""

    entry: CheckEntry
    check: base.Check | None
    probes: Sequence[base.Probe] = ()
    observations: list[base.Observation] = field(default_factory=list)
    outcome: Outcome | None = None       # set when phase 1 already decided (not attempted, crash, ...)
    module_failed: bool = False          # decided by a module that is missing or does not import
    duration: float = 0.0
    key: str = ""                        # the submission's part of a non-visible check's seed


def grade(
    submission: str | Path,
    assignment: Assignment,
    *,
    rubric: Rubric | None = None,
    checks: Mapping[str, base.Check] | None = None,
    entries: Sequence[CheckEntry] | None = None,
    sandbox: SandboxConfig | None = None,
    budget_seconds: float | None = None,
    submission_id: str = "",
    identity: str = "",
    fingerprint_answers: bool = False,
) -> GradingResult:
    """Grade one submission for `assignment` against the selected rubric entries (all by default).
    `rubric` and `checks` are the assignment's own unless given (a test hands in a check of its own).

    `identity` (Gradescope's student ids, locally the submission's name) seeds the inputs of
    the non-visible checks, with the course secret (grader/draws.py). `fingerprint_answers`: keep a
    hash of each failed check's answers (the batch's "answers alike"; grader/answers.py)."""
    started = time.monotonic()
    rubric = rubric or assignment.rubric
    checks = assignment.catalog if checks is None else checks
    entries = tuple(entries if entries is not None else rubric.checks)
    sandbox = sandbox or sandbox_for(assignment, rubric)
    deadline = started + (budget_seconds or rubric.limits.budget_seconds)
    # The grader's own folder (a child running as another user reads the modules extracted there),
    # removed however grading ends; each child works in a fresh folder of its own in it (sandbox.Child).
    with scratch.folder("scratch", mode=0o755) as scratch_path, \
            grading_zygote(sandbox, _children_needed(entries, checks)) as sandbox:
        try:
            copy, copy_notes = private_copy(Path(submission), scratch_path / "copy")
            located = locate(copy, scratch_path / "submission", assignment)
        except SubmissionError as exc:
            outcomes = tuple(_decided(e, Status.MISSING, str(exc)) for e in entries)
            return GradingResult(outcomes, time.monotonic() - started, (str(exc),), submission_id,
                                 manual_items=_manual(rubric))
        scratch.seal(scratch_path)   # what every child start needs: read-only from now on
        pending = _plan(entries, checks, identity_key(identity))
        unconfined = _probe_all(pending, located, assignment, sandbox, str(scratch_path),
                                rubric.limits.import_timeout, deadline)
    judged = [_judge(p, assignment) for p in pending]
    causes = _causes(judged, entries, {p.entry.id for p in pending if p.module_failed})
    outcomes = tuple(_redacted(o, p.entry, p.check, p.duration if p.outcome is None else 0.0,
                               causes.get(o.check_id, "")) for o, p in zip(judged, pending))
    notes = tuple(copy_notes) + located.notes
    if unconfined:
        notes += (messages.unconfined(unconfined),)
    prints = answers.of_failures(judged, pending) if fingerprint_answers else {}
    return GradingResult(outcomes, round(time.monotonic() - started, 3), notes, submission_id,
                         manual_items=_manual(rubric), answers=prints)


def sandbox_for(assignment: Assignment, rubric: Rubric | None = None, **overrides) -> SandboxConfig:
    """The child's limits (the rubric's, by default the assignment's) and the assignment's probe kinds."""
    limits = (rubric or assignment.rubric).limits
    overrides.setdefault("probe_files", tuple(assignment.probe_files().items()))
    return SandboxConfig(memory_mb=limits.memory_mb, file_mb=limits.file_mb, output_cap=limits.output_cap,
                         **overrides)


def _manual(rubric: Rubric) -> tuple[dict, ...]:
    return tuple({"id": m.id, "problem": m.problem, "title": m.title, "points": m.points} for m in rubric.manual)


def _plan(entries: Sequence[CheckEntry], checks: Mapping[str, base.Check], key: str = "") -> list[_Pending]:
    pending = []
    for entry in entries:
        check = checks.get(entry.id)
        item = _Pending(entry, check, key=key)
        if check is None:
            item.outcome = _decided(entry, Status.GRADER_ERROR, messages.NO_DECLARATION.format(id=entry.id))
        else:
            try:
                item.probes = tuple(check.probes(rng_for(entry, key)))
            except Exception:
                item.outcome = _decided(entry, Status.GRADER_ERROR, messages.GRADER_BUG, traceback.format_exc())
        pending.append(item)
    return pending


def _children_needed(entries: Sequence[CheckEntry], checks: Mapping[str, base.Check]) -> int:
    """The children a grading starts when none fails (`_probe_all`): one for each check that needs one of its
    own, one for the other visible checks, one for the other non-visible ones."""
    declared = [(entry, checks[entry.id]) for entry in entries if entry.id in checks]
    own = sum(check.fresh_child for _, check in declared)
    return own + len({entry.secret for entry, check in declared if not check.fresh_child})


#: A child that fails this many starts in a row (dying before it reports ready) is not started
#: again: every remaining check is a grader error at once, instead of each waiting for its start.
START_ATTEMPTS = 2


class _Session:
    """The child for one submission, restarted on demand, with the imports it has tried."""

    def __init__(self, located: Located, assignment: Assignment, config: SandboxConfig, workdir: str,
                 import_timeout: float) -> None:
        self.located, self.assignment, self.config, self.workdir = located, assignment, config, workdir
        self.import_timeout = import_timeout
        self.child: Child | None = None
        self.import_errors: dict[str, ModuleProblem] = {}
        self.imported: set[str] = set()
        self.probed = False            # whether the current child has run a probe (is no longer fresh)
        self.failed_starts = 0         # starts in a row that died before the child was ready
        self.start_failure: ChildFailure | None = None
        self.unconfined = ""               # why a child ran without its sandbox ("" when none did)

    def ensure_child(self) -> Child:
        if self.child is None or not self.child.alive():
            self.close()
            if self.failed_starts >= START_ATTEMPTS and self.start_failure is not None:
                raise ChildFailure(FailureKind.STARTUP, self.start_failure.message)
            modules = {k: str(v) for k, v in self.located.modules.items()}
            notebook = str(self.located.notebook) if self.located.notebook else None
            try:
                self.child = Child(modules, notebook, self.workdir, self.config)
            except ChildFailure as failure:
                if failure.kind is FailureKind.STARTUP:
                    self.failed_starts, self.start_failure = self.failed_starts + 1, failure
                raise
            self.failed_starts = 0
            self.imported = set()
            self.probed = False
            self.unconfined = self.unconfined or self.child.unconfined
        return self.child

    def module_problem(self, module: str) -> ModuleProblem | None:
        """Why `module` cannot be used (missing, failed import), or None when it imports."""
        if module in self.import_errors:
            return self.import_errors[module]
        if module not in self.located.modules:
            if self.located.notebook:
                return None
            return Status.MISSING, messages.missing_module(module, self.assignment.problems_needing(module)), ""
        if module in self.imported:
            return None
        answer = self.request({"op": "import", "module": module}, self.import_timeout, what=f"importing {module}.py")
        if isinstance(answer, wire.Returned):
            self.imported.add(module)
            return None
        if isinstance(answer, wire.Failure) and answer.kind is FailureKind.STARTUP:
            # the grader's failure, not the module's: not remembered
            return (Status.GRADER_ERROR, messages.child_start_failed(), answer.message)
        status, text = _status_of(answer, f"importing {module}.py", self.import_timeout)
        self.import_errors[module] = (status, messages.import_failed(module, text), "")
        return self.import_errors[module]

    def request(self, message: dict, timeout: float, *, what: str) -> wire.Answer:
        """One request; a dead or silent child becomes an answer of its own kind. A start that
        failed is tried again at once, up to START_ATTEMPTS in a row: no student code ran, and a
        passing refusal (the machine's process limit, say) must not cost a check."""
        while True:
            try:
                child = self.ensure_child()
            except ChildFailure as failure:
                if failure.kind is FailureKind.STARTUP and self.failed_starts < START_ATTEMPTS:
                    continue
                return self._failed(failure)
            try:
                return child.request(message, timeout)
            except ChildFailure as failure:
                return self._failed(failure)

    def _failed(self, failure: ChildFailure) -> wire.Failure:
        """A failure of the child as an answer; the child is closed."""
        output = self.child.output.text_since(0)[-2000:] if self.child else ""
        self.close()
        if failure.kind is FailureKind.STARTUP:   # its own output is in its message (the instructor's detail)
            output = str(failure)
        return wire.Failure(None, failure.kind, str(failure), output, at_process_limit=failure.at_process_limit)

    def close(self) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None


def _probe_all(pending: list[_Pending], located: Located, assignment: Assignment, config: SandboxConfig, workdir: str,
               import_timeout: float, deadline: float) -> str:
    """Probe every pending check; returns why a child ran without its sandbox ("" when none did)."""
    session = _Session(located, assignment, config, workdir, import_timeout)
    # Non-visible checks go last, in a new child (and working folder): no visible output can
    # carry their inputs, whatever child they need. Within each group, checks that need a child
    # of their own go first: the first one gets the child that has just started, so each costs
    # one extra child start, not two.
    order = sorted(pending, key=lambda item: (item.entry.secret,
                                              not (item.check is not None and item.check.fresh_child)))
    first_secret = next((item for item in order if item.entry.secret and item.outcome is None), None)
    try:
        for item in order:
            if item.outcome is not None:
                continue
            if time.monotonic() > deadline:
                item.outcome = _decided(item.entry, Status.TIMEOUT, messages.BUDGET_EXHAUSTED)
                continue
            assert item.check is not None   # a check without a declaration was decided in phase 1
            started = time.monotonic()
            if (item.check.fresh_child or item is first_secret) and session.probed:
                session.close()
            _probe_one(item, session, deadline)
            if item.check.fresh_child:
                session.close()
            item.duration = time.monotonic() - started
    except ChildFailure as failure:  # the child could not even start: every remaining check says so
        for item in pending:
            if item.outcome is None and not item.observations:
                item.outcome = _decided(item.entry, Status.GRADER_ERROR, messages.child_start_failed(), str(failure))
    finally:
        session.close()
    return session.unconfined


def _probe_one(item: _Pending, session: _Session, deadline: float) -> None:
    for probe in item.probes:
        problem = session.module_problem(probe.module) if probe.module else None   # "": no module of its own
        if problem is not None:
            item.outcome = _decided(item.entry, *problem)
            item.module_failed = True
            return
        timeout = min(item.entry.timeout, max(deadline - time.monotonic(), 1.0))
        params = wire.encode(probe.params)
        session.probed = True
        arrays = base.arrays_of(probe, item.check, session.assignment.arrays)
        request = {"op": "probe", "kind": probe.kind, "params": params, "arrays": arrays}
        answer = session.request(request, timeout, what=probe.label)
        if isinstance(answer, wire.Returned):   # already decoded and validated (wire.read_answer)
            item.observations.append(base.Observation(probe, returned=answer.value))
        elif isinstance(answer, wire.Raised):
            item.observations.append(base.Observation(probe, raised=answer.exception))
        else:
            status, text = _status_of(answer, probe.label, timeout, probe.function, session.assignment)
            item.outcome = _decided(item.entry, status, text, answer.output if isinstance(answer, wire.Failure) else "")
            return


def _status_of(answer: wire.Answer, label: str, timeout: float, function: str = "",
               assignment: Assignment | None = None) -> tuple[Status, str]:
    """A non-returning answer (or a failure of the child) as a status and a student-facing message
    (`assignment`: whose contract says what a missing name should look like)."""
    if isinstance(answer, wire.NotImplementedYet):
        return Status.NOT_ATTEMPTED, messages.not_attempted(function or label, answer.text)
    if isinstance(answer, wire.Missing):
        expected = assignment.expected_definition(function) if assignment is not None else ""
        return Status.MISSING, messages.missing_name(answer.text, expected)
    if isinstance(answer, wire.ImportFailed):
        return Status.ERROR, answer.text
    if isinstance(answer, wire.Raised):
        return Status.ERROR, messages.raised(label, answer.exception)
    if isinstance(answer, wire.Oversized):
        return Status.ERROR, messages.too_large(label, answer.text)
    if isinstance(answer, wire.Failure):
        if answer.kind is FailureKind.STARTUP:
            return Status.GRADER_ERROR, messages.child_start_failed()
        if answer.kind is FailureKind.MEMORY:
            return Status.ERROR, messages.out_of_memory(label)
        if answer.kind is FailureKind.TIMEOUT:
            return Status.TIMEOUT, messages.timed_out(label, timeout, answer.at_process_limit)
        return Status.ERROR, messages.crashed(label, answer.message)   # CRASH, PROTOCOL
    return Status.GRADER_ERROR, messages.GRADER_BUG   # GraderError, or a Ready out of turn


def _judge(item: _Pending, assignment: Assignment) -> Outcome:
    """The check's outcome as the instructor sees it (redacted for students afterwards)."""
    if item.outcome is not None:
        return item.outcome
    assert item.check is not None   # a check without a declaration was decided in phase 1
    return judge_observations(item.entry, item.check, item.observations, assignment, item.key)


def judge_context(entry: CheckEntry, check: base.Check, observations: Sequence[base.Observation],
                  assignment: Assignment, key: str = "") -> base.JudgeContext:
    """What a judge is given: the answers, the rubric's tolerance and seed, the assignment's reference."""
    return base.JudgeContext(tuple(observations), tolerance_of(entry), rng_for(entry, key),
                             reference=assignment.reference_object, arrays=check.arrays or assignment.arrays)


def judge_observations(entry: CheckEntry, check: base.Check, observations: Sequence[base.Observation],
                       assignment: Assignment, key: str = "") -> Outcome:
    """Judge what the child answered, and decide who is to blame when judging fails: an answer the
    judge cannot use is the student's failure, the grader's error only an answer of the right form."""
    ctx = judge_context(entry, check, observations, assignment, key)
    try:
        with noting_float32_slack() as slack:
            verdict = check.judge(ctx)
        status = Status.PASSED if verdict.fraction >= 1.0 else Status.FAILED
        message = verdict.message
        if status is Status.PASSED and slack:
            message = f"{message}\n{messages.FLOAT32_NOTE}".strip()
        return _decided(entry, status, message, fraction=verdict.fraction, figure=verdict.figure)
    except base.StudentRaised as exc:
        return _decided(entry, Status.ERROR, messages.raised(exc.label, exc.raised))
    except Mismatch as exc:
        return _decided(entry, Status.FAILED, str(exc))
    except Exception:
        unusable = _unusable_answer(observations, assignment)
        if unusable:
            return _decided(entry, Status.FAILED, unusable, f"{unusable}\n{traceback.format_exc()}")
        return _decided(entry, Status.GRADER_ERROR, messages.GRADER_BUG, traceback.format_exc())


def _unusable_answer(observations: Sequence[base.Observation], assignment: Assignment) -> str:
    """Why the first answer a judge cannot use is not of the right form ("" when every answer is):
    the student's own values hold something else than numbers, or nan or inf, or a call's answer differs in form
    (containers, lengths, shapes) from the reference's."""
    for obs in observations:
        if obs.raised is not None or not obs.probe.answers_summary(obs.returned):
            continue                   # Observation.value says why, before any judge could fail on it
        found, value = obs.students_value
        if found and not holds_only_numbers(value):
            return not_numbers(value, obs.probe.label)
        if found and holds_non_finite(value):   # a judge may count with the numbers it is given (int(nan))
            return non_finite(value, obs.probe.label)
        expected = _reference_answer(obs.probe, assignment)
        if found and expected is not None and form(value) != form(expected):
            return f"{obs.probe.label} returned {describe(value)}; expected {describe(expected)}."
    return ""


def _reference_answer(probe: base.Probe, assignment: Assignment):
    """The reference's answer to a call probe (None for other kinds, or when it cannot be had)."""
    if probe.kind not in ("call", "call_keep_args", "call_catch"):
        return None
    try:
        return reference_answer(probe, assignment.reference_object)
    except Exception:
        return None


def tolerance_of(entry: CheckEntry) -> Tolerance:
    return Tolerance(entry.rtol, entry.atol, entry.float32_rtol, entry.float64_only)


_STUDENT_FAILURES = (Status.FAILED, Status.ERROR, Status.TIMEOUT)


def _causes(outcomes: Sequence[Outcome], entries: Sequence[CheckEntry], module_failed: set[str]) -> dict[str, str]:
    """One bug, one place: check id -> the sentence naming the `builds_on` checks that failed too.
    A check stopped by its module (missing, or failing to import) says that, not "builds on": the
    import is the one place to fix."""
    failed = {o.check_id: o for o in outcomes if o.status in _STUDENT_FAILURES}
    builds_on = {e.id: e.builds_on for e in entries}
    sentences = {}
    for outcome in outcomes:
        causes = [failed[i] for i in builds_on.get(outcome.check_id, ())   # a visible message names no hidden check
                  if i in failed and (failed[i].visibility == "visible" or outcome.visibility != "visible")]
        if outcome.status in _STUDENT_FAILURES and causes and outcome.check_id not in module_failed:
            sentences[outcome.check_id] = messages.builds_on([(c.check_id, c.title) for c in causes])
    return sentences


def _decided(entry: CheckEntry, status: Status, message: str, detail: str = "", fraction: float | None = None,
             figure: bytes = b"") -> Outcome:
    if fraction is None:
        fraction = 1.0 if status is Status.PASSED else 0.0
    fraction = min(max(float(fraction), 0.0), 1.0) if np.isfinite(fraction) else 0.0
    shown = base64.b64encode(figure).decode("ascii") if figure and len(figure) <= MAX_FIGURE_BYTES else ""
    return Outcome(entry.id, entry.problem, entry.title, status, round(fraction * entry.points, 6), entry.points,
                   entry.visibility, message, detail or message, figure=shown)


def _redacted(outcome: Outcome, entry: CheckEntry, check: base.Check | None, duration: float = 0.0,
              cause: str = "") -> Outcome:
    """Add the cause (`builds_on`) and the hint; for non-visible checks keep only what reveals no
    input or expected value."""
    hint = check.hint if check else ""
    message = messages.for_student(outcome.status, outcome.message, hint, secret=entry.secret, cause=cause)
    detail = f"{outcome.detail}\n{cause}".strip() if cause else outcome.detail
    return Outcome(outcome.check_id, outcome.problem, outcome.title, outcome.status, outcome.score,
                   outcome.max_score, outcome.visibility, message, detail, round(duration, 3),
                   figure="" if entry.secret else outcome.figure)
