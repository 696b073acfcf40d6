"""Build time only (never shipped): freeze what the visible judges ask of the reference.

`record_reference` grades the reference's own modules with the autograder's pipeline
(`runner.grade`, visible checks only) while ``<reference package>.<module>`` (the assignment's
reference package and modules) is served by recording
wrappers: every call a judge makes is stored as ``key(target, canonical(arguments)) ->
result`` (see `grader.kit.frozen`), with the ids of the checks that made it.

The reference passes every visible check, so the calls judges make only when a check
fails (diagnoses of known bugs) would go unrecorded: the judges run once more on the
recorded observations with every returned float nudged (x -> x (1 + e) + e), against the
real reference, and those calls are kept as candidates.

`verify_replay` then judges the observations against the frozen answers alone: as
recorded, the verdicts must be the autograder's, with no miss; nudged another way, the
calls that still find no answer are the ones that depend on what the student returned
(they cannot be frozen: the kit judges such a check only when a student's answer equals
the reference's bit for bit), and the candidates that were used are kept.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..assignment import Assignment
from ..checks import base
from ..outcome import GradingResult
from ..rubric import CheckEntry, Rubric
from ..runner import grade, rng_for, sandbox_for
from .frozen import (FORMAT, PROXY_ATTRIBUTE, FrozenReference, Unfreezable, call_key, canonical_call,
                     encode_result, modules_installed, stand_in_modules)


@dataclass
class Recording:
    """What one build-time grading of the reference froze, and what its judges saw."""

    calls: dict[str, dict] = field(default_factory=dict)          # key -> {target, args, result|raised, checks}
    candidates: dict[str, dict] = field(default_factory=dict)     # the same, made by judges of nudged answers
    values: dict[str, dict] = field(default_factory=dict)         # target -> {value, checks} (constants)
    unfreezable: dict[str, list[str]] = field(default_factory=dict)  # check id -> why a call could not be frozen
    contexts: dict[str, base.JudgeContext] = field(default_factory=dict)  # check id -> its judge's input
    verdicts: dict[str, tuple[float, str]] = field(default_factory=dict)  # check id -> (fraction, message)
    result: GradingResult | None = None

    def frozen_data(self, extra: dict[str, dict] | None = None) -> dict:
        """The content of the kit's frozen.json: the recorded calls, and `extra` ones (used candidates)."""
        return {"format": FORMAT, "calls": {**(extra or {}), **self.calls}, "values": self.values}


class _Recorder:
    def __init__(self, recording: Recording, assignment: Assignment) -> None:
        self.recording = recording
        self.assignment = assignment
        self.package = self.assignment.reference
        self.real = {m: self.assignment.reference_module(m) for m in self.assignment.modules}
        self.current = ""            # the check whose judge runs now
        self._depth = 0              # calls made inside a reference call are not the judge's

    def resolve(self, target: str) -> Any:
        module, _, name = target.partition(".")
        if module not in self.real:
            raise AttributeError(f"{self.package} has no module {module!r}")
        real = getattr(self.real[module], name)
        if callable(real):
            return self._wrap(target, real)
        try:
            encoded = encode_result(real)
        except Unfreezable as exc:
            self._unfreezable(f"{self.package}.{target} is {exc}")
        else:
            entry = self.recording.values.setdefault(target, {"value": encoded, "checks": []})
            self._provenance(entry)
        return real

    def stand_ins(self) -> dict:
        return stand_in_modules(self.resolve, self.package, tuple(self.real))

    def _wrap(self, target: str, real: Callable) -> Callable:
        @functools.wraps(real)
        def recording(*args: Any, **kwargs: Any) -> Any:
            return self._call(target, real, args, kwargs)

        setattr(recording, PROXY_ATTRIBUTE, target)
        return recording

    def _call(self, target: str, real: Callable, args: tuple, kwargs: dict) -> Any:
        if self._depth:
            return real(*args, **kwargs)
        try:
            canon, reason = canonical_call(args, kwargs), ""
        except Unfreezable as exc:
            canon, reason = None, f"{self.package}.{target} is called with {exc}"
        self._depth += 1
        try:
            result = real(*args, **kwargs)
        except Exception as exc:
            if canon is not None:
                self._store(target, canon, {"raised": [type(exc).__name__, str(exc)]})
            raise
        finally:
            self._depth -= 1
        if canon is not None:
            reason = self._store_result(target, canon, args, kwargs, result)
        if reason:
            self._unfreezable(reason)
        return result

    def _store_result(self, target: str, canon: Any, args: tuple, kwargs: dict, result: Any) -> str:
        try:
            changed = canonical_call(args, kwargs) != canon
        except Unfreezable:
            changed = True
        if changed:
            return f"{self.package}.{target} changes its arguments in place"
        try:
            self._store(target, canon, {"result": encode_result(result)})
        except Unfreezable as exc:
            return f"{self.package}.{target} returns {exc}"
        return ""

    def _store(self, target: str, canon: Any, outcome: dict) -> None:
        entry = self.recording.calls.setdefault(call_key(target, canon),
                                                {"target": target, "args": canon, **outcome, "checks": []})
        self._provenance(entry)

    def _provenance(self, entry: dict) -> None:
        if self.current and self.current not in entry["checks"]:
            entry["checks"].append(self.current)

    def _unfreezable(self, reason: str) -> None:
        reasons = self.recording.unfreezable.setdefault(self.current or "?", [])
        if reason not in reasons:
            reasons.append(reason)


