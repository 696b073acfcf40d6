"""Question 5: a two-layer network with N - 1 hidden units interpolates N samples (`interpolation.py`).

"Any exact answer is accepted": the interpolators are judged by the property the
question asks for (shapes, identical rows of W1, and W2 @ act(W1 @ X[i] + b1) + b2 == F[i]
within 1e-6 relative to max |F|, evaluated in float64 here), never by equality
with the reference's weights.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import (Check, CheckList, JudgeContext, Probe, Verdict, as_torch, call, summarize, to_numpy,
                                torch_fn)
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe, judge_precision

CHECKS = CheckList(__name__)

RELU_HINT = ("Sort the samples by w . x and put unit j's kink between consecutive projections (a gap of its own "
             "for each unit, e.g. halfway): M is then triangular and well conditioned; solve M [W2, b2]^T = F.")
SIGMOID_HINT = ("With w = lam u and b1_j = -lam u . x_j, M is triangular only in the limit: solve the full system "
                "M [W2, b2]^T = F (torch.linalg.solve), with lam * (gap between projections) large.")


# ---- M ------------------------------------------------------------------------------------------

def _matrix_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for (N, n), phi in (((5, 3), "sigmoid"), ((6, 2), "relu"), ((4, 1), "relu"), ((7, 4), "sigmoid")):
        X, w, b1 = rng.normal(size=(N, n)), rng.normal(size=n), rng.normal(size=N - 1)
        probes.append(call("interpolation.interpolation_matrix", X, w, b1, torch_fn(phi),
                           label=f"interpolation_matrix({summarize([X, w, b1])}, phi=torch.{phi})"))
    return probes


def _judge_matrix(ctx: JudgeContext) -> Verdict:
    import torch

    ref = ctx.reference("interpolation.interpolation_matrix")
    for obs in ctx.observations:
        X, w, b1, phi = obs.probe.params["args"]
        expected = to_numpy(ref(*as_torch([X, w, b1]), getattr(torch, phi["name"])))
        actual = obs.value
        try:
            assert_close(actual, expected, ctx.tol, what=obs.probe.label)
        except Mismatch as exc:
            return Verdict.failed(f"{exc}\n{_why_matrix(actual, expected)}".rstrip())
    return Verdict.passed()


def _why_matrix(actual, expected: np.ndarray) -> str:
    try:
        arr = as_array(actual).astype(np.float64)
    except Mismatch:
        return ""
    N = expected.shape[0]
    if arr.shape == (N, N - 1) and np.allclose(arr, expected[:, :-1]):
        return "The last column of ones is missing: it multiplies b2 in M [W2, b2]^T = F."
    if arr.shape == (N, N) and np.allclose(arr, np.roll(expected, 1, axis=1)):
        return "The column of ones must come last (M [W2, b2]^T: b2 is the last row of [W2, b2]^T)."
    return ""


CHECKS.add(Check(
    "Q5.interpolation_matrix", _matrix_probes, _judge_matrix,
    hint="Row i of M is [phi(w . x_i + b1_1), ..., phi(w . x_i + b1_{N-1}), 1]: one row per sample, "
         "one column per unit.",
))


# ---- the interpolators --------------------------------------------------------------------------

def _easy_samples(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (rng.normal(size=(6, 3)), rng.normal(size=(6, 2)) * 3),
        (rng.uniform(-2, 2, size=(5, 1)), rng.normal(size=(5, 1))),
        (rng.normal(size=(8, 2)) * 2, rng.normal(size=(8, 3)) + 5),
    ]


def _probes_for(function: str, samples) -> list[Probe]:
    return [call(f"interpolation.{function}", X, F, label=f"{function}(X, F) on {X.shape[0]} samples in R^{X.shape[1]}")
            for X, F in samples]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def check_interpolator(returned, X: np.ndarray, F: np.ndarray, act: str, tol: Tolerance, reason: str = "") -> str:
    """What is wrong with a returned (W1, b1, W2, b2) for samples X, F ("" when it interpolates); a miss
    is followed by `reason` and, on a float64_only check missed at float32's level, by FLOAT64_REQUIRED."""
    N, n = X.shape
    m = F.shape[1]
    if not isinstance(returned, (tuple, list)) or len(returned) != 4:
        return f"It should return the tuple (W1, b1, W2, b2), but it returned {describe(returned)}."
    arrays = []
    for name, value, shape in zip(("W1", "b1", "W2", "b2"), returned, ((N - 1, n), (N - 1,), (m, N - 1), (m,))):
        try:
            arr = as_array(value, name).astype(np.float64)
        except (Mismatch, TypeError, ValueError) as exc:
            return f"{name}: {exc}"
        if arr.shape != shape:
            if arr.size == 1 and np.prod(shape) == 1:
                arr = arr.reshape(shape)
            else:
                return (f"{name} has shape {tuple(arr.shape)}, expected {shape} "
                        f"(N = {N} samples in R^{n}, F in R^{m}: N - 1 = {N - 1} hidden units).")
        arrays.append(arr)
    W1, b1, W2, b2 = arrays
    if not np.isfinite(np.concatenate([a.ravel() for a in arrays])).all():
        return "The weights contain nan or inf."
    if not np.allclose(W1, W1[:1], rtol=1e-9, atol=1e-12 * max(np.abs(W1).max(), 1e-300)):
        return "The rows of W1 are not all the same: Question 5.2 restricts W1 to [w, ..., w]^T."
    phi = _relu if act == "relu" else _sigmoid
    with np.errstate(all="ignore"):
        Y = phi(X @ W1.T + b1) @ W2.T + b2
    scale = float(np.abs(F).max()) or 1.0
    miss = np.abs(Y - F).max(axis=1) / scale
    miss = np.where(np.isfinite(miss), miss, np.inf)
    worst = int(np.argmax(miss))
    judged = judge_precision(lambda t: bool(miss[worst] <= t.rtol), tol, 0.0, returned, "the network")
    if judged.passed:
        return ""
    text = f"the network misses sample {worst} by {_short(miss[worst])} (relative to max|F|)"
    text += f": {reason}" if reason else ""
    return f"{text}\n{judged.note}" if judged.note else text


def _short(x: float) -> str:
    """3.2e-3 rather than 3.2e-03."""
    if not np.isfinite(x):
        return str(x)
    mantissa, _, exponent = f"{x:.1e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def _judge_interpolator(act: str, reason: str):
    def judge(ctx: JudgeContext) -> Verdict:
        for obs in ctx.observations:
            X, F = obs.probe.params["args"]
            problem = check_interpolator(obs.value, X, F, act, ctx.tol, reason)
            if problem:
                return Verdict.failed(f"{obs.probe.label}: {problem}")
        return Verdict.passed()

    return judge


RELU_REASON = "a tiny epsilon makes M badly conditioned."
SIGMOID_REASON = "M is only nearly triangular at finite lam (or badly conditioned when lam * gap is small)."

CHECKS.add(Check("Q5.relu_interpolator", lambda rng: _probes_for("relu_interpolator", _easy_samples(rng)),
                 _judge_interpolator("relu", RELU_REASON), hint=RELU_HINT))
CHECKS.add(Check("Q5.sigmoid_interpolator", lambda rng: _probes_for("sigmoid_interpolator", _easy_samples(rng)),
                 _judge_interpolator("sigmoid", SIGMOID_REASON), hint=SIGMOID_HINT))
