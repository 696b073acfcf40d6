"""sigmoid <-> tanh conversions of an MLP, judged by the map they compute, never by their
parameters ("any correct answer is accepted"): the probes and judge of Problem 5's conversion
checks and of Question 4's (L = 2)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from grader.checks.base import JudgeContext, Observation, Probe, Verdict, call
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe

SIG2TANH = "activations.sigmoid_mlp_to_tanh"
TANH2SIG = "activations.tanh_mlp_to_sigmoid"


def random_mlp(rng: np.random.Generator, widths: Sequence[int], scale: float = 1.0):
    """Weights (n_l, n_(l-1)) and biases (n_l,) of an MLP with these widths, IID N(0, scale^2)."""
    As = [rng.normal(size=(widths[l + 1], widths[l])) * scale for l in range(len(widths) - 1)]
    bs = [rng.normal(size=widths[l + 1]) * scale for l in range(len(widths) - 1)]
    return As, bs

def conversion_call(target: str, rng: np.random.Generator, widths: Sequence[int], scale: float = 1.0) -> Probe:
    """Ask the student to convert a random network with these widths (L = len(widths) - 1 layers)."""
    Ws, vs = random_mlp(rng, widths, scale)
    name = target.partition(".")[2]
    given = "As, bs" if target == SIG2TANH else "Cs, ds"
    return call(target, Ws, vs, label=f"{name}({given}) for L = {len(widths) - 1} layers of widths {tuple(widths)}")


def judge_conversions(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        message = judge_conversion(obs, ctx.tol, ctx.rng)
        if message:
            return Verdict.failed(message)
    return Verdict.passed()


_ACTIVATION: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), "tanh": np.tanh}


def _network(layers: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray, act: str) -> np.ndarray:
    """The judge's own x -> y_L of an MLP (rows of x are samples), in float64 numpy: the student's
    returned parameters never go through reference code, so the kit judges conversions offline."""
    y = x
    for depth, (W, v) in enumerate(layers, start=1):
        y = y @ np.asarray(W).T + np.asarray(v)
        if depth < len(layers):
            y = _ACTIVATION[act](y)
    return y


def judge_conversion(obs: Observation, tol: Tolerance, rng: np.random.Generator) -> str | None:
    """The failure message for one conversion, or None: same layers and shapes, and the same x -> y_L map."""
    to_tanh = obs.probe.params["target"] == SIG2TANH
    Ws, vs = obs.probe.params["args"]
    L = len(Ws)
    widths = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    W_name, v_name = ("C", "d") if to_tanh else ("A", "b")
    given_act, new_act = ("sigmoid", "tanh") if to_tanh else ("tanh", "sigmoid")
    label = obs.probe.label
    value = obs.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return (f"{label} should return a pair ({W_name}s, {v_name}s): two lists of {L} tensors, one per layer, "
                f"but it returned {describe(value)}.")
    new_Ws, new_vs = value
    for what, seq in ((f"{W_name}s", new_Ws), (f"{v_name}s", new_vs)):
        if not isinstance(seq, (tuple, list)):
            return f"{label}: {what} should be a list of {L} tensors, one per layer, but it is {describe(seq)}."
        if len(seq) != L:
            return (f"{label}: {what} is {describe(seq)} for a network of L = {L} layers; "
                    f"expected one tensor per layer, {L}.")
    layers = []
    try:
        for l in range(L):
            W = as_array(new_Ws[l], what=f"{label}, layer {l + 1}: {W_name}")
            v = as_array(new_vs[l], what=f"{label}, layer {l + 1}: {v_name}")
            if W.shape != (widths[l + 1], widths[l]):
                return (f"{label}, layer {l + 1}: {W_name} has shape {tuple(W.shape)}, expected "
                        f"{(widths[l + 1], widths[l])} (n_{l + 1} x n_{l}, as the given layer's weights).")
            if v.shape != (widths[l + 1],):
                return (f"{label}, layer {l + 1}: {v_name} has shape {tuple(v.shape)}, expected "
                        f"{(widths[l + 1],)} (a vector of n_{l + 1} biases, as the given layer's).")
            if not (np.isfinite(W).all() and np.isfinite(v).all()):
                return f"{label}, layer {l + 1}: {W_name} or {v_name} contains nan or inf."
            layers.append((W, v))
    except Mismatch as exc:
        return str(exc)
    n0 = widths[0]
    x = np.concatenate([rng.normal(size=(24, n0)) * s for s in (1.0, 4.0, 30.0)])
    given = _network(list(zip(Ws, vs)), x, given_act)
    new = _network([(W.astype(np.float64), v.astype(np.float64)) for W, v in layers], x, new_act)
    try:
        assert_close(new, given, tol, what=f"y_L of your {new_act} network on {len(x)} inputs x")
    except Mismatch as exc:
        sentence = _conversion_diagnosis(to_tanh, Ws, vs, layers, new, given)
        return (f"{label}: the {new_act} network you returned does not compute the same x -> y_L map as the given "
                f"{given_act} network.{' ' + sentence if sentence else ''}\n{exc}")
    return None


def _conversion_diagnosis(to_tanh: bool, Ws, vs, layers, new: np.ndarray, given: np.ndarray) -> str:
    if any(W.dtype in (np.float32, np.float16) or v.dtype in (np.float32, np.float16) for W, v in layers):
        return "Your parameters are float32 (or float16): keep the float64 they came in, or the maps drift apart."
    first = np.abs(layers[0][0])
    if to_tanh and np.allclose(first, 2 * np.abs(Ws[0]), rtol=1e-9, atol=1e-12):
        return ("Your first layer doubles A_1, but sigmoid(z) = (1 + tanh(z / 2)) / 2: the tanh network sees "
                "half the pre-activation, so its first layer halves A_1 (the factor is 1/2, not 2).")
    if not to_tanh and np.allclose(first, np.abs(Ws[0]) / 2, rtol=1e-9, atol=1e-12):
        return ("Your first layer halves C_1, but tanh(z) = 2 sigmoid(2z) - 1: the sigmoid network sees twice "
                "the pre-activation, so its first layer doubles C_1 (the factor is 2, not 1/2).")
    offset = ("the +1/2 in sigmoid(z) = (1 + tanh(z / 2)) / 2" if to_tanh
              else "the -1 in tanh(z) = 2 sigmoid(2z) - 1")
    diff = new - given
    scale = 1.0 + float(np.max(np.abs(given)))
    if float(np.max(np.ptp(diff, axis=0))) <= 1e-7 * scale and float(np.max(np.abs(diff))) > 1e-6 * scale:
        return (f"Its output differs from the given network's by the same constant vector for every x: the "
                f"last layer's bias is off. Every hidden unit carries an offset ({offset}) that the next "
                "layer sees: fold it into the next layer's bias.")
    rescaled = [_proportional(layers[l][1], vs[l]) for l in range(1, len(vs)) if len(vs[l]) >= 2]
    if rescaled and all(rescaled):
        return (f"Your biases after the first layer are only rescaled copies of the given ones: every hidden "
                f"unit carries an offset ({offset}) that must be folded into the next layer's bias.")
    return ""


def _proportional(new: np.ndarray, old: np.ndarray) -> bool:
    new, old = new.astype(np.float64), old.astype(np.float64)
    if not np.any(old):
        return False
    c = float(new @ old) / float(old @ old)
    return bool(np.allclose(new, c * old, rtol=1e-9, atol=1e-12))


CONVERSION_HINT_TO_TANH = (
    "sigmoid(z) = (1 + tanh(z / 2)) / 2: halve each layer's pre-activation, and fold the offset 1/2 of every "
    "hidden unit into the next layer's bias (the last layer included); check with mlp_forward on random x.")
CONVERSION_HINT_TO_SIGMOID = (
    "tanh(z) = 2 sigmoid(2z) - 1: double each layer's pre-activation, and fold the offset -1 of every hidden "
    "unit into the next layer's bias (the last layer included); check with mlp_forward on random x.")
