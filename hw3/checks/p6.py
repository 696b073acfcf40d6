"""Problem 6: dead ReLUs (`gradients.dead_units`, `two_layer_grad`, `two_layer_sgd` with ReLU).

Also home of the helpers Problem 7 (leaky ReLU) reuses: the two-layer network in
numpy, its gradient probes, and the SGD probes and judge.

`two_layer_sgd` draws its own permutation, and no check may depend on how a student
draws random numbers: its results are compared with the reference only on data where
the order of the samples cannot matter (one sample, or N identical samples). On
distinct samples only order-free facts are judged: a unit dead at the start keeps its
parameters under ReLU (Problem 6) and moves under leaky ReLU (Problem 7).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, as_torch, call, summarize, to_numpy
from grader.checks.elementwise import matches, readable
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe

CHECKS = CheckList(__name__)

DEAD_UNITS = "gradients.dead_units"
GRAD = "gradients.two_layer_grad"
SGD = "gradients.two_layer_sgd"
PARAMS = ("a", "b", "u", "X", "Y")

# ============================================================================ the network in numpy


def pieces(a, b, u, x, y, activation: str = "relu", alpha: float = 0.01):
    """z, sigma(z), sigma'(z) and the residual r = f(x) - y of one sample."""
    z = a * x + b
    if activation == "relu":
        s, ds = np.maximum(z, 0.0), (z > 0).astype(np.float64)
    else:
        s, ds = np.where(z >= 0, z, alpha * z), np.where(z >= 0, 1.0, alpha)
    return z, s, ds, float(u @ s - y)


def np_grad(a, b, u, x, y, activation: str = "relu", alpha: float = 0.01):
    z, s, ds, r = pieces(a, b, u, x, y, activation, alpha)
    gb = r * u * ds
    return gb * x, gb, r * s


def np_sgd_in_order(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01):
    """SGD visiting the samples in the given order; also the smallest |z| met (distance to a kink)."""
    a, b, u = a.copy(), b.copy(), u.copy()
    closest = np.inf
    for _ in range(epochs):
        for x, y in zip(X, Y):
            closest = min(closest, float(np.min(np.abs(a * x + b))))
            ga, gb, gu = np_grad(a, b, u, x, y, activation, alpha)
            a, b, u = a - lr * ga, b - lr * gb, u - lr * gu
    return a, b, u, closest


# ============================================================================ dead_units


def _dead_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    X = rng.uniform(-2, 2, size=10)
    a = rng.normal(size=8)
    b = rng.normal(size=8)
    b[:3] = -np.abs(a[:3]) * 2 - rng.uniform(0.2, 1, size=3)      # dead: a_j x + b_j < 0 on [-2, 2]
    b[3:5] = np.abs(a[3:5]) * 2 + rng.uniform(0.2, 1, size=2)     # alive on every sample
    order = rng.permutation(8)
    probes.append(call(DEAD_UNITS, a[order], b[order], X, label="dead_units(a, b, X) with p = 8, N = 10"))
    # Alive on some samples only: negative on most of them is not dead.
    X2 = np.sort(rng.uniform(-2, 2, size=6))
    a2 = np.array([1.0, -1.0, 1.0, 0.5, -2.0])
    b2 = np.array([-X2[-1] + 0.1, X2[0] + 0.1, -X2[-1] - 0.1, 0.3, -5.0])
    probes.append(call(DEAD_UNITS, a2, b2, X2, label="dead_units(a, b, X) with units alive on one sample only"))
    # a_j X_i + b_j == 0 exactly on one sample: not dead (dead needs < 0 on every sample).
    X3 = np.array([-1.5, -0.25, 0.75, 1.0])
    a3 = np.array([1.0, 1.0, -1.0, 2.0])
    b3 = np.array([-1.0, -1.25, -2.0, 1.0])
    probes.append(call(DEAD_UNITS, a3, b3, X3, label="dead_units(a, b, X) with a_j X_i + b_j == 0 on one sample"))
    return probes


def _judge_dead(ctx: JudgeContext) -> Verdict:
    ref = ctx.reference(DEAD_UNITS)
    for obs in ctx.observations:
        a, b, X = obs.probe.params["args"]
        expected = to_numpy(ref(*as_torch((a, b, X)))).astype(np.float64)
        label = obs.probe.label
        try:
            actual = as_array(obs.value, what=label)
            if actual.dtype != bool and not np.isin(actual, (0, 1)).all():
                return Verdict.failed(f"{label} should be a bool tensor of shape {expected.shape} (True for a dead "
                                      f"unit), but it holds values other than True/False: {actual!r}")
            assert_close(actual.astype(np.float64), expected, Tolerance(0.0, 0.0), what=label)
        except Mismatch as exc:
            return Verdict.failed(_dead_diagnosis(obs.value, a, b, X) + str(exc))
    return Verdict.passed()


