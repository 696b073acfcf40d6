"""Problem 5: activations, softplus', a Lipschitz estimate, mlp_forward, sigmoid <-> tanh MLPs (`activations.py`).

Also home of two helpers other problems use:

- `elementwise_check`: an elementwise function against the reference on inputs of
  several shapes (0-d, (n,), (a, b)), with the same shape as its input, finite where
  the exact value is, and a teaching sentence for recognised bugs (Problem 7's
  leaky_relu, Question 1);
- `conversion_call` / `judge_conversion`: a sigmoid <-> tanh conversion is judged by
  the map it computes, never by its parameters ("any correct answer is accepted";
  Question 4 uses them for L = 2).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from grader.checks.base import (Check, JudgeContext, Observation, Probe, Verdict, as_torch, call, reference, register,
                   summarize, to_numpy, torch_fn)
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe

# ============================================================================ elementwise functions

Case = tuple  # (target, args, kwargs): one call of an elementwise function
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
                      diagnoses: dict[str, Sequence[Diagnosis]] | None = None, var: str = "z") -> Check:
    """Declare a check: every case's call matches the reference, keeps its input's shape, stays finite.

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
            message = judge_elementwise(obs, ctx.tol, diagnoses.get(name, ()), var)
            if message:
                return Verdict.failed(message)
        return Verdict.passed()

    return register(Check(check_id, probes, judge, hint))


def judge_elementwise(obs: Observation, tol: Tolerance, diagnoses: Sequence[Diagnosis] = (), var: str = "z") -> str | None:
    """The failure message for one call of an elementwise function, or None when it is right."""
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
    """`sigmoid_k` is judged at (x, k): name the other arguments of a non-finite value."""
    rest = [f"{a:g}" if isinstance(a, float) else repr(a) for a in args[1:]] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return "".join(f", {r}" for r in rest)


def _readable(value: Any) -> np.ndarray | None:
    """A returned value as a float64 array, or None when it is not numbers."""
    try:
        return np.array(as_array(value), dtype=np.float64)
    except (Mismatch, TypeError, ValueError):
        return None


def matches(actual: np.ndarray, candidate: Any) -> bool:
    """Whether a result equals a known wrong formula (used to name a bug, never to pass)."""
    candidate = np.asarray(candidate, dtype=np.float64)
    return actual.shape == candidate.shape and bool(np.allclose(actual, candidate, rtol=1e-6, atol=1e-9))


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

elementwise_check(
    "P5.activations",
    lambda rng: [(f"activations.{name}", (z,), {}) for name in ACTIVATIONS for z in shaped_inputs(rng, 4.0, zeros=True)],
    hint=("relu(z) = max(0, z), softplus(z) = log(1 + exp(z)), sigmoid(z) = 1 / (1 + exp(-z)), tanh(z) = "
          "(1 - exp(-2z)) / (1 + exp(-2z)): elementwise, each returning a result of its input's shape."),
    diagnoses=P5_DIAGNOSES,
)

elementwise_check(
    "P5.activations.extreme",
    lambda rng: [(f"activations.{name}", (z,), {}) for name in ACTIVATIONS + ("softplus_derivative",)
                 for z in extreme_inputs(rng)],
    hint=("softplus(z) = log(1 + exp(z)) overflows for z near 1e3: use log1p(exp(-|z|)) + max(z, 0); likewise "
          "sigmoid and tanh must only ever exponentiate -|z| (or use torch.sigmoid, torch.tanh), "
          "so that |z| up to 1e4 gives finite, accurate values (softplus(1e4) == 1e4)."),
    diagnoses=P5_DIAGNOSES,
)

elementwise_check(
    "P5.softplus_derivative",
    lambda rng: [("activations.softplus_derivative", (z,), {}) for z in shaped_inputs(rng, 5.0, zeros=True)]
    + [("activations.softplus_derivative", (np.array([-30.0, -12.5, -1.0, 0.0, 1.0, 12.5, 30.0]),), {})],
    hint="softplus'(z) = d/dz log(1 + exp(z)) = exp(z) / (1 + exp(z)) = sigmoid(z), elementwise.",
    diagnoses={"softplus_derivative": [_softplus_prime_is_softplus, _softplus_prime_sign, _sigmoid_prime]},
)

# ============================================================================ functions as arguments


def build_fn(spec: dict) -> Callable[..., Any]:
    """A callable argument as the child builds it (torch functions, polynomials ...), for the reference."""
    from grader.probes import callables

    return callables.build(spec, None)


def reference_args(value: Any) -> Any:
    """Probe arguments as the reference takes them: arrays to tensors, callable specs to callables."""
    if isinstance(value, dict) and "__fn__" in value:
        return build_fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(reference_args(v) for v in value)
    return as_torch(value)


def fn_name(spec: dict) -> str:
    kind = spec["__fn__"]
    if kind == "torch":
        return spec["name"]
    if kind == "student":
        return spec["target"].partition(".")[2]
    if kind in ("poly", "dpoly"):
        text = poly_text(spec["coeffs"])
        return text if kind == "poly" else f"({text})'"
    if kind in ("affine_sin", "d_affine_sin"):
        a, b, c, d = spec["abcd"]
        text = f"{_times(a)}sin({poly_text([c, b]) if c else poly_text([0, b])}){_plus(d)}"
        return text if kind == "affine_sin" else f"({text})'"
    if kind in ("affine_exp", "d_affine_exp"):
        a, b, c = spec["abc"]
        text = f"{_times(a)}exp({poly_text([0, b])}){_plus(c)}"
        return text if kind == "affine_exp" else f"({text})'"
    return kind


