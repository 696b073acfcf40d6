"""Question 2: softmax, the Jacobians of softmax and sigmoid, and their O(n) VJPs (`softmax.py`)."""
from __future__ import annotations

import dataclasses

import math
from typing import Callable, Sequence

import numpy as np

from grader.checks.base import (Check, CheckList, JudgeContext, Probe, Verdict, as_torch, call, same_as_reference,
                                summarize, to_numpy)
from grader.checks.forms import Form
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe, judge_precision

CHECKS = CheckList(__name__)

VJP_HINT = "J^T g = s * (g - (s . g)): never build the n x n matrix."


# ---- helpers shared by the Question 2-8 declarations ---------------------------------------

def calls_as_reference(
    check_id: str,
    target: str,
    make_calls: Callable[[np.random.Generator], Sequence[tuple[tuple, dict]]],
    *,
    hint: str = "",
    explain: Callable[[object, object, tuple, dict], str] | None = None,
) -> Check:
    """Like `same_as_reference`, with keyword arguments per call: `make_calls(rng)` gives (args, kwargs) pairs.

    `explain(actual, expected, args, kwargs)` may name a known bug when the values differ
    (returns "" when it does not recognise one); its sentence follows the mismatch report.
    """
    name = target.partition(".")[2]

    def probes(rng: np.random.Generator) -> list[Probe]:
        out = []
        for args, kwargs in make_calls(rng):
            shown = summarize(args) + "".join(f", {k}={v!r}" for k, v in kwargs.items())
            out.append(call(target, *args, label=f"{name}({shown})", **kwargs))
        return out

    def judge(ctx: JudgeContext) -> Verdict:
        ref = ctx.reference(target)
        for obs in ctx.observations:
            args, kwargs = obs.probe.params["args"], obs.probe.params["kwargs"]
            expected = to_numpy(ref(*as_torch(args), **as_torch(kwargs)))
            actual = obs.value
            try:
                assert_close(actual, expected, ctx.tol, what=obs.probe.label)
            except Mismatch as exc:
                known = explain(actual, expected, args, kwargs) if explain else ""
                return Verdict.failed(f"{exc}\n{known}" if known else str(exc))
        return Verdict.passed()

    return Check(check_id, probes, judge, hint)


def close(actual, expected, tol: Tolerance) -> bool:
    """assert_close as a predicate (for recognising known bugs)."""
    try:
        assert_close(actual, expected, tol)
        return True
    except Mismatch:
        return False


def has_nan(value) -> bool:
    try:
        return bool(np.isnan(as_array(value).astype(np.float64)).any())
    except Mismatch:
        return False


# ---- softmax ---------------------------------------------------------------------------------

def _ref_softmax_np(x: np.ndarray, dim: int) -> np.ndarray:
    z = x - x.max(axis=dim, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=dim, keepdims=True)


def _explain_softmax(actual, expected, args, kwargs) -> str:
    if has_nan(actual) and not has_nan(expected):
        return "The result has nan: exp of a large logit overflowed (inf / inf)."
    dim = kwargs.get("dim", -1)
    x = np.asarray(args[0], dtype=np.float64)
    if x.ndim > 1 and dim not in (-1, x.ndim - 1) and close(actual, _ref_softmax_np(x, -1), Tolerance()):
        return f"It normalised along the last dimension: with dim={dim} every slice along dim {dim} must sum to 1."
    return ""


def _softmax_calls(rng: np.random.Generator):
    return [
        ((rng.normal(size=5) * 3,), {}),
        ((rng.normal(size=(4, 6)) * 3,), {"dim": -1}),
        ((rng.normal(size=(4, 6)) * 3,), {"dim": 0}),
        ((rng.normal(size=(2, 3, 5)) * 3,), {"dim": 1}),
        ((rng.normal(size=(3, 1)) * 3,), {"dim": 1}),
        ((rng.normal(size=(3, 4)) * 3,), {"dim": 1}),
    ]


CHECKS.add(calls_as_reference(
    "Q2.softmax", "softmax.softmax", _softmax_calls, explain=_explain_softmax,
    hint="softmax(x, dim) exponentiates and divides by the sum along dim (keepdim=True), same shape as x.",
))


