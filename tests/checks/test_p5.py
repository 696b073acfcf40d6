"""Problem 5 checks: activations, softplus', lipschitz_estimate, mlp_forward, the sigmoid <-> tanh conversions."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hw3testing import grade_checks, write_submission
from grader.checks import elementwise  # noqa: F401
from hw3.checks import _conversions as conv
from hw3.checks import p5  # noqa: F401  (declares the P5 checks)
from grader.checks.base import Observation
from grader.compare import Tolerance
from grader.outcome import Status
from reference.activations import sigmoid_mlp_to_tanh, tanh_mlp_to_sigmoid
from tests.hw3testing import HW3

P5_IDS = ["P5.activations", "P5.activations.extreme", "P5.softplus_derivative", "P5.lipschitz_estimate",
          "P5.mlp_forward", "P5.sigmoid_to_tanh", "P5.tanh_to_sigmoid", "P5.conversions.deep"]

# Correct, in other styles: numpy results, F.softplus / logaddexp, a sigmoid built from tanh, hidden units
# with flipped signs in the conversions (another correct answer than the reference's).
OTHER_STYLES = '''
import numpy as np
import torch
import torch.nn.functional as F


def relu(z):
    return np.maximum(np.asarray(z, dtype=float), 0.0)


def softplus(z):
    return F.softplus(torch.as_tensor(z, dtype=torch.float64))


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def tanh(z):
    z = torch.as_tensor(z, dtype=torch.float64)
    return 2 * torch.sigmoid(2 * z) - 1


def softplus_derivative(z):
    z = np.asarray(z, dtype=float)
    return np.exp(-np.logaddexp(0.0, -z))


def lipschitz_estimate(g, xs):
    grid = np.unique(np.asarray(xs, dtype=float))
    values = np.asarray(g(torch.from_numpy(grid)), dtype=float)
    return float(np.max(np.abs(np.diff(values)) / np.diff(grid)))


def mlp_forward(As, bs, x, act):
    single = x.dim() == 1
    y = x.reshape(1, -1) if single else x
    for l, (A, b) in enumerate(zip(As, bs)):
        y = torch.addmm(b, y, A.t())
        if l < len(As) - 1:
            y = act(y)
    return y[0] if single else y


def sigmoid_mlp_to_tanh(As, bs):
    # sigmoid(z) = (1 - tanh(-z / 2)) / 2: every hidden unit of the tanh network is the negated one.
    As = [np.asarray(A, dtype=float) for A in As]
    bs = [np.asarray(b, dtype=float) for b in bs]
    Cs, ds = [], []
    for l, (A, b) in enumerate(zip(As, bs)):
        if l == 0:
            W, v = A.copy(), b.copy()
        else:                       # the previous layer's output is y = (1 - t) / 2
            W, v = -A / 2, b + A.sum(axis=1) / 2
        if l < len(As) - 1:        # feed tanh with -z / 2
            W, v = -W / 2, -v / 2
        Cs.append(W)
        ds.append(v)
    return tuple(Cs), tuple(ds)


def tanh_mlp_to_sigmoid(Cs, ds):
    # tanh(z) = 1 - 2 sigmoid(-2 z): every hidden unit of the sigmoid network is the mirrored one.
    As, bs = [], []
    for l, (C, d) in enumerate(zip(Cs, ds)):
        if l == 0:
            W, v = C.clone(), d.clone()
        else:                       # the previous layer's output is t = 1 - 2 y
            W, v = -2 * C, d + C.sum(dim=1)
        if l < len(Cs) - 1:        # feed sigmoid with -2 z
            W, v = -2 * W, -2 * v
        As.append(W)
        bs.append(v)
    return As, bs
'''

# Bugs, one per check where possible, so that one child grades several of them.
BUGS_1 = '''
def softplus(z):                                   # overflows: log(1 + inf) = inf at z >= 710
    return torch.log(1 + torch.exp(z))


def softplus_derivative(z):                        # softplus itself
    return softplus(z)


def lipschitz_estimate(g, xs):                     # keeps the repeats: 0 / 0
    xs, _ = torch.sort(xs)
    values = g(xs)
    return float(((values[1:] - values[:-1]).abs() / (xs[1:] - xs[:-1])).max())


def mlp_forward(As, bs, x, act):                   # the activation on the last layer too
    y = x
    for A, b in zip(As, bs):
        y = act(y @ A.T + b)
    return y


def sigmoid_mlp_to_tanh(As, bs):                   # only rescales: forgets the +1/2 offsets
    L = len(As)
    Cs = [A / 2 for A in As[:-1]] + [As[-1] / 2]
    ds = [b / 2 for b in bs[:-1]] + [bs[-1]]
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):                   # the factor the wrong way round
    L = len(Cs)
    As, bs = [], []
    for l, (C, d) in enumerate(zip(Cs, ds)):
        if l == L - 1:
            As.append(C * 2), bs.append(d - C.sum(dim=1))
        elif l == 0:
            As.append(C / 2), bs.append(d / 2)
        else:
            As.append(C / 4), bs.append(d / 2 - C.sum(dim=1) / 4)
    return As, bs
'''

BUGS_2 = '''
def sigmoid(z):                                    # sigmoid(-z); also overflows (inf / inf) for large z
    return torch.exp(-z) / (1 + torch.exp(-z))


def lipschitz_estimate(g, xs):                     # neighbours in the given order (repeats skipped)
    seen, grid = set(), []
    for v in xs.tolist():
        if v not in seen:
            seen.add(v)
            grid.append(v)
    grid = torch.tensor(grid, dtype=torch.float64)
    values = g(grid)
    return float(((values[1:] - values[:-1]) / (grid[1:] - grid[:-1])).abs().max())


def sigmoid_mlp_to_tanh(As, bs):                   # hidden offsets right, the last layer's forgotten
    L = len(As)
    Cs, ds = [], []
    for l, (A, b) in enumerate(zip(As, bs)):
        if l == L - 1:
            Cs.append(A / 2), ds.append(b.clone())
        elif l == 0:
            Cs.append(A / 2), ds.append(b / 2)
        else:
            Cs.append(A / 4), ds.append(b / 2 + A.sum(dim=1) / 4)
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):                   # only rescales: forgets the -1 offsets
    return [2 * C for C in Cs[:-1]] + [2 * Cs[-1]], [2 * d for d in ds[:-1]] + [ds[-1].clone()]
'''

BUGS_3 = '''
def relu(z):                                       # flattens: a 0-d input comes back with shape (1,)
    return torch.relu(z.reshape(-1))


def softplus_derivative(z):                        # sigmoid'(z), not softplus'(z)
    s = torch.sigmoid(z)
    return s * (1 - s)


def lipschitz_estimate(g, xs):                     # the signed slope
    xs = torch.unique(xs)
    values = g(xs)
    return float(((values[1:] - values[:-1]) / (xs[1:] - xs[:-1])).max())


def sigmoid_mlp_to_tanh(As, bs):                   # right for L <= 3 only: later layers treated as the first
    L = len(As)
    Cs, ds = [], []
    for l, (A, b) in enumerate(zip(As, bs)):
        if l == L - 1:
            Cs.append(A / 2), ds.append(b + A.sum(dim=1) / 2)
        elif l == 1:
            Cs.append(A / 4), ds.append(b / 2 + A.sum(dim=1) / 4)
        else:
            Cs.append(A / 2), ds.append(b / 2)
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):                   # transposed weights
    As, bs = tanh_mlp_to_sigmoid_reference(Cs, ds)
    return [A.T.contiguous() for A in As], bs
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("p5")
    subs = {
        "reference": write_submission(base / "reference"),
        "styles": write_submission(base / "styles", patch={"activations": OTHER_STYLES}),
        "bugs1": write_submission(base / "bugs1", patch={"activations": BUGS_1}),
        "bugs2": write_submission(base / "bugs2", patch={"activations": BUGS_2}),
        "bugs3": write_submission(base / "bugs3", patch={"activations": "tanh_mlp_to_sigmoid_reference = "
                                                                       "tanh_mlp_to_sigmoid\n" + BUGS_3}),
    }
    return {name: grade_checks(folder, rubric, ids=P5_IDS) for name, folder in subs.items()}


def _failed(outcome, *patterns: str, hidden: bool = False) -> None:
    assert outcome.status is Status.FAILED, (outcome.check_id, outcome.status, outcome.detail)
    for pattern in patterns:
        assert re.search(pattern, outcome.detail), (outcome.check_id, pattern, outcome.detail)
    if hidden:
        assert outcome.message.startswith("This hidden check failed"), outcome.message
    else:
        assert outcome.message.startswith(outcome.detail + "\nHint: "), outcome.message


@pytest.mark.parametrize("style", ["reference", "styles"])
def test_correct_solutions_pass_every_p5_check(outcomes, style):
    for check_id in P5_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score


def test_naive_softplus_overflows_at_large_z(outcomes):
    result = outcomes["bugs1"]
    assert result["P5.activations"].status is Status.PASSED          # moderate z: log(1 + exp(z)) is fine
    extreme = result["P5.activations.extreme"]
    _failed(extreme, re.escape("softplus(z) is inf at z = 10000, where the exact value is 10000: an intermediate "
                               "result overflowed (in float64 exp(710) is already inf)."), hidden=True)
    assert "10000" not in extreme.message
    assert extreme.message.endswith("use log1p(exp(-|z|)) + max(z, 0); likewise sigmoid and tanh must only ever "
                                    "exponentiate -|z| (or use torch.sigmoid, torch.tanh), so that |z| up to 1e4 "
                                    "gives finite, accurate values (softplus(1e4) == 1e4).")


def test_softplus_derivative_bugs(outcomes):
    _failed(outcomes["bugs1"]["P5.softplus_derivative"],
            re.escape("You returned softplus itself: its derivative is d/dz log(1 + exp(z)) = exp(z) / (1 + exp(z)) "
                      "= sigmoid(z).\nsoftplus_derivative("))
    _failed(outcomes["bugs3"]["P5.softplus_derivative"],
            re.escape("You returned sigmoid'(z) = sigmoid(z)(1 - sigmoid(z)); softplus' is sigmoid(z) itself."))
    assert outcomes["bugs3"]["P5.softplus_derivative"].message.endswith(
        "Hint: softplus'(z) = d/dz log(1 + exp(z)) = exp(z) / (1 + exp(z)) = sigmoid(z), elementwise.")


def test_sigmoid_of_minus_z_and_its_overflow(outcomes):
    result = outcomes["bugs2"]
    _failed(result["P5.activations"],
            re.escape("Your values are sigmoid(-z): sigmoid(z) = 1 / (1 + exp(-z)) tends to 1 as z grows.\nsigmoid("))
    _failed(result["P5.activations.extreme"], re.escape("sigmoid(z) is nan at z = "), hidden=True)


def test_elementwise_results_keep_the_input_shape(outcomes):
    _failed(outcomes["bugs3"]["P5.activations"],
            re.escape("relu(") + r"-?[\d.]+" + re.escape(") returned shape (1,) for z of shape (): an elementwise "
                                                      "function returns a result of the same shape as its input."))


def test_lipschitz_estimate_bugs(outcomes):
    _failed(outcomes["bugs1"]["P5.lipschitz_estimate"],
            re.escape("returned nan: a repeated point gives x_(i+1) - x_i = 0 and a division by zero; drop the "
                      "repeats first (torch.unique does that and sorts)."))
    _failed(outcomes["bugs2"]["P5.lipschitz_estimate"],
            re.escape("Your value uses neighbours in the order xs was given: sort the grid first.\n"
                      "lipschitz_estimate(sigmoid, xs) (xs: ") + r"\d+ points, unsorted, \d+ repeats\)")
    _failed(outcomes["bugs3"]["P5.lipschitz_estimate"],
            re.escape("Your value is the largest signed slope: take |g(x_(i+1)) - g(x_i)|.\n"))


def test_mlp_forward_last_layer_is_linear(outcomes):
    _failed(outcomes["bugs1"]["P5.mlp_forward"],
            re.escape("Your output went through the activation once more: the last layer is linear, "
                      "y_L = A_L y_(L-1) + b_L.\nmlp_forward(As, bs, x, sigmoid) with widths (3, 5, 2)"))


def test_conversion_forgetting_every_offset(outcomes):
    outcome = outcomes["bugs1"]["P5.sigmoid_to_tanh"]
    _failed(outcome, re.escape("sigmoid_mlp_to_tanh(As, bs) for L = 3 layers of widths (")
            + r"\d, \d, \d, \d" + re.escape("): the tanh network you returned does not compute the same x -> y_L map "
                                            "as the given sigmoid network. Your biases after the first layer are "
                                            "only rescaled copies of the given ones: every hidden unit carries an "
                                            "offset (the +1/2 in sigmoid(z) = (1 + tanh(z / 2)) / 2) that must be "
                                            "folded into the next layer's bias.\ny_L of your tanh network on 72 "
                                            "inputs x: values are not close!"))
    assert outcome.message.endswith("Hint: " + conv.CONVERSION_HINT_TO_TANH)
    _failed(outcomes["bugs2"]["P5.tanh_to_sigmoid"],
            re.escape("Your biases after the first layer are only rescaled copies of the given ones: every hidden "
                      "unit carries an offset (the -1 in tanh(z) = 2 sigmoid(2z) - 1) that must be folded into the "
                      "next layer's bias."))


def test_conversion_forgetting_the_last_offset_is_off_by_a_constant(outcomes):
    _failed(outcomes["bugs2"]["P5.sigmoid_to_tanh"],
            re.escape("Its output differs from the given network's by the same constant vector for every x: the "
                      "last layer's bias is off. Every hidden unit carries an offset (the +1/2 in sigmoid(z) = "
                      "(1 + tanh(z / 2)) / 2) that the next layer sees: fold it into the next layer's bias."))


def test_conversion_with_the_factor_the_wrong_way_round(outcomes):
    _failed(outcomes["bugs1"]["P5.tanh_to_sigmoid"],
            re.escape("Your first layer halves C_1, but tanh(z) = 2 sigmoid(2z) - 1: the sigmoid network sees twice "
                      "the pre-activation, so its first layer doubles C_1 (the factor is 2, not 1/2)."))


def test_conversion_structure_is_checked_layer_by_layer(outcomes):
    outcome = outcomes["bugs3"]["P5.tanh_to_sigmoid"]
    _failed(outcome, re.escape("tanh_mlp_to_sigmoid(Cs, ds) for L = 3 layers of widths (")
            + r"(\d), (\d), \d, \d" + re.escape("), layer 1: A has shape (")
            + r"\1, \2" + re.escape("), expected (") + r"\2, \1" + re.escape(") (n_1 x n_0, as the given layer's "
                                                                            "weights)."))


def test_conversion_right_only_up_to_three_layers_fails_the_deep_check(outcomes):
    result = outcomes["bugs3"]
    assert result["P5.sigmoid_to_tanh"].status is Status.PASSED
    _failed(result["P5.conversions.deep"], re.escape("sigmoid_mlp_to_tanh(As, bs) for L = 5 layers of widths ("),
            hidden=True)
    for bundle in ("bugs1", "bugs2"):
        assert outcomes[bundle]["P5.conversions.deep"].status is Status.FAILED


# ----------------------------------------------------------------------------- the conversion judge, directly


def _equivalent_variant(Ws, vs, activation: str, rng: np.random.Generator):
    """Another correct network: hidden units permuted, some mirrored (tanh: odd; sigmoid: s(-z) = 1 - s(z))."""
    Ws, vs = [W.copy() for W in Ws], [v.copy() for v in vs]
    for l in range(len(Ws) - 1):
        n = len(vs[l])
        perm, flip = rng.permutation(n), rng.choice([-1.0, 1.0], size=n)
        Ws[l], vs[l] = Ws[l][perm] * flip[:, None], vs[l][perm] * flip
        nxt = Ws[l + 1][:, perm]
        if activation == "sigmoid":       # A y = A (1 - y') for a mirrored unit
            vs[l + 1] = vs[l + 1] + (nxt * (flip < 0)).sum(axis=1)
        Ws[l + 1] = nxt * flip
    return Ws, vs


def _judge(target: str, Ws, vs, returned, tol=Tolerance(1e-7, 1e-9)) -> str | None:
    probe = conv.call(target, Ws, vs, label=f"{target.partition('.')[2]}(...)")
    return conv.judge_conversion(Observation(probe, returned=returned), tol, np.random.default_rng(0))


widths_strategy = st.lists(st.integers(1, 7), min_size=3, max_size=7)


@settings(max_examples=60, deadline=None)
@given(widths=widths_strategy, seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.3, 1.0, 3.0]))
def test_judge_accepts_every_correct_conversion(widths, seed, scale):
    rng = np.random.default_rng(seed)
    As, bs = conv.random_mlp(rng, widths, scale)
    t = [torch.from_numpy(a) for a in As], [torch.from_numpy(b) for b in bs]
    Cs, ds = (list(map(lambda z: z.numpy(), part)) for part in sigmoid_mlp_to_tanh(*t))
    assert _judge(conv.SIG2TANH, As, bs, (Cs, ds)) is None
    assert _judge(conv.SIG2TANH, As, bs, _equivalent_variant(Cs, ds, "tanh", rng)) is None
    As2, bs2 = (list(map(lambda z: z.numpy(), part)) for part in tanh_mlp_to_sigmoid(*t))
    assert _judge(conv.TANH2SIG, As, bs, (As2, bs2)) is None
    assert _judge(conv.TANH2SIG, As, bs, _equivalent_variant(As2, bs2, "sigmoid", rng)) is None


@settings(max_examples=40, deadline=None)
@given(widths=st.lists(st.integers(2, 6), min_size=3, max_size=6), seed=st.integers(0, 2**32 - 1))
def test_judge_rejects_conversions_without_the_offsets(widths, seed):
    rng = np.random.default_rng(seed)
    As, bs = conv.random_mlp(rng, widths)
    Cs = [A / 2 for A in As]
    ds = [b / 2 for b in bs[:-1]] + [bs[-1]]
    message = _judge(conv.SIG2TANH, As, bs, (Cs, ds))
    assert message is not None and "does not compute the same x -> y_L map" in message


@pytest.mark.parametrize("returned, message", [
    ("not a pair", "should return a pair (Cs, ds): two lists of 2 tensors, one per layer, but it returned a str"),
    (([np.zeros((3, 2))], [np.zeros(3)]), "Cs is a list of length 1 holding numpy.ndarray of shape (3, 2) (float64) for a network of L = 2 layers; "
                                              "expected one tensor per layer, 2."),
    (([np.zeros((3, 2)), np.zeros((1, 3))], [np.zeros((3, 1)), np.zeros(1)]),
     "layer 1: d has shape (3, 1), expected (3,) (a vector of n_1 biases, as the given layer's)."),
    (([np.zeros((3, 2)), np.zeros((1, 3))], [np.zeros(3), np.array([np.nan])]), "layer 2: C or d contains nan or inf."),
])
def test_judge_names_structure_problems(returned, message):
    As, bs = conv.random_mlp(np.random.default_rng(1), (2, 3, 1))
    assert message in _judge(conv.SIG2TANH, As, bs, returned)


# ----------------------------------------------------------------------------- elementwise judge, directly

_zeros = torch.zeros_like
STABLE_FORMULAS = {
    "softplus": [torch.nn.functional.softplus,
                 lambda z: torch.logaddexp(_zeros(z), z),
                 lambda z: torch.log1p(torch.exp(-z.abs())) + z.clamp_min(0),
                 lambda z: np.logaddexp(0.0, z.numpy())],
    "sigmoid": [torch.sigmoid,
                lambda z: 0.5 * (1 + torch.tanh(z / 2)),
                lambda z: torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z))),
                lambda z: np.exp(-np.logaddexp(0.0, -z.numpy()))],
    "tanh": [torch.tanh, lambda z: 2 * torch.sigmoid(2 * z) - 1, lambda z: np.tanh(z.numpy())],
    "softplus_derivative": [torch.sigmoid, lambda z: torch.special.expit(z)],
    "relu": [torch.relu, lambda z: np.maximum(z.numpy(), 0.0), lambda z: z * (z > 0)],
}
edges = st.sampled_from([1e4, -1e4, 1e3, -1e3, 745.0, -745.0, 710.0, -710.0, 36.0, 20.5, -20.5, 1e-300, 0.0, -0.0])
values = st.one_of(edges, st.floats(-1e4, 1e4, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(zs=st.lists(values, min_size=1, max_size=12), name=st.sampled_from(sorted(STABLE_FORMULAS)))
def test_every_stable_formula_passes_the_extreme_judge(zs, name):
    z = np.array(zs)
    for formula in STABLE_FORMULAS[name]:
        with np.errstate(over="ignore", invalid="ignore"):
            returned = formula(torch.from_numpy(z.copy()))
        returned = returned.numpy() if isinstance(returned, torch.Tensor) else returned
        obs = Observation(conv.call(f"activations.{name}", z, label=f"{name}(z)"), returned=returned)
        assert elementwise.judge_elementwise(obs, Tolerance(1e-6, 1e-8), HW3.reference_object) is None, (name, formula)
