"""Declaring elementwise checks: a function against the reference on inputs of several shapes
(0-d, (n,), (a, b)), returning its input's shape, finite where the exact value is, with a
teaching sentence first when a diagnosis recognises the bug. Also the small numeric helpers
judges share (`readable`, `matches`)."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .base import Check, JudgeContext, Observation, Probe, Verdict, as_torch, call, summarize, to_numpy
from ..compare import Mismatch, Tolerance, as_array, assert_close

Case = tuple[str, tuple, dict]  # (target, args, kwargs): one call of an elementwise function
Diagnosis = Callable[[tuple, dict, np.ndarray, np.ndarray], "str | None"]

OVERFLOW_SENTENCE = "an intermediate result overflowed (in float64 exp(710) is already inf)"


def call_label(name: str, args: Sequence[Any], kwargs: dict) -> str:
    parts = [summarize(args)] if args else []
    parts += [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def shaped_inputs(rng: np.random.Generator, scale: float = 3.0, zeros: bool = False) -> list[np.ndarray]:
    """One input of each shape an elementwise function must take: 0-d, (n,), (a, b)."""
    inputs = [np.array(rng.normal() * scale), rng.normal(size=7) * scale, rng.normal(size=(3, 4)) * scale]
    if zeros:
        inputs[1][[2, 5]] = 0.0
        inputs[2][1, 1] = 0.0
        inputs.append(np.array(0.0))
    return inputs


EXTREMES = (1e4, -1e4, 1e3, -1e3, 800.0, -800.0, 710.0, -710.0, 100.0, -100.0, 40.0, -40.0, 1.0, 0.0)


def extreme_inputs(rng: np.random.Generator) -> list[np.ndarray]:
    """|z| up to 1e4: the fixed edges, log-uniform magnitudes with random signs, and 0-d extremes."""
    spread = rng.choice([-1.0, 1.0], size=(4, 5)) * 10.0 ** rng.uniform(-3, 4, size=(4, 5))
    return [np.array(EXTREMES), spread, np.array(1e4), np.array(-1e3)]


def elementwise_check(check_id: str, make_cases: Callable[[np.random.Generator], Sequence[Case]], *, hint: str,
                      diagnoses: Mapping[str, Sequence[Diagnosis]] | None = None, var: str = "z") -> Check:
    """A check: every case's call matches the reference, keeps its input's shape, stays finite.

    `diagnoses[name]` are tried in order on a mismatch of function `name`; the first
    sentence one returns opens the message (the numpy-style details follow).
    """
    diagnoses = diagnoses or {}

    def probes(rng: np.random.Generator) -> list[Probe]:
        return [call(target, *args, label=call_label(target.partition(".")[2], args, kwargs), **kwargs)
                for target, args, kwargs in make_cases(rng)]

    def judge(ctx: JudgeContext) -> Verdict:
        for obs in ctx.observations:
            name = obs.probe.params["target"].partition(".")[2]
            message = judge_elementwise(obs, ctx.tol, ctx.reference, diagnoses.get(name, ()), var)
            if message:
                return Verdict.failed(message)
        return Verdict.passed()

    return Check(check_id, probes, judge, hint)


def judge_elementwise(obs: Observation, tol: Tolerance, reference: Callable[[str], Any],
                      diagnoses: Sequence[Diagnosis] = (), var: str = "z") -> str | None:
    """The failure message for one call of an elementwise function, or None when it is right
    (`reference`: the judge context's, "module.name" -> the reference's function)."""
    target = obs.probe.params["target"]
    name = target.partition(".")[2]
    args, kwargs = obs.probe.params["args"], obs.probe.params["kwargs"]
    expected = np.asarray(to_numpy(reference(target)(*as_torch(args), **as_torch(kwargs))), dtype=np.float64)
    label = obs.probe.label
    actual = None
    try:
        actual = as_array(obs.value, what=label)
        z = np.asarray(args[0])
        if actual.shape != z.shape:
            return (f"{label} returned shape {tuple(actual.shape)} for {var} of shape {tuple(z.shape)}: "
                    "an elementwise function returns a result of the same shape as its input.")
        if np.iscomplexobj(actual):
            return f"{label} returned complex numbers ({actual.dtype}); expected real ones."
        actual = actual.astype(np.float64)
        bad = ~np.isfinite(actual) & np.isfinite(expected)
        if bad.any():
            i = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape) if bad.ndim else ()
            return (f"{name}({var}{_other_args(args, kwargs)}) is {actual[i]} at {var} = {z[i]:g}, where the exact "
                    f"value is {expected[i]:.6g}: {OVERFLOW_SENTENCE}.")
        assert_close(actual, expected, tol, what=label)
    except Mismatch as exc:
        sentence = None
        if isinstance(actual, np.ndarray) and actual.shape == expected.shape:
            for diagnose in diagnoses:
                sentence = diagnose(args, kwargs, actual, expected)
                if sentence:
                    break
        return f"{sentence}\n{exc}" if sentence else str(exc)
    return None


def _other_args(args: Sequence[Any], kwargs: dict) -> str:
    """A function judged at (x, k): name the other arguments of a non-finite value."""
    rest = [f"{a:g}" if isinstance(a, float) else repr(a) for a in args[1:]] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return "".join(f", {r}" for r in rest)


def readable(value: Any) -> np.ndarray | None:
    """A returned value as a float64 array, or None when it is not numbers."""
    try:
        return np.array(as_array(value), dtype=np.float64)
    except (Mismatch, TypeError, ValueError):
        return None


def matches(actual: np.ndarray, candidate: Any) -> bool:
    """Whether a result equals a known wrong formula (used to name a bug, never to pass)."""
    candidate = np.asarray(candidate, dtype=np.float64)
    return actual.shape == candidate.shape and bool(np.allclose(actual, candidate, rtol=1e-6, atol=1e-9))
