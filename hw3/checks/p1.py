"""Problem 1: the 3-layer MLP that fits f_true (`threelayerSGD.py`).

Probes are in `hw3/probes/training.py`. Training is judged by replay: the student's
`train` runs on a recorded copy of the contract's MLP (the batches it feeds, the
parameters at every forward pass), and the judges here check the epochs (a fresh
permutation each, batches of `batch_size`, the returned losses) and replay each SGD
step with the reference's loss. Statistical checks (the N(0, 1) initialization, the
data, the trained fit) use thresholds that a correct solution fails with probability
below 1e-6 (the tests are grader/checks/statistical.py's); each says how its threshold was computed.

Judged on evidence. Student code runs in the child: it can read the stack, the grader's
probe modules and their globals, and patch any of them, so whatever the child sends may
have been written by the student. The judges therefore take from the child only values
that are themselves the answer under test, and recompute every verdict here from them:

- P1.f_true, P1.mlp's ``out``, P1.initialize's parameters, P1.make_data's (X, Y): what the
  student's function returned, compared with what this process computes (P1.mlp: the
  contract's forward with the model's own ``params``, whose names and shapes decide the
  naming). Forging them means computing them.
- P1.train.*: the record (the rows of every forward pass, the parameters at each, the final
  ones), checked for consistency (`train_record`); every step is replayed here (gradients
  computed in this process) and the returned losses are compared with losses recomputed
  here. The ``backprop`` flags only split the calls into steps: a false one fails the replay.
- P1.plot_fit: the file's bytes, decoded here (`png_size`, grader/checks/png.py).
- P1.fit, P2.noisy_fit: the trained parameters of l1, l2, l3, evaluated here as the
  contract's MLP on the grader's points (`contract_predict`); the student's forward and
  the losses train reports take no part.

The child's own descriptions (P1.mlp's ``linears`` and ``attributes``, P1.make_data's
``global_rng_used``, the plot's ``written``/``regular``/``size``/``files``, the fit's
``layers``) can only fail a check or explain a failure; timings and loss counts only colour
a message. What stays possible: sending a correct answer computed elsewhere (parameters
trained by other code, a PNG made by hand), which is the work the check asks for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, same_as_reference
from grader.checks.forms import Form
from grader.checks.png import PNG_MAGIC, PngError, png_size
from grader.checks.statistical import normal_test, serial_test
from grader.compare import Mismatch, Tolerance, as_array, assert_close, describe
from grader.kit.plots import draw_curves

CHECKS = CheckList(__name__)

MODULE = "threelayerSGD"
PARAM_NAMES = ("l1.weight", "l1.bias", "l2.weight", "l2.bias", "l3.weight", "l3.bias")
PARAM_SHAPES = {"l1.weight": (64, 1), "l1.bias": (64,), "l2.weight": (64, 64), "l2.bias": (64,),
                "l3.weight": (1, 64), "l3.bias": (1,)}
LAYER_SHAPES = {"l1": (1, 64), "l2": (64, 64), "l3": (64, 1)}      # (in_features, out_features)
FALSE_FAIL = 1e-6   # the largest probability with which a correct solution may fail one statistical check


def f_true_np(x: np.ndarray) -> np.ndarray:
    """(x - 2) cos(4x), in the dtype of x."""
    return (x - 2) * np.cos(4 * x)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# ---- P1.f_true ------------------------------------------------------------------------------

CHECKS.add(same_as_reference(
    "P1.f_true", f"{MODULE}.f_true",
    lambda rng: [(rng.normal(size=(50, 1)) * 2,), (np.linspace(-3.0, 3.0, 61),),
                 (rng.normal(size=(20, 1)).astype(np.float32),)],
    hint="f_true(x) = (x - 2) * torch.cos(4 * x): a tensor in, a tensor of the same shape out.",
))


# ---- P1.mlp ---------------------------------------------------------------------------------

# hw3/probes/training.py's mlp_probe: each nn.Linear as [name, in, out]; l1, l2, l3 each "missing", a type's
# name or [in, out]; "out" is what the student's forward returned.
MLP_SUMMARY: dict[str, Form] = {
    "linears": [("str", "int", "int")], "attributes": {name: {"str", ("int", "int")} for name in LAYER_SHAPES},
    "params": "dict", "contract": {"dict", "none"}, "out": "any"}


def _mlp_probes(rng: np.random.Generator) -> list[Probe]:
    x = (rng.normal(size=(16, 1)) * 1.5).astype(np.float32)
    return [Probe("p1_mlp", {"x": x, "seed": int(rng.integers(2**31))}, MODULE, "MLP()(x) for x of shape (16, 1)",
                  summary=MLP_SUMMARY)]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


FORWARD_VARIANTS = {
    # name -> (activation after l1, after l2, after l3); the first is the contract
    "l3(sigmoid(l2(sigmoid(l1(x)))))": (_sigmoid, _sigmoid, None),
    "l3(relu(l2(relu(l1(x)))))": (lambda z: np.maximum(z, 0), lambda z: np.maximum(z, 0), None),
    "l3(tanh(l2(tanh(l1(x)))))": (np.tanh, np.tanh, None),
    "l3(l2(sigmoid(l1(x))))": (_sigmoid, None, None),
    "l3(sigmoid(l2(l1(x))))": (None, _sigmoid, None),
    "sigmoid(l3(sigmoid(l2(sigmoid(l1(x))))))": (_sigmoid, _sigmoid, _sigmoid),
    "l3(l2(l1(x))) (no activation)": (None, None, None),
}


def _forward(layers: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray, acts) -> np.ndarray:
    h = x.astype(np.float64)
    for (w, b), act in zip(layers, acts):
        h = h @ w.astype(np.float64).T + b.astype(np.float64)
        if act is not None:
            h = act(h)
    return h


def _layer_params(params: Any, names: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(weight, bias) of the layers `names`, with the contract's shapes, from the parameters the child sent
    (named_parameters: the names and shapes are what is judged), or None when they are not there."""
    if not isinstance(params, dict):
        return None
    layers = []
    for name, (i, o) in zip(names, LAYER_SHAPES.values()):
        try:
            w, b = as_array(params.get(f"{name}.weight")), as_array(params.get(f"{name}.bias"))
        except Mismatch:
            return None
        if w.shape != (o, i) or b.shape != (o,) or w.dtype.kind != "f" or b.dtype.kind != "f":
            return None
        layers.append((w, b))
    return layers


