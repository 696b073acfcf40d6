"""Checks of a class of the submission (an ``nn.Module``), by declaration.

Each declaration asks the child's probe kind ``class_report`` (grader/probes/classes.py) to
construct the student's class with the given arguments after ``torch.manual_seed(seed)`` and
report on it; the judge compares that with a declared value or with the reference's class,
constructed the same way in the parent by the same function::

    module_shape("B1.shape", "cnn.SmallCNN", lambda rng: [rng.normal(size=(2, 1, 8, 8))], init=(3,))
    module_parameters("B1.params", "cnn.SmallCNN", init=(3,))            # as many as the reference's
    module_outputs("B1.forward", "cnn.SmallCNN", _images, init=(3,))     # same layers, same seed
    module_trains("B2.train", "cnn.SmallCNN", "cnn.train", _data, init=(3,), train_kwargs={"epochs": 5})

`inputs(rng)` and `data(rng)` draw from the check's seeded `rng`, as `probes(rng)` does.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..compare import assert_close
from ..probes.classes import class_report
from .base import Check, JudgeContext, Observation, Probe, Verdict, as_arguments, summarize

Inputs = Callable[[np.random.Generator], Sequence[np.ndarray]]


class ReferenceCode:
    """The reference as ``class_report`` sees a submission: ``resolve("module.name")``."""

    def __init__(self, ctx: JudgeContext) -> None:
        self.resolve = ctx.reference


def class_probe(target: str, *, init: Sequence = (), init_kwargs: dict | None = None, seed: int = 0,
                inputs: Sequence = (), report: Sequence[str] = (), training: dict | None = None,
                arrays: str | None = None) -> Probe:
    """One ``class_report`` request (for a judge of your own: its answer is a dict of what `report` asks)."""
    module, _, name = target.partition(".")
    params = {"target": target, "init_args": tuple(init), "init_kwargs": dict(init_kwargs or {}), "seed": seed,
              "inputs": list(inputs), "report": list(report), "training": training}
    return Probe("class_report", params, module, f"{name}({summarize(tuple(init))})", arrays)


def reference_report(ctx: JudgeContext, probe: Probe) -> dict:
    """What ``class_report`` answers for the reference's class on the same request (parent side)."""
    return class_report(ReferenceCode(ctx), **as_arguments(probe.params, ctx.arrays_of(probe)))


def module_shape(check_id: str, target: str, inputs: Inputs, *, init: Sequence = (), init_kwargs: dict | None = None,
                 expected: Sequence[Sequence[int]] | None = None, seed: int = 0, hint: str = "") -> Check:
    """The output's shape for each input equals `expected` (one shape per input), else the reference's."""

    def judge(ctx: JudgeContext) -> Verdict:
        obs = ctx.observations[0]
        shapes = _reported(obs, "shapes")
        want = expected if expected is not None else reference_report(ctx, obs.probe)["shapes"]
        for x, got, shape in zip(obs.probe.params["inputs"], shapes, want):
            if [int(s) for s in got] != [int(s) for s in shape]:
                return Verdict.failed(f"{obs.probe.label} gives an output of shape {tuple(got)} for an input of shape "
                                      f"{tuple(np.shape(x))}; expected {tuple(shape)}.")
        return Verdict.passed()

    return _declare(check_id, target, judge, hint, init, init_kwargs, seed, inputs, ("shapes",))


def module_parameters(check_id: str, target: str, *, init: Sequence = (), init_kwargs: dict | None = None,
                      expected: int | None = None, hint: str = "") -> Check:
    """The number of trainable parameters equals `expected`, else the reference's."""

    def judge(ctx: JudgeContext) -> Verdict:
        obs = ctx.observations[0]
        count = _reported(obs, "parameters")
        want = expected if expected is not None else reference_report(ctx, obs.probe)["parameters"]
        if count != want:
            return Verdict.failed(f"{obs.probe.label} has {count:,} trainable parameters; expected {want:,}.")
        return Verdict.passed()

    return _declare(check_id, target, judge, hint, init, init_kwargs, 0, None, ("parameters",))