# ---- Jacobians and small VJPs --------------------------------------------------------------------

CHECKS.add(same_as_reference(
    "Q2.softmax_jacobian", "softmax.softmax_jacobian",
    lambda rng: [(rng.normal(size=n) * 2,) for n in (1, 3, 7)],
    hint="dS_i/dx_j = S_i (delta_ij - S_j): the (n, n) matrix diag(S) - S S^T.",
))

CHECKS.add(same_as_reference(
    "Q2.sigmoid_jacobian", "softmax.sigmoid_jacobian",
    lambda rng: [(rng.normal(size=n) * 3,) for n in (1, 4, 8)],
    hint="The sigmoid acts elementwise, so its Jacobian is the (n, n) diagonal matrix diag(sigma(x) (1 - sigma(x))).",
))

CHECKS.add(same_as_reference(
    "Q2.softmax_vjp", "softmax.softmax_vjp",
    lambda rng: [(rng.normal(size=n) * 2, rng.normal(size=n)) for n in (1, 5, 9)],
    hint=VJP_HINT + " The result has the shape of x.",
))

CHECKS.add(same_as_reference(
    "Q2.sigmoid_vjp", "softmax.sigmoid_vjp",
    lambda rng: [(rng.normal(size=n) * 3, rng.normal(size=n)) for n in (1, 5, 9)],
    hint="J is diagonal, so J^T g = sigma(x) (1 - sigma(x)) * g elementwise: never build the n x n matrix.",
))


# ---- both VJPs at n = 10^6 -----------------------------------------------------------------------
#
# The child builds x_i = amp sin(a i + b) and g_i = cos(c i) + d itself (hw3/probes/large.py) and
# returns the output's shape, dtype, the entries at the indices chosen here, its sum and the time
# taken. The judge recomputes those in chunks (never n floats at once in the parent). At n = 10^6 an
# n x n float64 matrix would need 8 TB, so O(n^2) still fails at once, while one vector is 8 MB:
# a correct O(n) solution with a couple of dozen temporaries fits the memory limit with room to spare.

LARGE_N = 10**6
LARGE_N_TEXT = "n = 10^6"
CHUNK = 250_000
N_PICKS = 300


# What hw3/probes/large.py sends (shape and dtype None: an output numpy cannot read; "values", "sum"
# and "abs_max" only for n readable numbers, so not required: the judge asks for them).
LARGE_SUMMARY: dict[str, Form] = {
    "type": "str", "shape": {"shape", "none"}, "dtype": {"str", "none"}, "elapsed": "number",
    "rss_before_mb": "number", "inputs_mb": "number", "peak_mb": {"number", "none"}}


def _large_probes(rng: np.random.Generator) -> list[Probe]:
    picks = np.unique(np.concatenate([rng.choice(LARGE_N, N_PICKS, replace=False), [0, 1, LARGE_N - 1]]))
    probes = []
    for name in ("softmax_vjp", "sigmoid_vjp"):
        params = {
            "target": f"softmax.{name}", "n": LARGE_N,
            "x": {"a": float(rng.uniform(0.3, 3.0)), "b": float(rng.uniform(0, 2 * math.pi)), "amp": 5.0},
            "g": {"c": float(rng.uniform(0.3, 3.0)), "d": float(rng.uniform(0.5, 1.0))},
            "indices": picks.astype(np.int64),
        }
        probes.append(Probe("vjp_large", params, "softmax", f"{name}(x, g) with {LARGE_N_TEXT}", summary=LARGE_SUMMARY))
    return probes