def _judge_mlp(ctx: JudgeContext) -> Verdict:
    obs = ctx.observations[0]
    got = _answer(obs.value, "MLP()")
    x = obs.probe.params["x"]
    try:   # the child's description of the modules: it explains a failure, it never passes the check
        linears = [(str(name)[:80], int(i), int(o)) for name, i, o in got["linears"]]
        attributes = {name: got["attributes"][name] for name in LAYER_SHAPES}
    except (KeyError, TypeError, ValueError):
        raise Mismatch("the grader could not read the description of MLP() (a malformed answer)") from None
    found = ", ".join(f"{name} ({i}->{o})" for name, i, o in linears) or "none"
    problems = []
    for name, (i, o) in LAYER_SHAPES.items():
        attr = attributes[name]
        if attr == "missing":
            problems.append(f"MLP has no attribute {name} (its nn.Linear layers: {found}): "
                            "the contract names the layers l1, l2, l3")
            break
        if not isinstance(attr, list):
            problems.append(f"MLP().{name} is a {str(attr)[:80]}, expected nn.Linear({i}, {o})")
        elif attr != [i, o]:
            shown = ", ".join(str(v)[:20] for v in attr[:2])
            problems.append(f"MLP().{name} is nn.Linear({shown}), expected nn.Linear({i}, {o})")
    params = got.get("params")
    layers = _layer_params(got.get("contract"), list(LAYER_SHAPES)) or _layer_params(params, list(LAYER_SHAPES))
    if layers is None and not problems:
        problems.append("MLP()'s parameters are not named l1.weight, l1.bias, ..., l3.bias with the shapes of "
                        "nn.Linear(1, 64), nn.Linear(64, 64), nn.Linear(64, 1)")
    if problems:
        layers = None
        if [(i, o) for _, i, o in linears] == list(LAYER_SHAPES.values()):
            layers = _layer_params(params, [n for n, _, _ in linears])   # e.g. linear1..3
        if layers is None:
            return Verdict.failed(problems[0])
    assert layers is not None   # without layers, problems were found: the block above returned
    out = as_array(got.get("out"), "MLP()(x)")
    if out.shape != (x.shape[0], 1):
        return Verdict.failed("\n".join(problems + [f"MLP()(x) for x of shape {x.shape} has shape {out.shape}, "
                                                     f"expected ({x.shape[0]}, 1)"]))
    contract = next(iter(FORWARD_VARIANTS))
    try:
        assert_close(out, _forward(layers, x, FORWARD_VARIANTS[contract]), ctx.tol,
                     what=f"MLP()(x) (expected {contract} with the model's own parameters)")
    except Mismatch as exc:
        message = str(exc)
        for variant, acts in list(FORWARD_VARIANTS.items())[1:]:
            try:
                assert_close(out, _forward(layers, x, acts), ctx.tol)
            except Mismatch:
                continue
            message = (f"Your forward computes {variant}; the contract is {contract}: "
                       f"torch.sigmoid after l1 and after l2, nothing after l3.\n{message}")
            break
        return Verdict.failed("\n".join(problems + [message]))
    if problems:
        return Verdict(0.5, problems[0] + ". The forward pass itself is right (half the points).")
    return Verdict.passed()


CHECKS.add(Check(
    "P1.mlp", _mlp_probes, _judge_mlp,
    hint="Keep the given layers self.l1 = nn.Linear(1, 64), self.l2 = nn.Linear(64, 64), self.l3 = nn.Linear(64, 1); "
         "forward returns l3(sigmoid(l2(sigmoid(l1(x))))) of shape (n, 1).",
))


# ---- P1.initialize --------------------------------------------------------------------------

SENTINEL = 7.25
BIAS = 0.03
# Each weight matrix is tested alone (3 tests, NormalTest) and in order (a SerialTest along its rows, and
# down its columns when it has more than one of each), and all weights pooled (3 more): 16 tests for the
# contract's MLP. Bonferroni: each at FALSE_FAIL / (their number), so a correct draw fails with
# probability <= 1e-6. The per-layer tests catch a small layer left out or scaled (l1 and l3 hold 64
# weights each, 1.5% of the pool); the pooled tests catch small deviations of all of them (std within
# ~0.11 of 1); the order tests catch values with the right distribution set in order (sorted
# quantiles, sorted rows, repeated rows), which the homework's "IID" rules out.


def _initialize_probes(rng: np.random.Generator) -> list[Probe]:
    return [Probe("p1_initialize", {"seed": int(rng.integers(2**31)), "sentinel": SENTINEL}, MODULE,
                  "initialize(MLP())", summary={"params": "dict"})]


def _weight_problem(name: str, w: np.ndarray, p: float) -> str:
    """Why the weights `w` (fan_in = w.shape[1]) are not IID N(0, 1), or ""."""
    flat = w.reshape(-1).astype(np.float64)
    if w.dtype != np.float32:
        return f"{name} has dtype {w.dtype} after initialize: keep float32 (torch.normal(0, 1, shape) is float32)"
    if np.all(flat == SENTINEL):
        return (f"initialize did not change {name}: set every weight of every layer in place "
                "(e.g. model.l1.weight.data = torch.normal(0, 1, model.l1.weight.shape))")
    if not np.all(np.isfinite(flat)):
        return f"{name} contains nan or inf after initialize"
    if np.unique(flat).size == 1:
        return f"every entry of {name} is {flat[0]:.4g}: draw each weight independently from N(0, 1)"
    test = normal_test(flat, 1.0, p)
    if test.ok:
        return ""
    fan_in = w.shape[1] if w.ndim == 2 else 1
    bound = 1.0 / math.sqrt(fan_in)
    stats_text = f"{name} has mean {_fmt(flat.mean())} and std {_fmt(flat.std())}"
    if flat.min() >= 0.0 and flat.max() < 1.0 and abs(flat.mean() - 0.5) < 0.15:
        return (f"{stats_text} with every value in [0, 1): the weights look like U(0, 1) (torch.rand), "
                "not N(0, 1) (torch.randn, torch.normal(0, 1, shape) or nn.init.normal_)")
    default_std = bound / math.sqrt(3.0)      # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    if np.abs(flat).max() <= bound * (1 + 1e-6) and abs(flat.std() - default_std) <= 0.25 * default_std:
        return (f"{stats_text}, every value within +-1/sqrt(fan_in) = +-{_fmt(bound)}: that is nn.Linear's own "
                "initialization. Did you keep PyTorch's default initialization? Draw the weights from N(0, 1)")
    if test.mean_ok and test.std_ok and _excess_kurtosis(flat) < -0.8:
        return (f"{name} has the mean and spread of N(0, 1) but values only in [{_fmt(flat.min())}, "
                f"{_fmt(flat.max())}]: the weights look uniform, not Gaussian (use torch.randn / normal_)")
    if not test.std_ok:
        lo, hi = test.std_range
        return (f"{stats_text}: the weights have std {_fmt(test.std)}, expected 1 (a correct N(0, 1) draw of "
                f"{flat.size} weights has std in [{lo:.3f}, {hi:.3f}]). N(0, 1) means standard deviation 1: "
                "no 1/sqrt(fan_in), Xavier or Kaiming scaling")
    if not test.mean_ok:
        return f"{stats_text}: the mean is too far from 0 for {flat.size} IID N(0, 1) draws"
    return (f"the values of {name} are not distributed like N(0, 1) (Kolmogorov-Smirnov distance "
            f"{test.ks:.3f}, a correct draw stays below {test.ks_max:.3f})")


def _orders(w: np.ndarray) -> dict[str, np.ndarray]:
    """The sequences of `w` whose neighbours an IID draw leaves uncorrelated, named for a message."""
    if w.ndim == 2 and min(w.shape) > 1:
        return {"along its rows": w.reshape(-1), "down its columns": w.T.reshape(-1)}
    return {"": w.reshape(-1)}


def _init_tests(weights: dict[str, np.ndarray]) -> int:
    """How many tests share the false-fail budget: 3 of the values and the order tests per matrix, 3 pooled."""
    pooled = 3 if len(weights) > 1 else 0
    return sum(3 + len(_orders(w)) for w in weights.values()) + pooled


def _order_problem(name: str, w: np.ndarray, p: float) -> str:
    """Why the weights `w`, distributed like N(0, 1), are not independent of their neighbours, or ""."""
    for where, values in _orders(w).items():
        test = serial_test(values, p)
        if not test.ok:
            entries = f"adjacent entries {where}" if where else "adjacent entries"
            return (f"{name} has N(0, 1)'s values but not independent ones: {entries} correlate "
                    f"{test.correlation:+.2f}, where independent draws stay within +-{test.limit:.2f} (values "
                    "set in order, sorted or repeating?). Draw every weight at random, e.g. with "
                    "torch.randn(shape), torch.normal(0, 1, shape) or nn.init.normal_")
    return ""


def _excess_kurtosis(x: np.ndarray) -> float:
    c = x - x.mean()
    return float(np.mean(c**4) / max(np.mean(c**2) ** 2, 1e-300) - 3.0)


