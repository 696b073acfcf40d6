"""Problem 5: activations, softplus', a Lipschitz estimate, mlp_forward, sigmoid <-> tanh MLPs (`activations.py`).

Elementwise checks come from the engine's library (grader/checks/elementwise.py); the
sigmoid <-> tanh conversions live in `_conversions.py`, shared with Question 4.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, call, to_numpy, torch_fn
from grader.checks.callables import build_fn, fn_name, reference_args
from grader.checks.elementwise import elementwise_check, matches, readable, shaped_inputs
from grader.compare import Mismatch, as_array, assert_close

from ._conversions import (CONVERSION_HINT_TO_SIGMOID, CONVERSION_HINT_TO_TANH, SIG2TANH, TANH2SIG, conversion_call,
                           judge_conversions, random_mlp)

CHECKS = CheckList(__name__)

# ------------------------------------------------------------------------ diagnoses of P5 functions


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))


def _sigmoid_sign(args, kwargs, actual, expected):
    if matches(actual, _np_sigmoid(-np.asarray(args[0]))):
        return "Your values are sigmoid(-z): sigmoid(z) = 1 / (1 + exp(-z)) tends to 1 as z grows."
    return None


def _softplus_prime_is_softplus(args, kwargs, actual, expected):
    if matches(actual, np.logaddexp(0.0, np.asarray(args[0], dtype=np.float64))):
        return ("You returned softplus itself: its derivative is "
                "d/dz log(1 + exp(z)) = exp(z) / (1 + exp(z)) = sigmoid(z).")
    return None


def _softplus_prime_sign(args, kwargs, actual, expected):
    if matches(actual, _np_sigmoid(-np.asarray(args[0]))):
        return ("Your values are sigmoid(-z): the derivative of log(1 + exp(z)) is "
                "exp(z) / (1 + exp(z)) = 1 / (1 + exp(-z)), increasing in z.")
    return None


def _sigmoid_prime(args, kwargs, actual, expected):
    s = _np_sigmoid(np.asarray(args[0]))
    if matches(actual, s * (1 - s)):
        return "You returned sigmoid'(z) = sigmoid(z)(1 - sigmoid(z)); softplus' is sigmoid(z) itself."
    return None


ACTIVATIONS = ("relu", "softplus", "sigmoid", "tanh")
P5_DIAGNOSES = {"sigmoid": [_sigmoid_sign]}

CHECKS.add(elementwise_check(
    "P5.activations",
    lambda rng: [(f"activations.{name}", (z,), {})
                 for name in ACTIVATIONS for z in shaped_inputs(rng, 4.0, zeros=True)],
    hint=("relu(z) = max(0, z), softplus(z) = log(1 + exp(z)), sigmoid(z) = 1 / (1 + exp(-z)), tanh(z) = "
          "(1 - exp(-2z)) / (1 + exp(-2z)): elementwise, each returning a result of its input's shape."),
    diagnoses=P5_DIAGNOSES,
))


CHECKS.add(elementwise_check(
    "P5.softplus_derivative",
    lambda rng: [("activations.softplus_derivative", (z,), {}) for z in shaped_inputs(rng, 5.0, zeros=True)]
    + [("activations.softplus_derivative", (np.array([-30.0, -12.5, -1.0, 0.0, 1.0, 12.5, 30.0]),), {})],
    hint="softplus'(z) = d/dz log(1 + exp(z)) = exp(z) / (1 + exp(z)) = sigmoid(z), elementwise.",
    diagnoses={"softplus_derivative": [_softplus_prime_is_softplus, _softplus_prime_sign, _sigmoid_prime]},
))

# ------------------------------------------------------------------------ lipschitz_estimate

LIPSCHITZ = "activations.lipschitz_estimate"


def _grid(rng: np.random.Generator, lo: float, hi: float, n: int, repeats: int) -> np.ndarray:
    points = rng.uniform(lo, hi, size=n)
    grid = np.concatenate([points, rng.choice(points, size=repeats), points[:2]])
    rng.shuffle(grid)
    return grid


def _lipschitz_probes(rng: np.random.Generator) -> list[Probe]:
    cubic = {"__fn__": "poly", "coeffs": [float(c) for c in np.round(rng.normal(size=4), 2)]}
    wave = {"__fn__": "affine_sin", "abcd": [1.5, 2.0, float(np.round(rng.uniform(0, 3), 2)), 0.5]}
    near_zero = np.concatenate([_grid(rng, -2, 2, 20, 3), rng.uniform(-1e-3, 1e-3, size=10), [0.0, 0.0]])
    rng.shuffle(near_zero)
    cases = [(torch_fn("sigmoid"), _grid(rng, -4, 4, 60, 8)),
             (torch_fn("tanh"), _grid(rng, -3, 3, 40, 5)),
             (cubic, _grid(rng, -2, 2, 50, 6)),
             (wave, _grid(rng, -3, 3, 80, 10)),
             (torch_fn("abs"), near_zero)]
    probes = []
    for g, xs in cases:
        repeated = len(xs) - len(np.unique(xs))
        probes.append(call(LIPSCHITZ, g, xs, label=f"lipschitz_estimate({fn_name(g)}, xs) (xs: {len(xs)} points, "
                                                    f"unsorted, {repeated} repeats)"))
    return probes


def _slopes(values: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(values)) / np.diff(xs)


def _judge_lipschitz(ctx: JudgeContext) -> Verdict:
    import torch

    ref = ctx.reference(LIPSCHITZ)
    for obs in ctx.observations:
        g_spec, xs = obs.probe.params["args"]
        g = build_fn(g_spec, ctx.reference)
        expected = ref(g, torch.from_numpy(xs.copy()))
        label = obs.probe.label
        actual = as_array(obs.value, what=label)
        if actual.size == 1 and not np.isfinite(actual.astype(np.float64)).all():
            return Verdict.failed(
                f"{label} returned {float(actual.reshape(-1)[0])}: a repeated point gives x_(i+1) - x_i = 0 and a "
                "division by zero; drop the repeats first (torch.unique does that and sorts).")
        try:
            assert_close(actual, expected, ctx.tol, what=label)
        except Mismatch as exc:
            return Verdict.failed(_lipschitz_diagnosis(g, xs, actual) + str(exc))
    return Verdict.passed()


def _lipschitz_diagnosis(g, xs: np.ndarray, actual: np.ndarray) -> str:
    import torch

    if actual.size != 1:
        return "Return one number: the largest slope |g(x_(i+1)) - g(x_i)| / (x_(i+1) - x_i).\n"
    value = float(actual.reshape(-1)[0])

    def g_of(points: np.ndarray) -> np.ndarray:
        return np.asarray(to_numpy(g(torch.from_numpy(points.copy()))), dtype=np.float64)

    _, first = np.unique(xs, return_index=True)
    unsorted_grids = [xs, xs[np.sort(first)]]                  # as given; as given without repeats
    unsorted = []
    for grid in unsorted_grids:
        dv, dx = np.diff(g_of(grid)), np.diff(grid)
        keep = dx != 0
        unsorted += [np.max(np.abs(dv[keep] / dx[keep])), np.max(np.abs(dv[keep]) / dx[keep])]
    ordered = np.unique(xs)
    signed = float(np.max(np.diff(g_of(ordered)) / np.diff(ordered)))
    if any(np.isclose(value, u, rtol=1e-6) for u in unsorted):
        return "Your value uses neighbours in the order xs was given: sort the grid first.\n"
    if np.isclose(value, signed, rtol=1e-6):
        return "Your value is the largest signed slope: take |g(x_(i+1)) - g(x_i)|.\n"
    return ""


CHECKS.add(Check(
    "P5.lipschitz_estimate", _lipschitz_probes, _judge_lipschitz,
    hint=("Drop repeated points and sort xs (torch.unique does both), call g once on the whole tensor, and "
          "return the largest |g(x_(i+1)) - g(x_i)| / (x_(i+1) - x_i) as a float."),
))

# ============================================================================ MLPs

MLP_FORWARD = "activations.mlp_forward"


def _mlp_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for widths, act, batch in (((3, 5, 2), "sigmoid", None), ((3, 5, 2), "tanh", 6),
                               ((4, 6, 5, 3), "tanh", None), ((4, 6, 5, 3), "sigmoid", 9),
                               ((2, 3, 4, 3, 1), "sigmoid", 1)):
        As, bs = random_mlp(rng, widths)
        x = rng.normal(size=widths[0] if batch is None else (batch, widths[0])) * 2
        probes.append(call(MLP_FORWARD, As, bs, x, torch_fn(act),
                           label=f"mlp_forward(As, bs, x, {act}) with widths {widths} and x of shape {x.shape}"))
    return probes


def _judge_mlp(ctx: JudgeContext) -> Verdict:
    import torch

    ref = ctx.reference(MLP_FORWARD)
    for obs in ctx.observations:
        As, bs, x, act = reference_args(obs.probe.params["args"], ctx.reference)
        expected = to_numpy(ref(As, bs, x, act))
        try:
            assert_close(obs.value, expected, ctx.tol, what=obs.probe.label)
        except Mismatch as exc:
            wrong_last = to_numpy(act(torch.from_numpy(np.array(expected, dtype=np.float64))))
            got = readable(obs.value)
            if got is not None and matches(got, wrong_last):
                return Verdict.failed("Your output went through the activation once more: the last layer is "
                                      f"linear, y_L = A_L y_(L-1) + b_L.\n{exc}")
            return Verdict.failed(str(exc))
    return Verdict.passed()


CHECKS.add(Check(
    "P5.mlp_forward", _mlp_probes, _judge_mlp,
    hint=("y_l = act(A_l y_(l-1) + b_l) for l < L and a linear last layer y_L = A_L y_(L-1) + b_L; for x of "
          "shape (batch, n0) each row is one sample (y @ A.T + b)."),
))

# ------------------------------------------------------------------------ sigmoid <-> tanh conversions

# ------------------------------------------------------------------------ sigmoid <-> tanh conversions


def _widths(rng: np.random.Generator, L: int, lo: int = 1, hi: int = 6, hidden_lo: int = 2) -> tuple[int, ...]:
    inner = [int(rng.integers(hidden_lo, hi + 1)) for _ in range(L - 1)]
    return (int(rng.integers(lo, 5)), *inner, int(rng.integers(lo, 4)))


CHECKS.add(Check(
    "P5.sigmoid_to_tanh",
    lambda rng: [conversion_call(SIG2TANH, rng, _widths(rng, 3)), conversion_call(SIG2TANH, rng, _widths(rng, 3), 2.0)],
    judge_conversions, hint=CONVERSION_HINT_TO_TANH,
))

CHECKS.add(Check(
    "P5.tanh_to_sigmoid",
    lambda rng: [conversion_call(TANH2SIG, rng, _widths(rng, 3)), conversion_call(TANH2SIG, rng, _widths(rng, 3), 2.0)],
    judge_conversions, hint=CONVERSION_HINT_TO_SIGMOID,
))