def _judges_observed(checks: Mapping[str, base.Check], ids: Sequence[str],
                     before: Callable[[str, base.JudgeContext], None],
                     after: Callable[[str, base.Verdict], None]) -> dict[str, base.Check]:
    """`checks` with the judges of `ids` wrapped (the runner is handed these)."""

    def observed(check_id: str, judge: Callable) -> Callable:
        def run(ctx: base.JudgeContext) -> base.Verdict:
            before(check_id, ctx)
            verdict = judge(ctx)
            after(check_id, verdict)
            return verdict

        return run

    return {check_id: (dataclasses.replace(check, judge=observed(check_id, check.judge)) if check_id in ids else check)
            for check_id, check in checks.items()}


def record_reference(submission: Path, assignment: Assignment, rubric: Rubric,
                     entries: Sequence[CheckEntry]) -> Recording:
    """Grade `submission` (the reference's modules) on `entries`, recording every reference call of the judges."""
    recording = Recording()
    recorder = _Recorder(recording, assignment)

    def before(check_id: str, ctx: base.JudgeContext) -> None:
        recorder.current = check_id
        recording.contexts[check_id] = ctx

    def after(check_id: str, verdict: base.Verdict) -> None:
        recording.verdicts[check_id] = (verdict.fraction, verdict.message)
        recorder.current = ""

    checks = _judges_observed(assignment.catalog, [e.id for e in entries], before, after)
    with modules_installed(recorder.stand_ins()):
        recording.result = grade(submission, assignment, rubric=rubric, checks=checks, entries=entries,
                                 sandbox=sandbox_for(assignment, rubric, grading_zygote=True))
    _record_failure_paths(recording, assignment, entries)
    return recording


NUDGE_RECORD, NUDGE_VERIFY = 1e-3, 2e-3


def _record_failure_paths(recording: Recording, assignment: Assignment, entries: Sequence[CheckEntry]) -> None:
    """Judge nudged observations against the real reference: what the failure paths ask of it."""
    checks = assignment.catalog
    candidates = Recording()
    recorder = _Recorder(candidates, assignment)
    with modules_installed(recorder.stand_ins()):
        for entry in entries:
            ctx = recording.contexts.get(entry.id)
            if ctx is None:
                continue
            recorder.current = entry.id
            _judge_quietly(checks[entry.id], _nudged_context(ctx, entry, NUDGE_RECORD))
    recording.candidates = {k: v for k, v in candidates.calls.items() if k not in recording.calls}
    for target, value in candidates.values.items():
        recording.values.setdefault(target, value)


@dataclass(frozen=True)
class ReplayReport:
    differing: dict[str, str]             # check id -> how the replayed verdict differs from the recorded one
    dependent: dict[str, list[str]]       # check id -> reference calls that depend on the student's values
    kept: dict[str, dict]                 # candidate calls (of failure paths) that the kit needs


def verify_replay(recording: Recording, assignment: Assignment, entries: Sequence[CheckEntry]) -> ReplayReport:
    """Judge the recorded observations against the frozen answers alone, as given and nudged."""
    checks = assignment.catalog
    frozen = FrozenReference(recording.frozen_data(recording.candidates), assignment.reference, assignment.modules)
    differing: dict[str, str] = {}
    dependent: dict[str, list[str]] = {}
    with modules_installed(frozen.modules()):
        for entry in entries:
            ctx = recording.contexts.get(entry.id)
            if ctx is None:
                continue
            fresh = dataclasses.replace(ctx, rng=rng_for(entry))
            frozen.misses.clear()
            verdict = _judge_quietly(checks[entry.id], fresh)
            if frozen.misses or verdict != recording.verdicts.get(entry.id):
                differing[entry.id] = (f"missed {frozen.misses[0]}" if frozen.misses
                                       else f"gave {verdict} instead of {recording.verdicts.get(entry.id)}")
            frozen.misses.clear()
            _judge_quietly(checks[entry.id], _nudged_context(ctx, entry, NUDGE_VERIFY))
            if frozen.misses:
                dependent[entry.id] = sorted({f"{frozen.package}.{m.target}" for m in frozen.misses})
    for check_id, reasons in recording.unfreezable.items():
        dependent[check_id] = sorted(set(dependent.get(check_id, [])) | set(reasons))
    kept = {k: v for k, v in recording.candidates.items() if k in frozen.hits}
    return ReplayReport(differing, dependent, kept)


def _nudged_context(ctx: base.JudgeContext, entry: CheckEntry, by: float) -> base.JudgeContext:
    return dataclasses.replace(ctx, observations=tuple(_nudged(o, by) for o in ctx.observations), rng=rng_for(entry))


def _judge_quietly(check: base.Check, ctx: base.JudgeContext) -> tuple[float, str] | str:
    try:
        verdict = check.judge(ctx)
        return (verdict.fraction, verdict.message)
    except Exception as exc:  # a Mismatch, StudentRaised or FrozenMiss: the runner's business, not ours
        return f"{type(exc).__name__}"


def _nudged(observation: base.Observation, by: float) -> base.Observation:
    if observation.raised is not None:
        return observation
    return base.Observation(observation.probe, returned=_nudge(observation.returned, by))


def _nudge(value: Any, by: float) -> Any:
    """Every float a little off (x (1 + by) + by); integers, booleans and text as they were."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return (np.asarray(value) * (1 + by) + by).astype(value.dtype).view(type(value))
    if isinstance(value, float):
        return value * (1 + by) + by
    if isinstance(value, tuple):
        return tuple(_nudge(v, by) for v in value)
    if isinstance(value, list):
        return [_nudge(v, by) for v in value]
    if isinstance(value, dict):
        return {k: _nudge(v, by) for k, v in value.items()}
    return value