def _dead_diagnosis(value: Any, a, b, X) -> str:
    got = readable(value)
    if got is None:
        return ""
    z = a[:, None] * X[None, :] + b[:, None]
    sentences = (
        ((z < 0).any(axis=1), "You marked units negative on SOME sample: a unit is dead only when "
                              "a_j X_i + b_j < 0 on EVERY sample (all, not any)."),
        ((z <= 0).all(axis=1), "A unit with a_j X_i + b_j == 0 on some sample is not dead: dead needs < 0 "
                               "strictly, on every sample."),
        ((z > 0).all(axis=1), "Dead means a_j X_i + b_j < 0 (the ReLU outputs 0), not > 0."),
        ((z >= 0).any(axis=1), "You returned the live units: True should mark the dead ones."),
    )
    for candidate, sentence in sentences:
        if matches(got, candidate.astype(np.float64)):
            return sentence + "\n"
    return ""


CHECKS.add(Check(
    "P6.dead_units", _dead_probes, _judge_dead,
    hint=("Unit j is dead when a_j X_i + b_j < 0 for every sample i: build the (p, N) matrix of pre-activations "
          "and reduce with all over the samples; return a bool tensor of shape (p,)."),
))

# ============================================================================ two_layer_grad


def grad_case(rng: np.random.Generator, p: int = 6, margin: float = 0.05):
    """a, b, u, x, y with |z_j| >= margin, both signs of z present and a clear residual."""
    for _ in range(10_000):
        a, b, u = rng.normal(size=p), rng.normal(size=p), rng.normal(size=p)
        x, y = float(rng.uniform(-2, 2)), float(rng.normal() * 2)
        z, s, _, r = pieces(a, b, u, x, y)
        if np.min(np.abs(z)) >= margin and (z > 0).sum() >= 2 and (z < 0).sum() >= 2 and abs(r) >= 0.2 \
                and abs(x) >= 0.2 and np.min(np.abs(u)) >= 0.1:
            return a, b, u, np.array(x), np.array(y)
    raise RuntimeError("no gradient case found")


def grad_probes(rng: np.random.Generator, kwargs_list: Sequence[dict]) -> list[Probe]:
    probes = []
    for kwargs in kwargs_list:
        args = grad_case(rng)
        shown = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        probes.append(call(GRAD, *args, label=f"two_layer_grad(a, b, u, x, y{shown}) with a, b, u, x, y = "
                                              f"{summarize(args)}", **kwargs))
    return probes


def judge_grads(ctx: JudgeContext) -> Verdict:
    ref = ctx.reference(GRAD)
    for obs in ctx.observations:
        args, kwargs = obs.probe.params["args"], obs.probe.params["kwargs"]
        expected = tuple(to_numpy(ref(*as_torch(args), **kwargs)))
        try:
            compare_triple(obs.value, expected, ("ga", "gb", "gu"), obs.probe.label, ctx.tol)
        except Mismatch as exc:
            return Verdict.failed(_grad_diagnosis(obs.value, args, kwargs) + str(exc))
    return Verdict.passed()


def compare_triple(value: Any, expected: tuple, names: Sequence[str], label: str, tol: Tolerance) -> None:
    """A returned (x, y, z) against the expected one, each part named in the message (Mismatch otherwise)."""
    if not isinstance(value, (tuple, list)) or len(value) != len(expected):
        raise Mismatch(f"{label} should return the tuple ({', '.join(names)}), each of shape "
                       f"{tuple(np.shape(expected[0]))}, but it returned {describe(value)}")
    for name, got, want in zip(names, value, expected):
        assert_close(got, want, tol, what=f"{name} of {label}")


