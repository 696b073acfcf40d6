"""Problem 4: the derivative of a max (`gradients.max_derivative`).

The functions travel as whitelisted callables (`grader/probes/callables.py`):
polynomials, a sin(b x + c) + d and a exp(b x) + c, each with its derivative. Away
from ties, x is chosen so that the largest value leads the next one by a clear gap
(a student testing ties with a tolerance is not caught out) and so that the usual
wrong answers (the largest derivative, the maximum value itself, the derivative
of the smallest f_i) differ from the right one. Ties are exact in floating point.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, call
from grader.checks.callables import build_fn, fn_name
from grader.compare import Mismatch, as_array, assert_close

CHECKS = CheckList(__name__)

TARGET = "gradients.max_derivative"
GAP = 0.2          # the maximum leads the runner-up by at least this much away from ties


def poly(coeffs: Iterable[float]) -> tuple[dict, dict]:
    coeffs = [float(c) for c in coeffs]
    return {"__fn__": "poly", "coeffs": coeffs}, {"__fn__": "dpoly", "coeffs": coeffs}


def wave(a: float, b: float, c: float, d: float) -> tuple[dict, dict]:
    abcd = [float(a), float(b), float(c), float(d)]
    return {"__fn__": "affine_sin", "abcd": abcd}, {"__fn__": "d_affine_sin", "abcd": abcd}


def growth(a: float, b: float, c: float) -> tuple[dict, dict]:
    abc = [float(a), float(b), float(c)]
    return {"__fn__": "affine_exp", "abc": abc}, {"__fn__": "d_affine_exp", "abc": abc}


def max_call(pairs: Sequence[tuple[dict, dict]], x: float, *, kind: str = "call") -> Probe:
    fs, dfs = [f for f, _ in pairs], [df for _, df in pairs]
    label = f"max_derivative(fs, dfs, {x:g}) with fs = [{', '.join(fn_name(f) for f in fs)}]"
    probe = call(TARGET, fs, dfs, float(x), label=label)
    return probe if kind == "call" else Probe(kind, probe.params, probe.module, probe.label)


def _evaluate(pairs, x: float) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([build_fn(f)(x) for f, _ in pairs], dtype=np.float64)
    slopes = np.array([build_fn(df)(x) for _, df in pairs], dtype=np.float64)
    return values, slopes


def _wrong_answers(values: np.ndarray, slopes: np.ndarray) -> dict[str, float]:
    """The usual mistakes, by the sentence that names them."""
    top = int(np.argmax(values))
    return {
        "You returned the largest derivative max_i f_i'(x); the derivative of the max is the derivative of the "
        "function that attains the maximum value, f_I'(x) with I = argmax_i f_i(x).": float(np.max(slopes)),
        "You returned the maximum value f(x) = f_I(x) itself, not its derivative f_I'(x).": float(values[top]),
        "You returned the derivative of the smallest f_i: I is the index of the largest value.":
            float(slopes[int(np.argmin(values))]),
    }


def _well_separated(pairs, x: float) -> bool:
    values, slopes = _evaluate(pairs, x)
    ranked = np.sort(values)
    if len(values) > 1 and ranked[-1] - ranked[-2] < GAP:
        return False
    right = slopes[int(np.argmax(values))]
    return all(abs(w - right) >= 0.05 for w in _wrong_answers(values, slopes).values()) or len(values) == 1


def _random_pair(rng: np.random.Generator, families: Sequence[str]) -> tuple[dict, dict]:
    family = families[int(rng.integers(len(families)))]
    if family == "poly":
        return poly(np.round(rng.normal(size=int(rng.integers(1, 4)) + 1) * 1.5, 2))
    if family == "wave":
        return wave(*np.round([rng.uniform(0.5, 2), rng.uniform(0.5, 3), rng.uniform(-3, 3), rng.normal()], 2))
    return growth(*np.round([rng.uniform(0.2, 1.5) * rng.choice([-1, 1]), rng.uniform(-1, 1), rng.normal()], 2))


def _separated_case(rng: np.random.Generator, n: int, families: Sequence[str], span: float,
                    argmax_last: bool = False) -> tuple[list, float]:
    for _ in range(10_000):
        pairs = [_random_pair(rng, families) for _ in range(n)]
        x = float(np.round(rng.uniform(-span, span), 3))
        if not _well_separated(pairs, x):
            continue
        values, _ = _evaluate(pairs, x)
        if argmax_last and int(np.argmax(values)) != n - 1:
            continue
        return pairs, x
    raise RuntimeError("no well-separated case found")  # a grader bug: reported as such by the runner


def _basic_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for n in (2, 3, 4, 5):
        pairs, x = _separated_case(rng, n, ("poly",), 2.0)
        probes.append(max_call(pairs, x))
    return probes


def _judge_values(ctx: JudgeContext) -> Verdict:
    ref = ctx.reference(TARGET)
    for obs in ctx.observations:
        fs, dfs, x = obs.probe.params["args"]
        pairs = list(zip(fs, dfs))
        values, slopes = _evaluate(pairs, x)
        top = int(np.argmax(values))
        if obs.raised is not None and obs.raised.get("type") == "ValueError":
            return Verdict.failed(
                f"{obs.probe.label} raised ValueError, but only f_{top} attains the maximum {values[top]:.6g} at "
                f"x = {x:g}: equal values below the maximum do not matter.")
        expected = ref([build_fn(f, ctx.reference) for f in fs], [build_fn(df, ctx.reference) for df in dfs], x)
        actual = obs.value
        try:
            assert_close(actual, expected, ctx.tol, what=obs.probe.label)
        except Mismatch as exc:
            return Verdict.failed(_diagnosis(actual, values, slopes) + str(exc))
    return Verdict.passed()


def _diagnosis(actual: Any, values: np.ndarray, slopes: np.ndarray) -> str:
    try:
        got = as_array(actual)
    except Mismatch:
        return ""
    if got.size != 1:
        return "Return one number, the derivative f_I'(x).\n"
    got_value = float(got.reshape(-1)[0])
    for sentence, wrong in _wrong_answers(values, slopes).items():
        if np.isclose(got_value, wrong, rtol=1e-9, atol=1e-12):
            return sentence + "\n"
    return ""


CHECKS.add(Check(
    "P4.max_derivative", _basic_probes, _judge_values,
    hint=("Where the maximum is attained by one f_I alone, f = f_I near x, so f'(x) = dfs[I](x) with "
          "I = argmax_i fs[i](x): compare the values f_i(x), then call only the winner's derivative."),
))


# ------------------------------------------------------------------------ ties


def _tie_probes(rng: np.random.Generator) -> list[Probe]:
    cases = [
        ([poly([0, 1]), poly([0, -1])], 0.0),                              # |x| at 0
        ([poly([1, 2]), poly([2, 1]), poly([0, 0, -1])], 1.0),             # 2x + 1 = x + 2 = 3 at x = 1
        ([poly([0, 0, -1]), poly([0, 4]), poly([2])], 0.5),                # 4x = 2 at x = 1/2, x^2 lower
        ([wave(1, 1, 0, 1), poly([1, 3]), poly([-1, 1])], 0.0),            # sin(x) + 1 = 1 + 3x at 0
    ]
    order = rng.permutation(len(cases))
    return [max_call(*cases[i], kind="call_catch") for i in order]


def _judge_ties(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        fs, dfs, x = obs.probe.params["args"]
        values, _ = _evaluate(list(zip(fs, dfs)), x)
        winners = [i for i, v in enumerate(values) if v == values.max()]
        result = obs.value
        if "raised" in result:
            raised = result["raised"]
            if "ValueError" in raised.get("mro", ()):
                continue
            return Verdict.failed(f"{obs.probe.label} raised {raised.get('message') or raised.get('type')} "
                                  "instead of ValueError at a tie.")
        returned = result.get("returned")
        try:
            shown = f"{float(as_array(returned).reshape(-1)[0]):g}" if as_array(returned).size == 1 else repr(returned)
        except Mismatch:
            shown = repr(returned)
        pair = " and ".join(f"f_{i}" for i in winners)
        return Verdict.failed(
            f"{obs.probe.label} returned {shown} instead of raising ValueError at a tie: {pair} both attain the "
            f"maximum {values.max():g} at x = {x:g}, where f need not be differentiable.")
    return Verdict.passed()


CHECKS.add(Check(
    "P4.max_derivative.tie", _tie_probes, _judge_ties,
    hint=("When the largest value is attained by more than one f_i (f_i(x) == f_j(x) == max), f may have a kink "
          "there: raise ValueError instead of returning a number."),
))