def _times(a: float) -> str:
    return "" if a == 1 else ("-" if a == -1 else f"{a:g} ")


def _plus(c: float) -> str:
    return "" if c == 0 else f" {'+' if c > 0 else '-'} {abs(c):g}"


def poly_text(coeffs: Sequence[float]) -> str:
    """[1, -2, 0.5] -> '1 - 2x + 0.5x^2'."""
    terms = []
    for power, c in enumerate(coeffs):
        if c == 0 and len(coeffs) > 1:
            continue
        mono = "" if power == 0 else ("x" if power == 1 else f"x^{power}")
        mag = abs(c)
        number = f"{mag:g}" if (mag != 1 or power == 0) else ""
        sign = "-" if c < 0 else "+"
        terms.append((sign, f"{number}{mono}"))
    if not terms:
        return "0"
    first_sign, first = terms[0]
    text = ("-" if first_sign == "-" else "") + first
    return text + "".join(f" {s} {t}" for s, t in terms[1:])


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

    ref = reference(LIPSCHITZ)
    for obs in ctx.observations:
        g_spec, xs = obs.probe.params["args"]
        g = build_fn(g_spec)
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


register(Check(
    "P5.lipschitz_estimate", _lipschitz_probes, _judge_lipschitz,
    hint=("Drop repeated points and sort xs (torch.unique does both), call g once on the whole tensor, and "
          "return the largest |g(x_(i+1)) - g(x_i)| / (x_(i+1) - x_i) as a float."),
))

# ============================================================================ MLPs

MLP_FORWARD = "activations.mlp_forward"
SIG2TANH = "activations.sigmoid_mlp_to_tanh"
TANH2SIG = "activations.tanh_mlp_to_sigmoid"


def random_mlp(rng: np.random.Generator, widths: Sequence[int], scale: float = 1.0):
    """Weights (n_l, n_(l-1)) and biases (n_l,) of an MLP with these widths, IID N(0, scale^2)."""
    As = [rng.normal(size=(widths[l + 1], widths[l])) * scale for l in range(len(widths) - 1)]
    bs = [rng.normal(size=widths[l + 1]) * scale for l in range(len(widths) - 1)]
    return As, bs


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

    ref = reference(MLP_FORWARD)
    for obs in ctx.observations:
        As, bs, x, act = reference_args(obs.probe.params["args"])
        expected = to_numpy(ref(As, bs, x, act))
        try:
            assert_close(obs.value, expected, ctx.tol, what=obs.probe.label)
        except Mismatch as exc:
            wrong_last = to_numpy(act(torch.from_numpy(np.array(expected, dtype=np.float64))))
            if _readable(obs.value) is not None and matches(_readable(obs.value), wrong_last):
                return Verdict.failed("Your output went through the activation once more: the last layer is "
                                      f"linear, y_L = A_L y_(L-1) + b_L.\n{exc}")
            return Verdict.failed(str(exc))
    return Verdict.passed()


register(Check(
    "P5.mlp_forward", _mlp_probes, _judge_mlp,
    hint=("y_l = act(A_l y_(l-1) + b_l) for l < L and a linear last layer y_L = A_L y_(L-1) + b_L; for x of "
          "shape (batch, n0) each row is one sample (y @ A.T + b)."),
))

# ------------------------------------------------------------------------ sigmoid <-> tanh conversions


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


_ACTIVATION = {"sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), "tanh": np.tanh}


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
            return (f"{label}: {what} has {len(seq)} entries for a network of L = {L} layers; "
                    f"expected one per layer, {L}.")
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
        assert_close(new, given, tol.for_answer(value, given), what=f"y_L of your {new_act} network on {len(x)} inputs x")
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


def _widths(rng: np.random.Generator, L: int, lo: int = 1, hi: int = 6, hidden_lo: int = 2) -> tuple[int, ...]:
    inner = [int(rng.integers(hidden_lo, hi + 1)) for _ in range(L - 1)]
    return (int(rng.integers(lo, 5)), *inner, int(rng.integers(lo, 4)))


register(Check(
    "P5.sigmoid_to_tanh",
    lambda rng: [conversion_call(SIG2TANH, rng, _widths(rng, 3)), conversion_call(SIG2TANH, rng, _widths(rng, 3), 2.0)],
    judge_conversions, hint=CONVERSION_HINT_TO_TANH,
))

register(Check(
    "P5.tanh_to_sigmoid",
    lambda rng: [conversion_call(TANH2SIG, rng, _widths(rng, 3)), conversion_call(TANH2SIG, rng, _widths(rng, 3), 2.0)],
    judge_conversions, hint=CONVERSION_HINT_TO_SIGMOID,
))


def _deep_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for target in (SIG2TANH, TANH2SIG):
        for L in (5, 5, 4):
            probes.append(conversion_call(target, rng, _widths(rng, L, lo=1, hi=8, hidden_lo=1)))
    return probes


register(Check(
    "P5.conversions.deep", _deep_probes, judge_conversions,
    hint=("Both conversions must work for any L >= 2 and any widths: every hidden layer's offset goes into the "
          "next layer's bias, and a middle layer both rescales its own pre-activation and reads the previous "
          "layer's rescaled, shifted output."),
))
