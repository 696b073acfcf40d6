"""Question 3: softmax with a temperature, and the 2-class and K - 1 parameterisations (`softmax.py`)."""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, call, judge_each, summarize
from .q2 import calls_as_reference, close, has_nan
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe

CHECKS = CheckList(__name__)

LIMIT_HINT = ("S(c x) = S(c (x - max x)): shift before scaling, so exp never sees a large positive number; "
              "c = 0 gives 1/n everywhere, and a very large c puts 1 on the maximum, split equally among ties.")


# ---- S(c x) ---------------------------------------------------------------------------------------

def _temperature_calls(rng: np.random.Generator):
    return [((rng.normal(size=n) * 2, float(c)), {})
            for n, c in ((4, rng.uniform(0.2, 0.9)), (6, rng.uniform(1.1, 3.0)), (3, 1.0), (8, rng.uniform(3, 8)))]


CHECKS.add(calls_as_reference(
    "Q3.softmax_temperature", "softmax.softmax_temperature", _temperature_calls,
    hint="softmax_temperature(x, c) is the softmax of the scaled logits c x.",
))


def _limit(x: np.ndarray, c: float) -> np.ndarray:
    """The exact expected value at the limits: uniform for c = 0, the tied maxima sharing 1 for c = 1e6."""
    if c == 0:
        return np.full(x.shape, 1.0 / x.size)
    top = x == x.max()
    return top / top.sum()


def _limit_inputs(rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    distinct = rng.choice(np.arange(-50, 50), size=6, replace=False) * 0.25   # gaps >= 0.25: at the limit
    return [
        (rng.normal(size=5) * 3, 0.0),
        (np.array([1e4, -1e4, 3.0, 1e4 - 1]), 0.0),
        (distinct, 1e6),
        (np.array([1.0, 3.0, 3.0, 2.0]), 1e6),               # a tie: 1/2 each
        (np.array([1e4, -1e4, 1e4]), 1e6),                  # a tie at 1e4
        (np.array([-1e4, -1e4, -1e4, -1e4 - 1]), 1e6),       # three tied maxima, all very negative
        (np.array([2.5, 2.5, 2.5, 2.5]), 1e6),              # all tied: uniform
    ]


def _limit_probes(rng: np.random.Generator) -> list[Probe]:
    return [call("softmax.softmax_temperature", x, c, label=f"softmax_temperature({summarize([x])}, {c:g})")
            for x, c in _limit_inputs(rng)]


def _judge_limits(ctx: JudgeContext) -> Verdict:
    def expected(obs):
        x, c = obs.probe.params["args"]
        return _limit(np.asarray(x), c)

    def why(message, obs, want):
        x, c = obs.probe.params["args"]
        return f"{message}\n{_why_limit(obs.value, want, x, c)}".rstrip()

    return judge_each(ctx, expected, msg=why)


def _why_limit(actual, expected: np.ndarray, x: np.ndarray, c: float) -> str:
    if has_nan(actual):
        if c == 0:
            return "The result has nan: with c = 0, c x is all zeros and S(0) is the uniform vector 1/n."
        return ("The result has nan: c x overflows exp (or exp underflows to 0 / 0). Subtract max(x) before "
                "multiplying by c.")
    ties = int((x == x.max()).sum())
    try:
        arr = as_array(actual).astype(np.float64).reshape(expected.shape)
    except (Mismatch, ValueError):
        return ""
    if c != 0 and ties > 1 and np.isclose(arr.max(), 1.0) and np.isclose(np.sort(arr)[-2], 0.0):
        return (f"x has {ties} tied maxima: at c = 1e6 they share the 1 equally ({1 / ties:g} each), "
                "as exp(c (x_i - max x)) = 1 for each of them.")
    return ""


CHECKS.add(Check("Q3.softmax_temperature.limits", _limit_probes, _judge_limits, hint=LIMIT_HINT))


# ---- two classes: S(x) = [sigmoid(z), 1 - sigmoid(z)] ---------------------------------------------

def _sigmoid(z: float) -> float:
    return float(0.5 * (1.0 + np.tanh(0.5 * z)))


def _softmax(x: np.ndarray) -> np.ndarray:
    """The judge's own softmax in float64 (never the reference: the kit judges with it offline)."""
    z = np.asarray(x, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def _two_class_probes(rng: np.random.Generator) -> list[Probe]:
    xs = [rng.normal(size=2) * 2 for _ in range(3)] + [np.array([0.5, 0.5]), np.array([-3.0, 4.0])]
    return [call("softmax.two_class_logit", x, label=f"two_class_logit({summarize([x])})") for x in xs]


def _judge_two_class(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        (x,) = obs.probe.params["args"]
        actual = obs.value
        try:
            z = float(as_array(actual, obs.probe.label).reshape(()))
        except (Mismatch, ValueError):
            return Verdict.failed(f"{obs.probe.label} should be one number z, but it is {describe(actual)}.")
        s = _softmax(x)
        got = np.array([_sigmoid(z), _sigmoid(-z)])
        if not close(got, s, ctx.tol):
            message = (f"{obs.probe.label} is z = {z:.6g}: [sigmoid(z), 1 - sigmoid(z)] = "
                       f"[{got[0]:.6g}, {got[1]:.6g}], but S(x) = [{s[0]:.6g}, {s[1]:.6g}].")
            if np.allclose(got[::-1], s, rtol=ctx.tol.rtol, atol=ctx.tol.atol):
                message += " The sign is flipped: sigmoid(z) must be S(x)[0], the probability of the first class."
            return Verdict.failed(message)
    return Verdict.passed()


CHECKS.add(Check(
    "Q3.two_class_logit", _two_class_probes, _judge_two_class,
    hint="Divide numerator and denominator of S(x)_0 by exp(x_0): S(x)_0 = 1 / (1 + exp(-(x_0 - x_1))).",
))


# ---- K - 1 logits: S(x) = S([0, y]) ----------------------------------------------------------------

def _reduce_probes(rng: np.random.Generator) -> list[Probe]:
    xs = [rng.normal(size=k) * 2 + rng.normal() * 3 for k in (2, 3, 5, 8)] + [np.array([2.0, -1.0, 0.0, 2.0])]
    return [call("softmax.reduce_logits", x, label=f"reduce_logits({summarize([x])})") for x in xs]


def _judge_reduce(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        (x,) = obs.probe.params["args"]
        actual = obs.value
        try:
            y = as_array(actual, obs.probe.label).astype(np.float64)
        except Mismatch as exc:
            return Verdict.failed(str(exc))
        k = x.size
        if y.shape != (k - 1,):
            extra = (" It has K entries: drop the first one, which the 0 in [0, y] stands for."
                     if y.size == k else "")
            return Verdict.failed(f"{obs.probe.label} has shape {tuple(y.shape)}, expected ({k - 1},) "
                                  f"(K - 1 = {k - 1} logits).{extra}")
        target, got = _softmax(x), _softmax(np.concatenate([[0.0], y]))
        try:
            assert_close(got, target, ctx.tol, what=f"S([0, y]) for y = {obs.probe.label}")
        except Mismatch as exc:
            message = f"{exc}\nS([0, y]) must equal S(x)."
            if close(y, x[1:], Tolerance()):
                message += (" y = x[1:] forgets to subtract x[0]: the first logit becomes 0, so every logit is "
                            "shifted by -x[0].")
            return Verdict.failed(message)
    return Verdict.passed()


CHECKS.add(Check(
    "Q3.reduce_logits", _reduce_probes, _judge_reduce,
    hint="Softmax is unchanged when the same constant is added to every logit: shift all of them so the first is 0.",
))