def _bias_problem(name: str, b: np.ndarray) -> str:
    flat = b.reshape(-1).astype(np.float64)
    if b.dtype != np.float32:
        return f"{name} has dtype {b.dtype} after initialize: keep float32"
    if np.all(np.abs(flat - BIAS) <= 1e-7):    # float32(0.03) = 0.029999999329...: within 1e-9
        return ""
    if np.all(flat == SENTINEL):
        return f"initialize did not set {name}: every bias must be 0.03"
    if np.all(flat == 0):
        return f"{name} is 0, expected every bias exactly 0.03 (torch.full(shape, 0.03) or bias.data.fill_(0.03))"
    if flat.size > 1 and np.unique(flat).size > 1:
        return (f"{name} has different values in [{_fmt(flat.min())}, {_fmt(flat.max())}] (random, like "
                "nn.Linear's default bias?), expected every bias exactly 0.03")
    return f"{name} is {flat[0]:.6g}, expected every bias exactly 0.03"


def _judge_initialize(ctx: JudgeContext) -> Verdict:
    params = _answer(ctx.observations[0].value, "initialize(MLP())").get("params")
    if not isinstance(params, dict):
        raise Mismatch(f"the grader could not read the parameters after initialize (a malformed answer: "
                       f"{describe(params)})")
    weights = {n: np.asarray(p) for n, p in params.items() if np.asarray(p).ndim >= 2}
    biases = {n: np.asarray(p) for n, p in params.items() if np.asarray(p).ndim == 1}
    if not weights:
        return Verdict.failed("MLP() has no weight matrices to initialize")
    p = FALSE_FAIL / _init_tests(weights)
    weight_problems = [m for m in (_weight_problem(n, w, p) or _order_problem(n, w, p)
                                   for n, w in weights.items()) if m]
    if not weight_problems and len(weights) > 1:
        pooled = np.concatenate([w.reshape(-1) for w in weights.values()]).astype(np.float64)
        test = normal_test(pooled, 1.0, p)
        if not test.ok:
            lo, hi = test.std_range
            weight_problems.append(
                f"all {pooled.size} weights together have mean {_fmt(test.mean)} and std {_fmt(pooled.std())}, "
                f"Kolmogorov-Smirnov distance {test.ks:.3f} to N(0, 1): a correct draw has std in "
                f"[{lo:.3f}, {hi:.3f}] and distance below {test.ks_max:.3f}")
    bias_problems = [m for m in (_bias_problem(n, b) for n, b in biases.items()) if m]
    if not weight_problems and not bias_problems:
        return Verdict.passed()
    fraction = 0.5 * (not weight_problems) + 0.5 * (not bias_problems)
    return Verdict(fraction, "\n".join(weight_problems + bias_problems))


CHECKS.add(Check(
    "P1.initialize", _initialize_probes, _judge_initialize,
    hint="Every weight IID N(0, 1) (torch.normal(0, 1, shape) or nn.init.normal_), every bias exactly 0.03 "
         "(torch.full(shape, 0.03) or nn.init.constant_), for all three layers, in place.",
))


# ---- P1.make_data ---------------------------------------------------------------------------

# X of two calls (500 and 2000 points) and the noise of one (2000 points): 3 samples x 3 tests,
# each at FALSE_FAIL / 9 (Bonferroni), so the reference fails with probability <= 1e-6.
DATA_TESTS = 9


def _make_data_probes(rng: np.random.Generator) -> list[Probe]:
    s1, s2, s3 = (int(s) for s in rng.choice(2**31, size=3, replace=False))
    g1, g2, g3, g4, g5, g6 = (int(s) for s in rng.choice(2**31, size=6, replace=False))

    def probe(n, noise, gen, glob):
        shown = "make_data()" if n is None else f"make_data({n}, noise_std={noise}, generator=<seeded generator>)"
        return Probe("p1_make_data", {"n": n, "noise_std": noise, "gen_seed": gen, "global_seed": glob}, MODULE, shown,
                     summary={"returned": "any", "global_rng_used": "bool"})

    return [probe(500, 0.0, s1, g1),      # 0: clean labels
            probe(500, 0.0, s1, g2),      # 1: the same generator seed, another global state
            probe(500, 0.0, s2, g3),      # 2: another generator seed
            probe(2000, 0.5, s3, g4),     # 3: noisy labels
            probe(2000, 0.5, s3, g5),     # 4: the same again
            probe(None, 0.0, None, g6)]   # 5: the defaults


def _f_true_exact(X: np.ndarray) -> np.ndarray:
    """f_true of the student's X in float64: the exact value each float32 label approximates.

    Computed here, not by the reference, so the student kit can judge make_data offline."""
    return f_true_np(np.asarray(X, dtype=np.float64))


def _pair(obs) -> tuple[Any, Any]:
    returned = _answer(obs.value, obs.probe.label).get("returned")
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise Mismatch(f"{obs.probe.label} should return (X, Y), but it returned {describe(returned)}")
    return returned[0], returned[1]


def _judge_make_data(ctx: JudgeContext) -> Verdict:
    obs = ctx.observations
    problems: list[str] = []
    data = []
    for o in obs:
        X, Y = _pair(o)
        n = o.probe.params["n"] or 512
        for what, arr in (("X", X), ("Y", Y)):
            a = as_array(arr, f"{what} of {o.probe.label}")
            if a.shape != (n, 1):
                problems.append(f"{what} of {o.probe.label} has shape {tuple(a.shape)}, expected ({n}, 1)")
            elif a.dtype != np.float32:
                problems.append(f"{what} of {o.probe.label} has dtype {a.dtype}, expected float32 "
                                "(torch.randn gives float32; do not convert to double)")
        data.append((as_array(X), as_array(Y)))
        if problems:
            return Verdict.failed(problems[0])
    (X0, Y0), (X1, Y1), (X2, _), (X3, Y3), (X4, Y4), _ = data
    label0, label3 = obs[0].probe.label, obs[3].probe.label
    f_true = _f_true_exact
    try:
        assert_close(Y0, f_true(X0), ctx.tol, what=f"Y of {label0} (noise_std=0: f_true(X))")
    except Mismatch as exc:
        problems.append(str(exc))
    p = FALSE_FAIL / DATA_TESTS
    for X, label in ((X0, label0), (X3, label3)):
        test = normal_test(X, 1.0, p)
        if not test.ok:
            problems.append(f"X of {label} has mean {_fmt(test.mean)} and std {_fmt(float(np.std(X)))} "
                            f"(Kolmogorov-Smirnov distance to N(0, 1): {test.ks:.3f}): X must be IID N(0, 1) "
                            "(torch.randn(n, 1, generator=generator))")
            break
    noise = Y3.astype(np.float64) - f_true(X3).astype(np.float64)
    test = normal_test(noise, 0.5, p)
    if not test.ok:
        lo, hi = test.std_range
        problems.append(f"the noise Y - f_true(X) of {label3} has mean {_fmt(test.mean)} and std {_fmt(noise.std())}, "
                        f"expected IID N(0, 0.5^2) (std in [{lo:.3f}, {hi:.3f}]): Y = f_true(X) + noise_std * Z "
                        "with Z = torch.randn(n, 1, generator=generator)")
    # the child's flag can only cost the student: make_data's use of the global state is also seen in
    # what it returns (probes 0/1 and 3/4: the same generator seed under different global states)
    if any(o.value.get("global_rng_used") is True for o in obs[:5]):
        problems.append("make_data drew from torch's global random state although a generator was given: "
                        "pass generator=generator to every draw (torch.randn(n, 1, generator=generator))")
    if not np.array_equal(X0, X1) or not np.array_equal(Y0, Y1):
        problems.append("two generators with the same seed gave different X: every draw must come from the "
                        "generator")
    elif not np.array_equal(Y3, Y4):
        problems.append("two generators with the same seed gave the same X but different noise: draw Z from the "
                        "generator too")
    if np.array_equal(X0, X2):
        problems.append("generators with different seeds gave the same X: draw from the generator you are given")
    if not problems:
        return Verdict.passed()
    return Verdict.failed("\n".join(dict.fromkeys(problems)))