def _grad_diagnosis(value: Any, args, kwargs: dict) -> str:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        return ""
    readables = [readable(v) for v in value]
    a, b, u, x_array, y_array = (np.asarray(v, dtype=np.float64) for v in args)
    got = [g for g in readables if g is not None and g.shape == a.shape]
    if len(got) != 3:    # a diagnosis reads three vectors like a's
        return ""
    x, y = float(x_array), float(y_array)
    activation, alpha = kwargs.get("activation", "relu"), kwargs.get("alpha", 0.01)
    z, s, ds, r = pieces(a, b, u, x, y, activation, alpha)
    ga, gb, gu = np_grad(a, b, u, x, y, activation, alpha)
    candidates = [
        ((-ga, -gb, -gu), "Your gradient has the wrong sign: d/dθ 0.5 (f(x) - y)^2 = (f(x) - y) ∂f/∂θ, "
                          "with r = f(x) - y (not y - f(x))."),
        ((r * ds * x, r * ds, gu), "ga and gb miss the factor u_j: f = Σ_j u_j σ(a_j x + b_j), so "
                                   "∂f/∂b_j = u_j σ'(z_j) and ∂f/∂a_j = u_j σ'(z_j) x."),
        ((gb, gb, gu), "ga misses the factor x: ∂z_j/∂a_j = x, so ga = gb * x."),
        ((ga, gb, r * z), "gu_j = r σ(z_j), the activation's output, not the pre-activation z_j."),
    ]
    if activation == "relu":
        candidates.append(((r * u * s * x, r * u * s, gu), "σ' of ReLU is 1 for z > 0 and 0 for z < 0, not σ(z)."))
        if np.any(got[1][z < 0] != 0) and np.allclose(got[1][z > 0], gb[z > 0], rtol=1e-6, atol=1e-9):
            return (f"With ReLU a unit with z_j < 0 has σ'(z_j) = 0: its ga_j and gb_j are exactly 0 (your gb is "
                    f"nonzero at unit {int(np.flatnonzero((z < 0) & (got[1] != 0))[0])}).\n")
    else:
        wrong_s = np.where(z >= 0, alpha * z, z)
        wrong_ds = np.where(z >= 0, alpha, 1.0)
        wrong_r = float(u @ wrong_s - y)
        candidates.append(((wrong_r * u * wrong_ds * x, wrong_r * u * wrong_ds, wrong_r * wrong_s),
                           "The slope alpha belongs to the negative side: leaky_relu(z) = z for z >= 0 and "
                           "alpha z for z < 0, so σ'(z) = 1 for z >= 0 and alpha for z < 0."))
        relu_grads = np_grad(a, b, u, x, y, "relu")
        candidates.append((relu_grads, "With activation=\"leaky_relu\" a unit with z_j < 0 has slope alpha, not 0: "
                                       "this is your ReLU gradient (Problem 7: the gradient no longer vanishes)."))
        if alpha != 0.01:
            candidates.append((np_grad(a, b, u, x, y, activation, 0.01),
                               f"Use the alpha argument (here {alpha:g}), not the default 0.01."))
    for candidate, sentence in candidates:
        if all(matches(g, c) for g, c in zip(got, candidate)):
            return sentence + "\n"
    return ""


CHECKS.add(Check(
    "P6.two_layer_grad.relu",
    lambda rng: grad_probes(rng, [{}, {}, {"activation": "relu"}, {"activation": "relu"}]),
    judge_grads,
    hint=("With z = a x + b and r = u^T σ(z) - y: gu = r σ(z), gb = r u σ'(z), ga = gb x, where the ReLU has "
          "σ'(z) = 1 for z > 0 and 0 for z < 0; return (ga, gb, gu), each of shape (p,)."),
))

# ============================================================================ two_layer_sgd


def sgd_case(rng: np.random.Generator, n: int, epochs: int, lr: float, activation: str = "relu",
             alpha: float = 0.01, p: int = 5):
    """Parameters and N copies of one sample, far from every kink along the whole run, epochs mattering."""
    for _ in range(10_000):
        a, b, u = rng.normal(size=p) * 0.8, rng.normal(size=p) * 0.8, rng.normal(size=p) * 0.8
        x0 = float(rng.uniform(0.5, 1.5) * rng.choice([-1, 1]))
        y0 = float(rng.normal() * 2)
        X, Y = np.full(n, x0), np.full(n, y0)
        z, _, _, r = pieces(a, b, u, x0, y0, activation, alpha)
        if (z > 0).sum() < 2 or (z < 0).sum() < 1 or abs(r) < 0.5:
            continue
        *final, closest = np_sgd_in_order(a, b, u, X, Y, lr, epochs, activation, alpha)
        *one, _ = np_sgd_in_order(a, b, u, X, Y, lr, 1, activation, alpha)
        if closest < 1e-3 or not all(np.isfinite(t).all() and np.abs(t).max() < 10 for t in final):
            continue
        if max(np.abs(f - o).max() for f, o in zip(final, one)) < 1e-2:
            continue
        return a, b, u, X, Y
    raise RuntimeError("no SGD case found")