def _formula(i: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """x and g at float64 indices i, with the operations in the child's order."""
    xp, gp = params["x"], params["g"]
    x = np.sin(i * xp["a"] + xp["b"]) * xp["amp"]
    g = np.cos(i * gp["c"]) + gp["d"]
    return x, g


def _sigmoid_slope(x: np.ndarray) -> np.ndarray:
    s = 0.5 * (1.0 + np.tanh(0.5 * x))
    return s * (1.0 - s)


def expected_large(params: dict) -> dict:
    """The expected entries at the chosen indices, the sum and the L1 norm, in chunks of CHUNK."""
    n, name = int(params["n"]), params["target"].partition(".")[2]
    picks = np.asarray(params["indices"], dtype=np.int64)
    shift = float(params["x"]["amp"])                     # max x <= amp: exp(x - amp) <= 1
    if name == "softmax_vjp":
        z = sg = 0.0
        for start in range(0, n, CHUNK):
            x, g = _formula(np.arange(start, min(n, start + CHUNK), dtype=np.float64), params)
            e = np.exp(x - shift)
            z += float(e.sum())
            sg += float(e @ g)
        sg /= z
        l1 = 0.0
        for start in range(0, n, CHUNK):
            x, g = _formula(np.arange(start, min(n, start + CHUNK), dtype=np.float64), params)
            l1 += float(np.abs(np.exp(x - shift) / z * (g - sg)).sum())
        x, g = _formula(picks.astype(np.float64), params)
        values = np.exp(x - shift) / z * (g - sg)
        total = 0.0                                        # sum_i s_i (g_i - s.g) = s.g - s.g = 0
    else:
        total = l1 = 0.0
        for start in range(0, n, CHUNK):
            x, g = _formula(np.arange(start, min(n, start + CHUNK), dtype=np.float64), params)
            v = _sigmoid_slope(x) * g
            total += float(v.sum())
            l1 += float(np.abs(v).sum())
        x, g = _formula(picks.astype(np.float64), params)
        values = _sigmoid_slope(x) * g
    return {"values": values, "sum": total, "l1": l1}


def _judge_large(ctx: JudgeContext) -> Verdict:
    timings, failures = [], []
    for obs in ctx.observations:
        got = obs.value                                    # a raise (out of memory ...) is reported by the runner
        problem = _large_problem(got, obs.probe, ctx.tol)
        if problem:
            failures.append(problem)
        else:
            timings.append(_measured(obs.probe.params["target"].partition(".")[2], got))
    if failures:
        return Verdict.failed("\n".join(failures))
    return Verdict.passed(f"At {LARGE_N_TEXT}: {'; '.join(timings)} "
                          f"(x and g included: {2 * 8 * LARGE_N / 2**20:.0f} MB).")


def _measured(name: str, got: dict) -> str:
    """"softmax_vjp took 0.04 s, peak memory 40 MB" (x and g, 16 MB, included)."""
    text = f"{name} took {got['elapsed']:.2f} s"
    if got.get("peak_mb") is not None:
        text += f", peak memory {got['peak_mb']:.0f} MB"
    return text


def _large_problem(got: dict, probe: Probe, tol: Tolerance) -> str:
    """What is wrong with one VJP's summary at n = LARGE_N ("" when nothing is)."""
    params, what = probe.params, probe.label
    n = int(params["n"])
    shape = got.get("shape")
    if not isinstance(shape, tuple) or shape != (n,):
        described = "something that is not an array of numbers" if shape is None else f"shape {shape}"
        return f"{what} returned {got.get('type')} of {described}, expected shape ({n},) like x."
    if "values" not in got:
        return f"{what} returned {got.get('type')} of dtype {got.get('dtype')}: expected real floating-point numbers."
    expected = expected_large(params)
    actual = as_array(got["values"], what).astype(np.float64)
    if not isinstance(got.get("sum"), (int, float)):
        return f"{what}: the probe's sum is {describe(got.get('sum'))}, not a number."
    if has_nan(actual) or not math.isfinite(got["sum"]):
        return f"{what} contains nan or inf (x has entries in [-5, 5])."
    scale = float(np.abs(expected["values"]).max())
    try:
        assert_close(actual, expected["values"], dataclasses.replace(tol, atol=tol.rtol * scale),
                     what=f"{what}, at {actual.size} sampled entries,")
    except Mismatch as exc:
        return str(exc)
    off = abs(got["sum"] - expected["sum"])
    if not judge_precision(lambda t: bool(off <= t.rtol * expected["l1"]), tol, 0.0, actual, what).passed:
        return f"{what}: the sum of all entries is {got['sum']:.6g}, expected {expected['sum']:.6g}."
    return ""


CHECKS.add(Check("Q2.vjp_large", _large_probes, _judge_large, hint=VJP_HINT, fresh_child=True))