CHECKS.add(Check(
    "P1.make_data", _make_data_probes, _judge_make_data,
    hint="X = torch.randn(n, 1, generator=generator) (float32), Y = f_true(X) + noise_std * torch.randn(n, 1, "
         "generator=generator): every draw from the generator.",
))


# ---- P1.train.*: the replay -----------------------------------------------------------------

@dataclass(frozen=True)
class TrainSetup:
    n: int
    batch_size: int
    epochs: int
    lr: float

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def batch_sizes(self) -> list[int]:
        return [min(self.batch_size, self.n - s) for s in range(0, self.n, self.batch_size)]

    @property
    def call(self) -> str:
        return (f"train(model, X, Y, epochs={self.epochs}, lr={self.lr}, batch_size={self.batch_size}, "
                f"generator=...) on {self.n} points")


# lr = 0.03: neither the global alpha (0.1) nor alpha / 2, so a train that ignores `lr` is seen;
# batch sizes that do not divide n, and one (48) that is not the global B.
EPOCH_SETUPS = (TrainSetup(300, 128, 3, 0.03), TrainSetup(200, 48, 2, 0.03))
REPLAY_SETUP = TrainSetup(200, 48, 2, 0.03)
# The child keeps the parameters at up to this many forward passes, the SGD steps' first (evaluations make
# room): every setup above has at most 10 steps, so every step of a correct loop is replayed.
MAX_SNAPSHOTS = 128


def train_probe(rng: np.random.Generator, setup: TrainSetup) -> Probe:
    """X: n distinct float32 N(0, 1) values (a batch row is found by its value); Y = f_true(X); known start."""
    X = rng.normal(size=setup.n).astype(np.float32)
    while np.unique(X).size < setup.n:
        X = rng.normal(size=setup.n).astype(np.float32)
    X = X.reshape(-1, 1)
    init = {}
    for name in PARAM_NAMES:
        shape = PARAM_SHAPES[name]
        # weights as initialize draws them; biases random (not 0.03), so a re-initialization shows
        init[name] = (rng.normal(size=shape) if name.endswith("weight") else rng.uniform(-0.5, 0.5, size=shape)
                      ).astype(np.float32)
    params = {"X": X, "Y": f_true_np(X), "init": init, "epochs": setup.epochs, "lr": setup.lr,
              "batch_size": setup.batch_size, "gen_seed": int(rng.integers(2**31)),
              "global_seed": int(rng.integers(2**31)), "max_snapshots": MAX_SNAPSHOTS}
    return Probe("p1_train", params, MODULE, setup.call, summary={
        "calls": "numbers", "call_sizes": "numbers", "backprop": "numbers", "snap_of_call": "numbers",
        "snapshots": "numbers", "final": "numbers", "losses": "any", "seconds": "number"})


@dataclass
class TrainRecord:
    """What the probe recorded, ready for the judges (see hw3/probes/training.py)."""

    setup: TrainSetup
    X: np.ndarray
    Y: np.ndarray
    init: np.ndarray              # flat, PARAM_NAMES order
    batches: list[np.ndarray]     # row indices of every forward pass with gradients on
    backprop: np.ndarray
    snap_of_call: np.ndarray
    snapshots: np.ndarray
    final: np.ndarray
    losses: Any

    @property
    def steps(self) -> list[int]:
        """The forward passes a gradient flowed back through: one per SGD step."""
        return [i for i in range(len(self.batches)) if self.backprop[i]]

    def snapshot(self, call: int) -> np.ndarray | None:
        s = int(self.snap_of_call[call])
        return self.snapshots[s] if s >= 0 else None


def train_record(obs) -> TrainRecord:
    """The record, checked for consistency first: every judge below recomputes from it (the batches'
    rows, the snapshots), so a record that does not hang together (only a tampered child sends one)
    fails the check here, never the judge."""
    p = obs.probe.params
    setup = TrainSetup(int(p["X"].shape[0]), int(p["batch_size"]), int(p["epochs"]), float(p["lr"]))
    got = _answer(obs.value, f"{setup.call}")
    size = sum(int(np.prod(PARAM_SHAPES[n])) for n in PARAM_NAMES)

    def field(name: str, kind: str, ndim: int) -> np.ndarray:
        arr = as_array(got.get(name), f"the record of {setup.call}: {name}")
        if arr.ndim != ndim or (arr.size and arr.dtype.kind not in kind):
            raise Mismatch(f"the record of {setup.call} is malformed: {name} is {describe(arr)}")
        return arr

    sizes = field("call_sizes", "iu", 1).astype(np.int64)
    calls = field("calls", "iu", 1).astype(np.int64)
    backprop = field("backprop", "b", 1).astype(bool)
    snap_of_call = field("snap_of_call", "iu", 1).astype(np.int64)
    snapshots = field("snapshots", "f", 2).astype(np.float32)
    final = field("final", "f", 1).astype(np.float32)
    problems = [what for what, bad in (
        ("negative batch sizes", (sizes < 0).any()),
        ("batch sizes that do not add up to the rows recorded", int(sizes.sum()) != calls.size),
        ("rows outside X", calls.size and (calls.min() < -1 or calls.max() >= setup.n)),
        ("a flag count that differs from the call count",
         backprop.size != sizes.size or snap_of_call.size != sizes.size),
        ("snapshots of the wrong size", snapshots.shape[1:] != (size,) or final.shape != (size,)),
        ("snapshots that are not in call order", not np.array_equal(snap_of_call[snap_of_call >= 0],
                                                                    np.arange(len(snapshots)))
                                                  or (snap_of_call < -1).any()),
        ("more snapshots than the grader keeps", len(snapshots) > int(p.get("max_snapshots", MAX_SNAPSHOTS))),
    ) if bad]
    if problems:
        raise Mismatch(f"the record of {setup.call} is malformed ({problems[0]}): the grader cannot judge it.")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    batches = [calls[bounds[i]:bounds[i + 1]] for i in range(len(sizes))]
    init = np.concatenate([np.asarray(p["init"][n], dtype=np.float32).reshape(-1) for n in PARAM_NAMES])
    return TrainRecord(setup, p["X"], p["Y"], init, batches, backprop, snap_of_call, snapshots, final,
                       got.get("losses"))


def unflatten(flat: np.ndarray) -> dict[str, np.ndarray]:
    out, start = {}, 0
    for name in PARAM_NAMES:
        size = int(np.prod(PARAM_SHAPES[name]))
        out[name] = flat[start:start + size].reshape(PARAM_SHAPES[name])
        start += size
    return out


def loss_and_grad(flat: np.ndarray, X: np.ndarray, Y: np.ndarray, kind: str = "mse") -> tuple[float, np.ndarray]:
    """The reference's batch loss nn.MSELoss() (float32, as the student's) at `flat`, and its gradient (flat).

    kind "broadcast": the loss of a (b, 1) output against labels of shape (b,) (a shape bug).
    """
    import torch

    params = {n: torch.tensor(v, requires_grad=True) for n, v in unflatten(flat.astype(np.float32)).items()}
    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float32))
    h = torch.sigmoid(x @ params["l1.weight"].T + params["l1.bias"])
    h = torch.sigmoid(h @ params["l2.weight"].T + params["l2.bias"])
    out = h @ params["l3.weight"].T + params["l3.bias"]
    loss = ((out - y.reshape(1, -1)) ** 2).mean() if kind == "broadcast" else ((out - y) ** 2).mean()
    loss.backward()
    grads = []
    for name in PARAM_NAMES:
        grad = params[name].grad
        assert grad is not None   # every parameter takes part in the loss
        grads.append(grad.numpy().reshape(-1))
    return float(loss.detach()), np.concatenate(grads)