def module_outputs(check_id: str, target: str, inputs: Inputs, *, init: Sequence = (),
                   init_kwargs: dict | None = None, seed: int = 0, hint: str = "") -> Check:
    """The outputs equal the reference's, constructed with the same arguments after the same seed
    (so the student's layers must be created in the reference's order)."""

    def judge(ctx: JudgeContext) -> Verdict:
        obs = ctx.observations[0]
        outputs = _reported(obs, "outputs")
        for i, (got, want) in enumerate(zip(outputs, reference_report(ctx, obs.probe)["outputs"])):
            assert_close(got, want, ctx.tol, what=f"{obs.probe.label} on input {i + 1}")
        return Verdict.passed()

    return _declare(check_id, target, judge, hint, init, init_kwargs, seed, inputs, ("outputs",))


def module_trains(check_id: str, target: str, trainer: str, data: Callable[[np.random.Generator], tuple],
                  *, loss: str = "cross_entropy", train_kwargs: dict | None = None, at_most: float = 0.9,
                  init: Sequence = (), init_kwargs: dict | None = None, seed: int = 0, hint: str = "") -> Check:
    """The student's training function `trainer(model, X, y, **train_kwargs)` on the student's class brings the loss
    (`loss` of torch.nn.functional, measured by the grader on X, y) to at most `at_most` times
    what it was before."""
    name = trainer.partition(".")[2]
    call_text = f"{name}(model, X, y{''.join(f', {k}={v!r}' for k, v in (train_kwargs or {}).items())})"

    def training(rng: np.random.Generator) -> dict:
        X, y = data(rng)
        return {"target": trainer, "X": X, "y": y, "kwargs": dict(train_kwargs or {}), "loss": loss}

    def judge(ctx: JudgeContext) -> Verdict:
        report = _reported(ctx.observations[0], "training")
        before, after = _number(report, "loss_before"), _number(report, "loss_after")
        if not math.isfinite(after) or after > at_most * before:
            return Verdict.failed(f"The {loss} on the training data went from {before:.4g} to {after:.4g} under "
                                  f"{call_text}; it should be at most {at_most:g} times what it was "
                                  f"({at_most * before:.4g}).")
        return Verdict.passed()

    return _declare(check_id, target, judge, hint, init, init_kwargs, seed, None, ("training",), training)


def _declare(check_id, target, judge, hint, init, init_kwargs, seed, inputs, report, training=None) -> Check:
    def probes(rng: np.random.Generator) -> list[Probe]:
        return [class_probe(target, init=init, init_kwargs=init_kwargs, seed=seed,
                            inputs=inputs(rng) if inputs else (), report=report,
                            training=training(rng) if training else None)]

    return Check(check_id, probes, _malformed_fails(judge), hint)


def _malformed_fails(judge: Callable[[JudgeContext], Verdict]) -> Callable[[JudgeContext], Verdict]:
    """An answer that is not the report `class_report` writes (student code patched it) fails the check."""

    def judged(ctx: JudgeContext) -> Verdict:
        try:
            return judge(ctx)
        except _Malformed as exc:
            return Verdict.failed(str(exc))

    return judged


class _Malformed(Exception):
    pass


def _reported(obs: Observation, field: str) -> Any:
    value = obs.value
    kinds = {"shapes": list, "outputs": list, "parameters": int, "training": dict}
    found = value.get(field) if isinstance(value, dict) else None
    if not isinstance(found, kinds[field]) or isinstance(found, bool):
        raise _Malformed(f"{obs.probe.label}: the grader's report on the class came back altered ({field}).")
    return found


def _number(report: dict, field: str) -> float:
    value = report.get(field)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Malformed(f"the grader's report on the training came back altered ({field}).")
    return float(value)