def sgd_probes(rng: np.random.Generator, settings: Sequence[tuple[int, int, float, dict]], kind: str) -> list[Probe]:
    """One probe per (N, epochs, lr, kwargs): N identical samples, so that the order cannot matter."""
    probes = []
    for n, epochs, lr, kwargs in settings:
        a, b, u, X, Y = sgd_case(rng, n, epochs, lr, kwargs.get("activation", "relu"), kwargs.get("alpha", 0.01))
        shown = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        label = (f"two_layer_sgd(a, b, u, X, Y, lr={lr:g}, epochs={epochs}{shown}) with p = {len(a)} and "
                 f"N = {n} identical samples")
        probe = call(SGD, a, b, u, X, Y, lr, epochs, label=label, **kwargs)
        probes.append(probe if kind == "call" else Probe(kind, probe.params, probe.module, probe.label))
    return probes


def judge_sgd(ctx: JudgeContext) -> Verdict:
    """Same (a, b, u) as the reference; with `call_keep_args` probes, inputs unchanged too (half the points)."""
    ref = ctx.reference(SGD)
    in_place = ""
    for obs in ctx.observations:
        args, kwargs = obs.probe.params["args"], obs.probe.params["kwargs"]
        result = obs.value
        returned = result["returned"] if obs.probe.kind == "call_keep_args" else result
        expected = tuple(to_numpy(ref(*as_torch(args), **kwargs)))
        try:
            compare_triple(returned, expected, ("a", "b", "u"), obs.probe.label, ctx.tol)
        except Mismatch as exc:
            return Verdict.failed(_sgd_diagnosis(returned, args, kwargs) + str(exc))
        if obs.probe.kind == "call_keep_args" and not in_place:
            in_place = _changed_inputs(obs.probe.label, args, result.get("args_after"))
    if in_place:
        return Verdict(0.5, in_place)
    return Verdict.passed()


def _changed_inputs(label: str, before: Sequence[Any], after: Any) -> str:
    if not isinstance(after, (list, tuple)) or len(after) != len(before):
        return ""
    for name, old, new in zip(PARAMS, before, after):
        if not isinstance(old, np.ndarray):
            continue
        new = readable(new)
        if new is None or new.shape != old.shape or np.array_equal(new, old):
            continue
        i = int(np.flatnonzero(new != old)[0])
        return (f"{label} returned the right parameters but changed its input {name} in place ({name}[{i}] was "
                f"{old.reshape(-1)[i]:.6g}, is {new.reshape(-1)[i]:.6g} after the call): work on copies "
                f"({name} = {name}.clone()) and return new tensors; the caller's tensors must stay as they were.")
    return ""


def _sgd_diagnosis(returned: Any, args, kwargs: dict) -> str:
    if not isinstance(returned, (tuple, list)) or len(returned) != 3:
        return ""
    got = [g for g in map(readable, returned) if g is not None]
    if len(got) != 3:   # all three are numbers
        return ""
    a, b, u, X, Y = (np.asarray(v, dtype=np.float64) for v in args[:5])
    lr, epochs = float(args[5]), int(args[6])
    activation, alpha = kwargs.get("activation", "relu"), kwargs.get("alpha", 0.01)

    def run(X_, Y_, lr_, epochs_):
        return np_sgd_in_order(a, b, u, X_, Y_, lr_, epochs_, activation, alpha)[:3]

    candidates = [((a, b, u), "The parameters came back unchanged: take a step (a, b, u) -= lr * gradient for "
                              "every sample of every epoch."),
                  (run(X, Y, lr, 1), f"Your result is what ONE epoch gives: run epochs = {epochs} passes over the "
                                     "data, each in a fresh random order."),
                  (run(X, Y, -lr, epochs), "You stepped uphill: SGD subtracts lr times the gradient.")]
    if len(X) > 1:
        candidates.append((run(X[:1], Y[:1], lr, epochs),
                           "You took one step per epoch (a full-batch gradient step?): SGD takes one step per "
                           "sample, N steps an epoch."))
    for candidate, sentence in candidates:
        if all(matches(g, c) for g, c in zip(got, candidate)):
            return sentence + "\n"
    return ""


CHECKS.add(Check(
    "P6.two_layer_sgd.relu",
    lambda rng: sgd_probes(rng, [(1, 6, 0.05, {}), (5, 3, 0.03, {"activation": "relu"})], "call_keep_args"),
    judge_sgd,
    hint=("Each epoch: a fresh permutation of the N samples, and for each sample in that order one step "
          "(a, b, u) -= lr * two_layer_grad(...) at the current parameters; work on copies and return new tensors."),
))

# ============================================================================ dead units under SGD