def _close(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> bool:
    return bool(np.all(np.isclose(a.astype(np.float64), b.astype(np.float64), rtol=tol.rtol, atol=tol.atol)))


def _no_model_calls(rec: TrainRecord) -> str:
    if not rec.batches:
        return (f"{rec.setup.call}: train never ran the model it was given with gradients on. Train `model` "
                "itself (not a new MLP() or a copy), calling model(X_batch) once per batch.")
    if not rec.steps:
        return (f"{rec.setup.call}: train ran the model but never called backward through its output: "
                "compute the loss from model(X_batch) and call loss.backward() before each step.")
    return ""


def _foreign_rows(rec: TrainRecord) -> str:
    if any((b < 0).any() for b in (rec.batches[i] for i in rec.steps)):
        return (f"{rec.setup.call}: the model received inputs that are not rows of X (changed, rescaled or "
                "reshaped?): feed the rows of X themselves, X[idx] of shape (batch, 1).")
    return ""


def _passes(sizes: list[int], n: int) -> list[list[int]] | None:
    """The batch sizes cut into passes over the data (each adding up to n points), or None if they do not."""
    passes, current, count = [], [], 0
    for z in sizes:
        current.append(z)
        count += z
        if count == n:
            passes.append(current)
            current, count = [], 0
        elif count > n:
            return None
    return passes if not current else None


def _structure_problem(rec: TrainRecord) -> str:
    """Why the batches of `rec` are not E epochs of fresh permutations in batches of batch_size, or ""."""
    problem = _no_model_calls(rec) or _foreign_rows(rec)
    if problem:
        return problem
    s = rec.setup
    sizes = [len(rec.batches[i]) for i in rec.steps]
    per = s.steps_per_epoch
    passes = _passes(sizes, s.n)
    if passes is None:
        if len(sizes) == s.epochs * (s.n // s.batch_size) and all(z == s.batch_size for z in sizes):
            return (f"{s.call}: each epoch took {s.n // s.batch_size} steps of {s.batch_size} points, expected "
                    f"{per}: the last, smaller batch is missing (drop_last=True, or range(n // batch_size)?). "
                    "Keep it: every point is visited once per epoch.")
        shown = sizes[:12]
        return (f"{s.call}: train took {len(sizes)} SGD steps on batches of sizes {shown}"
                f"{' ...' if len(sizes) > 12 else ''}, expected {s.epochs} epochs of {s.batch_sizes}: "
                "each epoch, one pass over a permutation of the n points in slices of batch_size.")
    pattern = passes[0]
    if any(p != pattern for p in passes):
        odd = next(i for i, p in enumerate(passes) if p != s.batch_sizes)
        return (f"{s.call}: pass {odd + 1} over the data has batches of sizes {passes[odd]}, expected "
                f"{s.batch_sizes}: consecutive slices of {s.batch_size} points of a permutation, the last one smaller.")
    if pattern != s.batch_sizes:
        b = pattern[0]
        if pattern == [min(b, s.n - i) for i in range(0, s.n, b)]:
            hint = " Use the batch_size argument, not the global B." if b == 128 else " Use the batch_size argument."
            return (f"{s.call}: the batches have {b} points, expected batch_size = {s.batch_size} "
                    f"(sizes {pattern} instead of {s.batch_sizes}).{hint}")
        return (f"{s.call}: an epoch has batches of sizes {pattern}, expected {s.batch_sizes}: consecutive "
                f"slices of {s.batch_size} points of a permutation, the last one smaller.")
    if len(passes) != s.epochs:
        returned = rec.losses if isinstance(rec.losses, (list, tuple)) else None
        if len(passes) % s.epochs == 0 and len(passes) > s.epochs and (returned is None or len(returned) == s.epochs):
            took = len(passes) // s.epochs * per
            return (f"{s.call}: each epoch took {took} steps, expected {per} = ceil({s.n} / {s.batch_size}): is "
                    "there an extra loop around your batches? One epoch is one pass over the data: every point "
                    "exactly once.")
        return (f"{s.call}: train made {len(passes)} passes over the data, expected epochs = {s.epochs}: "
                "use the epochs argument.")
    orders = [np.concatenate([rec.batches[i] for i in rec.steps[e * per:(e + 1) * per]]) for e in range(s.epochs)]
    for e, order in enumerate(orders):
        counts = np.bincount(order, minlength=s.n)
        if not np.all(counts == 1):
            return (f"{s.call}: in epoch {e + 1}, {int((counts > 1).sum())} points were visited more than once and "
                    f"{int((counts == 0).sum())} never. Each epoch must visit every point exactly once: walk "
                    "through one permutation (torch.randperm), do not draw indices with replacement (torch.randint).")
    identity = np.arange(s.n)
    if all(np.array_equal(o, identity) for o in orders):
        return (f"{s.call}: the order never changes from 0, 1, ..., n-1: shuffle. Draw a fresh random permutation "
                "each epoch (torch.randperm(n, generator=generator), or a DataLoader with shuffle=True).")
    for e, order in enumerate(orders):
        if np.array_equal(order, identity):
            return (f"{s.call}: epoch {e + 1} visits the points in the order 0, 1, ..., n-1: draw a fresh random "
                    "permutation at the start of every epoch.")
    for a in range(s.epochs):
        for b in range(a + 1, s.epochs):
            if np.array_equal(orders[a], orders[b]):
                which = "every epoch" if s.epochs == 2 or all(np.array_equal(orders[0], o) for o in orders) \
                    else f"epochs {a + 1} and {b + 1}"
                return (f"{s.call}: {which} visits the points in the same order: draw a new permutation "
                        "(torch.randperm) each epoch, inside the epoch loop, not once before it.")
    sets = [sorted(tuple(sorted(rec.batches[i])) for i in rec.steps[e * per:(e + 1) * per]) for e in range(s.epochs)]
    if all(x == sets[0] for x in sets[1:]):
        return (f"{s.call}: every epoch has the same batches (only their order changes): permute the points "
                "themselves, then cut the permutation into batches.")
    return ""


def _batch_losses(rec: TrainRecord) -> list[float] | None:
    """The MSE of every step at the parameters it saw (None if some step has no snapshot)."""
    out = []
    for call in rec.steps:
        theta = rec.snapshot(call)
        if theta is None:
            return None
        idx = rec.batches[call]
        out.append(loss_and_grad(theta, rec.X[idx], rec.Y[idx])[0])
    return out


def _losses_problem(rec: TrainRecord, tol: Tolerance) -> str:
    """Why train's return value is not one mean batch loss per epoch, or ""."""
    s = rec.setup
    returned = rec.losses
    try:
        values = as_array(returned).astype(np.float64).reshape(-1)     # the type gate: "0.5" is no loss
        if not isinstance(returned, (list, tuple, np.ndarray)):
            raise TypeError
    except (Mismatch, TypeError, ValueError):
        return (f"{s.call} returned {describe(returned)}: return a list of {s.epochs} floats, one per epoch "
                "(the mean of that epoch's batch losses, loss.item()).")
    steps = len(rec.steps)
    if values.size != s.epochs:
        if values.size == steps and steps != s.epochs:
            return (f"{s.call} returned {values.size} numbers, one per batch: return one number per epoch, "
                    "the mean of that epoch's batch losses.")
        return f"{s.call} returned {values.size} numbers for epochs={s.epochs}: return one number per epoch."
    batch = _batch_losses(rec) if steps and steps % s.epochs == 0 else None
    if batch is None:      # no credit for losses the grader cannot recompute (the loop itself is wrong)
        return (f"{s.call}: its {steps} SGD steps do not split into {s.epochs} epochs with recorded parameters, "
                "so the losses it returned cannot be checked.")
    per = steps // s.epochs
    groups = [np.array(batch[e * per:(e + 1) * per]) for e in range(s.epochs)]
    sizes = [np.array([len(rec.batches[i]) for i in rec.steps[e * per:(e + 1) * per]]) for e in range(s.epochs)]
    means = np.array([g.mean() for g in groups])
    weighted = np.array([(g * z).sum() / z.sum() for g, z in zip(groups, sizes)])   # per sample: also accepted
    for expected in (means, means / 2, weighted, weighted / 2):
        if _close(values, expected, tol):
            return ""
    known = {"the loss of its last batch": np.array([g[-1] for g in groups]),
             "the sum of its batch losses": np.array([g.sum() for g in groups]),
             "the loss of its first batch": np.array([g[0] for g in groups])}
    for what, expected in known.items():
        if _close(values, expected, tol) or _close(values, expected / 2, tol):
            return (f"{s.call}: each epoch's number is {what}: return the mean of the epoch's batch losses "
                    "(add loss.item() of every batch, divide by the number of batches).")
    try:
        assert_close(values, means, tol, what=f"the losses returned by {s.call}")
    except Mismatch as exc:
        return f"{exc}\nExpected, per epoch, the mean of its batch losses (MSE, or half of it)."
    return ""


def _judge_epochs(ctx: JudgeContext) -> Verdict:
    records = [train_record(o) for o in ctx.observations]
    structure = [m for m in (_structure_problem(r) for r in records) if m]
    if any(not r.steps for r in records):
        return Verdict.failed(structure[0])
    losses = [m for m in (_losses_problem(r, ctx.tol) for r in records) if m]
    if not structure and not losses:
        return Verdict.passed()
    # two thirds for the loop (permutations, batches), one third for the returned losses
    fraction = (2 / 3) * (not structure) + (1 / 3) * (not losses)
    return Verdict(fraction, "\n".join(structure[:1] + losses[:1]))


CHECKS.add(Check(
    "P1.train.epochs", lambda rng: [train_probe(rng, s) for s in EPOCH_SETUPS], _judge_epochs,
    hint="Each epoch: perm = torch.randperm(n, generator=generator), then one SGD step per slice "
         "perm[i:i + batch_size]; return one number per epoch, the mean of its batch losses.",
))


def _step_label(rec: TrainRecord, k: int) -> str:
    per = rec.setup.steps_per_epoch
    return f"SGD step {k + 1} (epoch {k // per + 1}, batch {k % per + 1})"


def _diagnose_step(rec: TrainRecord, k: int, theta: np.ndarray, after: np.ndarray, grads: list[np.ndarray],
                   tol: Tolerance) -> str:
    """A name for what step k did instead of theta - lr * grad (MSE) or theta - lr/2 * grad (half-MSE)."""
    s = rec.setup
    steps = rec.steps
    label = _step_label(rec, k)
    g = grads[k]
    d = theta.astype(np.float64) - after.astype(np.float64)
    bias = np.concatenate([unflatten(after)[n].reshape(-1) for n in PARAM_NAMES if n.endswith("bias")])
    if np.array_equal(theta, after):
        return (f"{label} did not change the parameters: call optimizer.step() after loss.backward(), with an "
                "optimizer built on this model's parameters (torch.optim.SGD(model.parameters(), lr=lr)).")
    if np.all(np.abs(bias - BIAS) <= 1e-7):
        return (f"after {label} every bias is 0.03 again: the parameters were re-initialized, not updated. "
                "Call initialize() before train, never inside it.")
    per = s.steps_per_epoch
    for start in sorted({0, (k // per) * per}):
        if start == k:
            continue
        G = np.sum(grads[start:k + 1], axis=0)
        for c in (s.lr, s.lr / 2):
            if _close(after, theta - c * G, tol):
                return (f"{label} moved the parameters along the sum of this batch's gradient and the earlier "
                        "ones': gradients accumulate. Call optimizer.zero_grad() (or model.zero_grad()) before "
                        "each loss.backward().")
    idx = rec.batches[steps[k]]
    _, gb = loss_and_grad(theta, rec.X[idx], rec.Y[idx], kind="broadcast")
    for c in (s.lr, s.lr / 2):
        if _close(after, theta - c * gb, tol):
            return (f"{label} follows the loss of an output of shape (b, 1) against labels of shape (b,): "
                    "the subtraction broadcasts to (b, b). Keep Y[idx] of shape (b, 1) like the output.")
    gg = float(g.astype(np.float64) @ g.astype(np.float64))
    if gg > 0:
        c_fit = float(d @ g) / gg
        residual = float(np.linalg.norm(d - c_fit * g)) / max(float(np.linalg.norm(d)), 1e-30)
        if residual < 1e-2 and c_fit > 0:
            b = len(idx)
            if any(abs(c_fit - a) <= 0.01 * a for a in (0.1, 0.05)):
                return (f"{label} used step size {c_fit:.3g} (the global alpha), not the lr argument ({s.lr}): "
                        "build the optimizer with lr=lr.")
            if any(abs(c_fit - s.lr * m) <= 0.01 * s.lr * m for m in (b, b / 2, 2 * b)):
                return (f"{label} is about {c_fit / s.lr:.3g} times too large: the loss is summed over the batch "
                        "(reduction='sum'?). Use the mean, nn.MSELoss().")
            return (f"{label} moved the parameters by {c_fit:.4g} times the gradient of the MSE loss, expected "
                    f"lr = {s.lr} times it (or lr / 2 with the half-MSE loss): use plain SGD with step size lr.")
    if k > 0:
        prev_after = theta
        prev_theta = rec.snapshot(steps[k - 1])
        if prev_theta is not None:
            d_prev = prev_theta.astype(np.float64) - prev_after.astype(np.float64)
            for c in (s.lr, s.lr / 2):
                v = d - c * g
                dd = float(d_prev @ d_prev)
                if dd > 0:
                    mu = float(v @ d_prev) / dd
                    if 0.05 < mu < 1.0 and float(np.linalg.norm(v - mu * d_prev)) < 1e-2 * float(np.linalg.norm(d)):
                        return (f"{label} carries momentum ({mu:.2g} of the previous step): plain SGD has none "
                                "(torch.optim.SGD(model.parameters(), lr=lr), no momentum, no weight decay).")
    expected = theta - s.lr * g
    for name, got, exp in zip(PARAM_NAMES, unflatten(after).values(), unflatten(expected.astype(np.float32)).values()):
        try:
            assert_close(got, exp, tol, what=f"{name} after {label}")
        except Mismatch as exc:
            return (f"{exc}\nExpected one plain SGD step on the batch the model received, "
                    f"theta - lr * grad of nn.MSELoss() (or of half of it), lr = {s.lr}.")
    return f"{label} is not one SGD step with lr = {s.lr} on the batch the model received."


def _judge_replay(ctx: JudgeContext) -> Verdict:
    rec = train_record(ctx.observations[0])
    problem = _no_model_calls(rec) or _foreign_rows(rec)
    if problem:
        return Verdict.failed(problem)
    steps = rec.steps
    grads: list[np.ndarray] = []
    # every step, from the first to the final parameters: a chain with no gap, so no step can go unseen
    for k, call in enumerate(steps):
        theta = rec.snapshot(call)
        after = rec.snapshot(steps[k + 1]) if k + 1 < len(steps) else rec.final
        if theta is None or after is None:
            return Verdict.failed(_unrecorded(rec, k))
        idx = rec.batches[call]
        grads.append(loss_and_grad(theta, rec.X[idx], rec.Y[idx])[1])
        g = grads[k]
        if not any(_close(after, theta - c * g, ctx.tol) for c in (rec.setup.lr, rec.setup.lr / 2)):
            return Verdict.failed(f"{rec.setup.call}: " + _diagnose_step(rec, k, theta, after, grads, ctx.tol))
    return Verdict.passed()


def _unrecorded(rec: TrainRecord, k: int) -> str:
    s = rec.setup
    return (f"{s.call}: train took {len(rec.steps)} SGD steps (expected {s.epochs * s.steps_per_epoch}); the "
            f"grader keeps the parameters at {MAX_SNAPSHOTS} of them and cannot replay SGD step {k + 1}. Take one "
            "step per batch, epochs times.")


CHECKS.add(Check(
    "P1.train.replay", lambda rng: [train_probe(rng, REPLAY_SETUP)], _judge_replay,
    hint="One step per batch: optimizer.zero_grad(); loss = nn.MSELoss()(model(X[idx]), Y[idx]); loss.backward(); "
         "optimizer.step(), with torch.optim.SGD(model.parameters(), lr=lr).",
))


# ---- P1.plot_fit ----------------------------------------------------------------------------

PNG_MAX_BYTES = 2 * 2**20          # the child sends the file when it is at most this (hw3/probes/training.py)


def _plot_probes(rng: np.random.Generator) -> list[Probe]:
    X = rng.normal(size=(128, 1)).astype(np.float32)
    params = {n: (rng.normal(size=PARAM_SHAPES[n]) * (1.0 if n.endswith("weight") else 0.1)).astype(np.float32)
              for n in PARAM_NAMES}
    return [Probe("p1_plot_fit", {"X": X, "Y": f_true_np(X), "params": params, "filename": "plot_fit_check.png"},
                  MODULE, "plot_fit(model, X, Y, path)",
                  summary={"written": "bool", "regular": "bool", "size": "int", "png": "numbers", "files": "list"})]


def _answer(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise Mismatch(f"the grader could not read what {what} left behind (a malformed answer: "
                       f"{describe(value)})")
    return value


def _judge_plot(ctx: JudgeContext) -> Verdict:
    """The parent decodes the file itself (`png_size`): the child's flags only explain a failure."""
    got = _answer(ctx.observations[0].value, "plot_fit")
    raw = got.get("png")
    data = b""
    if raw is not None:
        arr = as_array(raw, "the file plot_fit wrote")
        if arr.dtype != np.uint8 or arr.ndim != 1:
            raise Mismatch(f"the grader could not read the file plot_fit wrote (it came back as {describe(raw)})")
        data = arr.tobytes()
    if not data:
        if got.get("written") is not True:
            files = got.get("files")
            others = [f for f in files if isinstance(f, str)][:20] if isinstance(files, list) else []
            extra = f" (the folder now holds: {', '.join(others)})" if others else ""
            return Verdict.failed("plot_fit(model, X, Y, path) wrote no file at path" + extra +
                                  ": save the figure with fig.savefig(path), at exactly the path you are given.")
        if got.get("regular") is not True:
            return Verdict.failed("what plot_fit left at path is not a file of its own (a link, a folder?): save "
                                  "the figure itself there with fig.savefig(path).")
        size = got.get("size")
        if isinstance(size, int) and size > PNG_MAX_BYTES:
            return Verdict.failed(f"the file plot_fit wrote is {size} bytes, more than the "
                                  f"{PNG_MAX_BYTES // 2**20} MB any plot needs: draw a figure of normal size "
                                  "(the default figsize and dpi).")
        return Verdict.failed("the file plot_fit wrote at path is empty: save the figure with fig.savefig(path).")
    if len(data) > PNG_MAX_BYTES:
        return Verdict.failed(f"the file plot_fit wrote is {len(data)} bytes, more than the "
                              f"{PNG_MAX_BYTES // 2**20} MB any plot needs: draw a figure of normal size.")
    head = data[:32]
    if not head.startswith(PNG_MAGIC):
        kind = ("a PDF" if head.startswith(b"%PDF") else "a JPEG" if head.startswith(b"\xff\xd8")
                else "an SVG" if b"<svg" in head or head.startswith(b"<?xml") else "not a PNG")
        return Verdict.failed(f"the file plot_fit wrote is {kind} (it starts with {head[:8]!r}): save it as a PNG, "
                              "fig.savefig(path) without format= (the .png name selects PNG).")
    try:
        width, height = png_size(data)
    except PngError as exc:
        return Verdict.failed(f"the file plot_fit wrote starts like a PNG but cannot be decoded: {exc}. Write it "
                              "with matplotlib, fig.savefig(path), not by hand.")
    if width < 100 or height < 100 or len(data) < 1000:
        return Verdict.failed(f"the PNG is only {width} x {height} pixels ({len(data)} bytes): draw the data, "
                              "f_true and the learned function on a figure of normal size.")
    return Verdict.passed(f"wrote a {width} x {height} PNG ({len(data)} bytes)", figure=data)


CHECKS.add(Check(
    "P1.plot_fit", _plot_probes, _judge_plot,
    hint="Import matplotlib inside plot_fit (matplotlib.use('Agg')), plot on [-2, 2], fig.savefig(path), "
         "plt.close(fig); never plt.show().",
))


# ---- P1.fit (and P2.noisy_fit) --------------------------------------------------------------

FIT_GRID = np.linspace(-2.0, 2.0, 401)
FIT_RMSE = 1.0        # see FIT_RUNS
FIT_RUNS = 6
# The fit of a correct pipeline (the reference, its half-MSE variant) is measured by the root mean square
# distance to f_true over FIT_GRID after K = 1000 epochs, one run per seed (tests/checks/fit_measurements.md
# has the numbers). The reference is not reliable: in about 5% of its runs SGD stalls near the best
# constant (distance ~1.6, the constant's is 1.60), and a few more stop between 0.8 and 1.2; the rest
# lie between 0.11 and 0.8 (median ~0.35). So one run cannot be judged at 1e-6, but several can: the
# check runs the pipeline with up to FIT_RUNS seeds, stops at the first run within FIT_RMSE, and passes
# when one is. A correct pipeline fails only if all FIT_RUNS runs miss: probability q^FIT_RUNS, where
# q = P(one run > 1.0) was measured at 6/180 (clean) and 9/180 (noise 0.5); the one-sided 99.9% upper
# confidence bounds (Clopper-Pearson) are 0.086 and 0.11, and 0.11^6 = 1.8e-6 ~ 0.086^6 = 4e-7.
# What fails: a pipeline that learns nothing better than a constant (no optimizer step, diverging or
# exploding SGD, a model that is not trained, training for a handful of epochs) in every run.


@dataclass(frozen=True)
class FitSpec:
    noise_std: float
    what: str


def fit_probes(spec: FitSpec):
    def probes(rng: np.random.Generator) -> list[Probe]:
        call = "make_data()" if spec.noise_std == 0 else f"make_data(noise_std={spec.noise_std})"
        seeds = [int(s) for s in rng.choice(2**31, size=FIT_RUNS, replace=False)]
        return [Probe("p1_fit", {"seeds": seeds, "noise_std": spec.noise_std, "grid": FIT_GRID,
                                 "good_enough": FIT_RMSE},
                      MODULE, f"your pipeline ({call}, MLP(), initialize(model), train(model, X, Y))",
                      summary={"runs": "list"})]
    return probes


def contract_params(raw: Any, what: str) -> dict[str, np.ndarray]:
    """The six parameter arrays of l1, l2, l3 in an answer, as float64; Mismatch when they are not all there
    with the contract's shapes (only a tampered answer lacks them: the child sends them or says why not)."""
    if not isinstance(raw, dict):
        raise Mismatch(f"{what}: the grader received no trained parameters (a malformed answer: {describe(raw)})")
    out = {}
    for name in PARAM_NAMES:
        arr = as_array(raw.get(name), f"{what}: the trained {name}")
        if arr.shape != PARAM_SHAPES[name] or arr.dtype.kind != "f":
            raise Mismatch(f"{what}: the trained {name} came back as {describe(arr)}, expected float values of "
                           f"shape {PARAM_SHAPES[name]}")
        out[name] = arr.astype(np.float64)
    return out


def contract_predict(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The contract's MLP l3(sigmoid(l2(sigmoid(l1(x))))) with `params`, at the points x, in float64: (n,)."""
    h = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    with np.errstate(all="ignore"):     # nan and inf parameters give nan: "training diverged"
        for name, last in (("l1", False), ("l2", False), ("l3", True)):
            h = h @ params[f"{name}.weight"].T + params[f"{name}.bias"]
            if not last:
                h = 0.5 * (1.0 + np.tanh(0.5 * h))      # sigmoid, without overflow
    return h.reshape(-1)


def fit_distance(params: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    """The root mean square distance to f_true over FIT_GRID of the contract's MLP with `params`
    (inf when it is not finite), and the predictions."""
    pred = contract_predict(params, FIT_GRID)
    if not np.all(np.isfinite(pred)):
        return math.inf, pred
    return float(np.sqrt(np.mean((pred - f_true_np(FIT_GRID)) ** 2))), pred


def fit_runs(value: Any, seeds: Sequence) -> list[tuple[dict, float, np.ndarray]]:
    """(run, distance, predictions) of every run in the fit probe's answer, judged here from the trained
    parameters alone; at most one run per seed the probe asked for (more can only be forged)."""
    got = _answer(value, "the training runs")
    runs = got.get("runs")
    if not isinstance(runs, list):
        raise Mismatch(f"the grader could not read the training runs (a malformed answer: {describe(runs)})")
    out = []
    for k, run in enumerate(runs[:len(seeds)]):
        params = contract_params(run.get("params") if isinstance(run, dict) else run, f"run {k + 1}")
        distance, pred = fit_distance(params)
        out.append((run, distance, pred))
    return out


def _layer_problems(layers: Any) -> list[str]:
    """What the child found instead of the contract's l1, l2, l3 (its description can only fail the check)."""
    problems: list[str] = []
    if not isinstance(layers, dict):
        return problems
    for name, (i, o) in LAYER_SHAPES.items():
        found = layers.get(name)
        if found == "missing":
            problems.append(f"MLP() has no attribute {name}")
        elif isinstance(found, dict):
            shapes = [tuple(v) if isinstance(v, list) and all(isinstance(d, int) for d in v) else v
                      for v in (found.get("weight"), found.get("bias"))]
            if shapes != [(o, i), (o,)]:
                kind = str(found.get("type"))[:40]
                problems.append(f"MLP().{name} is a {kind} with weight {shapes[0]} and bias {shapes[1]}, expected "
                                f"nn.Linear({i}, {o}) (weight {(o, i)}, bias {(o,)})")
    return problems


def fit_judge(spec: FitSpec):
    """Judged on evidence: the trained parameters of l1, l2, l3, evaluated here in the contract's MLP on
    FIT_GRID. Neither the student's forward nor any loss the student's code reports takes part; the
    child's timings and loss count only colour the message."""
    def judge(ctx: JudgeContext) -> Verdict:
        obs = ctx.observations[0]
        got = _answer(obs.value, "the training runs")
        if "layers" in got:
            problems = _layer_problems(got["layers"]) or ["MLP() does not have the contract's layers"]
            return Verdict.failed(
                f"{spec.what}: {'; '.join(problems)}. The fit is judged on the trained parameters of the "
                "contract's layers l1 = nn.Linear(1, 64), l2 = nn.Linear(64, 64), l3 = nn.Linear(64, 1), evaluated "
                "as l3(sigmoid(l2(sigmoid(l1(x))))): keep these attributes.")
        runs = fit_runs(got, obs.probe.params["seeds"])
        if not runs:
            return Verdict.failed(f"{spec.what}: no training run came back to judge.")
        distances = [d for _, d, _ in runs]
        seconds = [_number(r.get("seconds")) if isinstance(r, dict) else math.nan for r, _, _ in runs]
        best = int(np.argmin(distances))
        epochs = [r.get("epochs") if isinstance(r, dict) else None for r, _, _ in runs]
        notes = []
        if any(isinstance(e, int) and e != 1000 for e in epochs):
            count = next(e for e in epochs if isinstance(e, int) and e != 1000)
            notes.append(f"train returned {count} losses with its default epochs; the contract's K is 1000.")
        if distances[best] <= FIT_RMSE:
            tried = f" (run {best + 1} of up to {FIT_RUNS})" if best else ""
            return Verdict.passed(
                f"{spec.what}: after training, the learned function is {distances[best]:.3g} from f_true on "
                f"[-2, 2]{tried} (root mean square over {FIT_GRID.size} points of l3(sigmoid(l2(sigmoid(l1(x))))) "
                f"with your trained parameters; the limit is {FIT_RMSE:g}).{_took(seconds[best:best + 1])}")
        shown = ", ".join("nan/inf" if math.isinf(d) else f"{d:.3g}" for d in distances)
        text = (f"{spec.what}: in {len(runs)} runs of {obs.probe.label} with different seeds, the learned function "
                f"stays {min(distances):.3g} or more from f_true on [-2, 2] (root mean square over "
                f"{FIT_GRID.size} points of l3(sigmoid(l2(sigmoid(l1(x))))) with the trained parameters of l1, l2, "
                f"l3: {shown}); a correct pipeline gets within {FIT_RMSE:g} (the best constant is 1.6 away)."
                f"{_took(seconds, ' per run')}")
        if any(math.isinf(d) for d in distances):
            text += " nan or inf: training diverged."
        return Verdict.failed("\n".join([text] + notes + [
            "Check the P1.train and P1.initialize checks first; the loss should fall over the epochs."]))
    return judge


def _took(seconds: list[float], each: str = "") -> str:
    known = [t for t in seconds if not math.isnan(t)]
    return f" Training took {sum(known) / len(known):.1f} s{each}." if known else ""


def _number(value: Any) -> float:
    """A number the child reported for a message (a timing): nan unless it is a plain finite number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan


P1_FIT = FitSpec(0.0, "Problem 1 (clean labels)")

CHECKS.add(Check(
    "P1.fit", fit_probes(P1_FIT), fit_judge(P1_FIT),
    hint="Train with the defaults (K = 1000 epochs, lr = alpha, batch_size = B) after initialize(model); "
         "the training loss should fall well below the variance of Y (about 2.5).",
))


# ---- the student kit's plot ---------------------------------------------------------------------
# The kit's self-check (grader/kit/selfcheck.py) calls `selfcheck_plot` for the checks of the problems
# the manifest's `plots` names a file for (P1.fit, and P2.noisy_fit, whose probes are made here).

def selfcheck_plot(path, observations: Sequence, problem_name: str):
    """Draw the fit probe's best training run next to f_true at `path`; None when the check has no fit probe."""
    fits = [o for o in observations if o.probe.kind == "p1_fit" and o.raised is None]
    if not fits:
        return None
    return draw_fit(path, fits[-1].probe.params, fits[-1].returned,
                    title=f"{problem_name}: your trained MLP next to f_true")


def draw_fit(path, params: dict, returned: dict, *, title: str):
    """The fit probe's runs, as the judge sees them: the trained parameters of l1, l2, l3 in the contract's
    forward pass (never predictions from the child); the run drawn is the best, the one judged."""
    if isinstance(returned, dict) and "layers" in returned:
        raise ValueError("MLP() does not have the contract's layers l1, l2, l3: nothing to draw")
    runs = fit_runs(returned, params["seeds"])
    if not runs:
        raise ValueError("no training run came back")
    run, _, _ = min(runs, key=lambda r: r[1])
    grid = np.asarray(params["grid"], dtype=np.float64).reshape(-1)
    pred = contract_predict(contract_params(run["params"], "the plotted run"), grid)
    points = None
    if run.get("X") is not None and run.get("Y") is not None:
        points = ("your data", np.asarray(run["X"], dtype=np.float64).reshape(-1),
                  np.asarray(run["Y"], dtype=np.float64).reshape(-1))
    return draw_curves(path, grid, [("f_true", "tab:blue", f_true_np(grid)), ("your trained MLP", "tab:red", pred)],
                       title=title, points=points)
