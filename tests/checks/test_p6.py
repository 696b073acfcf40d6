"""Problem 6 checks: dead_units, two_layer_grad and two_layer_sgd with ReLU, dead units frozen under SGD."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.hw3testing import grade_checks, write_submission
from hw3.checks import p6, p6_hidden, p7  # noqa: F401  (p7: its SGD probes)
from grader.outcome import Status
from tests.hw3testing import HW3

P6_IDS = ["P6.dead_units", "P6.two_layer_grad.relu", "P6.two_layer_sgd.relu", "P6.dead_stay_dead"]

# Correct, in other styles, in one submission: dead_units as a Python list of bools; two_layer_grad by
# autograd; two_layer_sgd in numpy with its own gradient and numpy's permutation (the order is the
# student's business), returning ndarrays.
OTHER_STYLES = '''
import numpy as np
import torch


def dead_units(a, b, X):
    a, b, X = (np.asarray(t, dtype=float) for t in (a, b, X))
    return [bool(np.all(a[j] * X + b[j] < 0)) for j in range(len(a))]


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    a, b, u = (t.detach().clone().requires_grad_(True) for t in (a, b, u))
    z = a * x + b
    s = torch.relu(z) if activation == "relu" else torch.nn.functional.leaky_relu(z, alpha)
    loss = 0.5 * (torch.dot(u, s) - y) ** 2
    return torch.autograd.grad(loss, (a, b, u))


def _numpy_grad(a, b, u, x, y, activation, alpha):
    z = a * x + b
    if activation == "relu":
        s, ds = np.maximum(z, 0), (z > 0) * 1.0
    else:
        s, ds = np.where(z >= 0, z, alpha * z), np.where(z >= 0, 1.0, alpha)
    r = u @ s - y
    return r * u * ds * x, r * u * ds, r * s


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    a, b, u = (np.array(t, dtype=float) for t in (a, b, u))
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    rng = np.random.default_rng(12345)
    for _ in range(epochs):
        for i in rng.permutation(len(X)):
            ga, gb, gu = _numpy_grad(a, b, u, X[i], Y[i], activation, alpha)
            a, b, u = a - lr * ga, b - lr * gb, u - lr * gu
    return a, b, u
'''

# Bugs, several per submission where they hit different checks.
BUGS_1 = '''
def dead_units(a, b, X):                            # any sample instead of every sample
    return (a[:, None] * X[None, :] + b[:, None] < 0).any(dim=1)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):      # r = y - f(x): the wrong sign
    z = a * x + b
    s = torch.relu(z)
    r = y - torch.dot(u, s)
    gb = r * u * (z > 0)
    return gb * x, gb, r * s
'''

BUGS_2 = '''
def dead_units(a, b, X):                            # <= 0 counts a zero as dead
    return (a[:, None] * X[None, :] + b[:, None] <= 0).all(dim=1)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):      # forgets the factor u_j
    z = a * x + b
    s = torch.relu(z)
    r = torch.dot(u, s) - y
    gb = r * (z > 0)
    return gb * x, gb, r * s


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    for _ in range(epochs):                         # updates the caller's tensors in place
        for i in torch.randperm(len(X), generator=generator):
            z = a * X[i] + b
            s = torch.relu(z)
            r = torch.dot(u, s) - Y[i]
            gb = r * u * (z > 0)
            ga, gu = gb * X[i], r * s
            a -= lr * ga
            b -= lr * gb
            u -= lr * gu
    return a, b, u
'''

BUGS_3 = '''
def dead_units(a, b, X):                            # the live units
    return (a[:, None] * X[None, :] + b[:, None] >= 0).any(dim=1)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):      # always the leaky slope
    z = a * x + b
    s = torch.relu(z)
    r = torch.dot(u, s) - y
    gb = r * u * torch.where(z > 0, 1.0, 0.01)
    return gb * x, gb, r * s
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("p6")
    subs = {
        "reference": write_submission(base / "reference"),
        "styles": write_submission(base / "styles", patch={"gradients": OTHER_STYLES}),
        "bugs1": write_submission(base / "bugs1", patch={"gradients": BUGS_1}),
        "bugs2": write_submission(base / "bugs2", patch={"gradients": BUGS_2}),
        "bugs3": write_submission(base / "bugs3", patch={"gradients": BUGS_3}),
    }
    return {name: grade_checks(folder, rubric, ids=P6_IDS) for name, folder in subs.items()}


def _failed(outcome, *patterns: str, hidden: bool = False) -> None:
    assert outcome.status is Status.FAILED, (outcome.check_id, outcome.status, outcome.detail)
    for pattern in patterns:
        assert re.search(pattern, outcome.detail), (outcome.check_id, pattern, outcome.detail)
    hint = "\nHint: " + HW3.catalog[outcome.check_id].hint
    if hidden:
        message = re.sub(r"\nThis check builds on code that also failed [^\n]*", "", outcome.message)  # builds_on
        assert message == "This hidden check failed (its inputs and expected values are not shown)." + hint
    else:
        assert outcome.message == outcome.detail + hint


@pytest.mark.parametrize("style", ["reference", "styles"])
def test_correct_solutions_pass_every_p6_check(outcomes, style):
    for check_id in P6_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score


def test_dead_units_needs_every_sample(outcomes):
    _failed(outcomes["bugs1"]["P6.dead_units"],
            re.escape("You marked units negative on SOME sample: a unit is dead only when a_j X_i + b_j < 0 on EVERY "
                      "sample (all, not any).\ndead_units(a, b, X) with p = 8, N = 10: values are not close!"))


def test_dead_units_is_strict(outcomes):
    _failed(outcomes["bugs2"]["P6.dead_units"],
            re.escape("A unit with a_j X_i + b_j == 0 on some sample is not dead: dead needs < 0 strictly, on every "
                      "sample.\ndead_units(a, b, X) with a_j X_i + b_j == 0 on one sample: values are not close!"))


def test_gradient_with_the_wrong_sign(outcomes):
    result = outcomes["bugs1"]
    _failed(result["P6.two_layer_grad.relu"],
            re.escape("Your gradient has the wrong sign: d/dθ 0.5 (f(x) - y)^2 = (f(x) - y) ∂f/∂θ, with "
                      "r = f(x) - y (not y - f(x)).\nga of two_layer_grad(a, b, u, x, y) with a, b, u, x, y = [")
            + r"[-\d., \[\]\n]+" + re.escape(": values are not close!"))
    # The reference's SGD calls the buggy gradient: it climbs, and says so.
    _failed(result["P6.two_layer_sgd.relu"],
            re.escape("You stepped uphill: SGD subtracts lr times the gradient.\na of two_layer_sgd(a, b, u, X, Y, "
                      "lr=0.05, epochs=6) with p = 5 and N = 1 identical samples: values are not close!"))
    # Climbing diverges: even a dead unit becomes nan (inf * 0); said as such, not as a unit that moved.
    _failed(result["P6.dead_stay_dead"], re.escape("from a start with dead units: a contains nan or inf, so the run "
                                                   "diverged: does every step go downhill, (a, b, u) -= lr * "
                                                   "gradient?"), hidden=True)


def test_gradient_without_u(outcomes):
    _failed(outcomes["bugs2"]["P6.two_layer_grad.relu"],
            re.escape("ga and gb miss the factor u_j: f = Σ_j u_j σ(a_j x + b_j), so ∂f/∂b_j = u_j σ'(z_j) and "
                      "∂f/∂a_j = u_j σ'(z_j) x.\n"))


def test_sgd_modifying_its_inputs_loses_half_the_points(outcomes):
    outcome = outcomes["bugs2"]["P6.two_layer_sgd.relu"]
    assert outcome.status is Status.FAILED
    assert outcome.score == pytest.approx(outcome.max_score / 2)
    assert re.search(re.escape("two_layer_sgd(a, b, u, X, Y, lr=0.05, epochs=6) with p = 5 and N = 1 identical "
                               "samples returned the right parameters but changed its input a in place (a[")
                     + r"\d" + re.escape("] was ") + r"-?[\d.e+-]+" + re.escape(", is ") + r"-?[\d.e+-]+"
                     + re.escape(" after the call): work on copies (a = a.clone()) and return new tensors; the "
                                 "caller's tensors must stay as they were."), outcome.message)
    assert outcomes["bugs2"]["P6.dead_stay_dead"].status is Status.PASSED


def _judge(check_id: str, returned_for) -> "Verdict":
    """The check's judge on its own probes, each answered by `returned_for(args, kwargs)` (no child)."""
    from grader.checks.base import JudgeContext, Observation
    from grader.compare import Tolerance

    probes = HW3.catalog[check_id].probes(np.random.default_rng(3))
    observations = [Observation(p, returned=returned_for(p.params["args"], p.params["kwargs"])) for p in probes]
    return HW3.catalog[check_id].judge(JudgeContext(observations, Tolerance(1e-6, 1e-8), np.random.default_rng(0), reference=HW3.reference_object))


def _sgd(args, kwargs, **changes):
    a, b, u, X, Y, lr, epochs = args
    run = {"X": X, "Y": Y, "lr": lr, "epochs": epochs, **changes}
    return p6.np_sgd_in_order(a, b, u, run["X"], run["Y"], run["lr"], run["epochs"],
                              kwargs.get("activation", "relu"), kwargs.get("alpha", 0.01))[:3]


def _keep(result, args):
    return {"returned": result, "args_after": list(args), "kwargs_after": {}}


@pytest.mark.parametrize("check_id", ["P6.two_layer_sgd.relu", "P7.two_layer_sgd.leaky"])
def test_sgd_judge_accepts_any_order_and_names_the_usual_mistakes(check_id):
    keep = (lambda r, args: _keep(r, args)) if check_id.startswith("P6") else (lambda r, args: r)
    assert _judge(check_id, lambda args, kw: keep(_sgd(args, kw), args)).fraction == 1.0
    verdict = _judge(check_id, lambda args, kw: keep(_sgd(args, kw, epochs=1), args))
    assert verdict.fraction == 0.0
    assert re.match(re.escape("Your result is what ONE epoch gives: run epochs = ") + r"\d"
                    + re.escape(" passes over the data, each in a fresh random order.\na of two_layer_sgd("),
                    verdict.message)
    verdict = _judge(check_id, lambda args, kw: keep(_sgd(args, kw, X=args[3][:1], Y=args[4][:1]), args))
    assert verdict.fraction == 0.0
    assert ("You took one step per epoch (a full-batch gradient step?): SGD takes one step per sample, N steps an "
            "epoch.\n") in verdict.message
    verdict = _judge(check_id, lambda args, kw: keep(tuple(args[:3]), args))
    assert verdict.message.startswith("The parameters came back unchanged: take a step (a, b, u) -= lr * gradient "
                                      "for every sample of every epoch.\n")


def test_dead_units_must_stay_frozen(outcomes):
    _failed(outcomes["bugs3"]["P6.two_layer_grad.relu"],
            re.escape("With ReLU a unit with z_j < 0 has σ'(z_j) = 0: its ga_j and gb_j are exactly 0 (your gb is "
                      "nonzero at unit ") + r"\d" + re.escape(").\nga of two_layer_grad("))
    assert outcomes["bugs3"]["P6.two_layer_sgd.relu"].status is Status.FAILED
    outcome = outcomes["bugs3"]["P6.dead_stay_dead"]
    _failed(outcome, re.escape("two_layer_sgd(a, b, u, X, Y, lr=0.02, epochs=4, activation='relu') from a start with "
                               "dead units: unit ") + r"(\d)" + re.escape(" is dead at the start (a_") + r"\1"
            + re.escape(" X_i + b_") + r"\1" + re.escape(" < 0 on every sample), yet its a_") + r"\1"
            + re.escape(" moved from "), hidden=True)


# ----------------------------------------------------------------------------- the probes themselves


def test_sgd_cases_cannot_depend_on_the_order():
    """N identical samples (or one): every permutation gives the same run, far from every kink."""
    for check_id in ("P6.two_layer_sgd.relu", "P7.two_layer_sgd.leaky"):
        for seed in range(3):
            for probe in HW3.catalog[check_id].probes(np.random.default_rng(seed)):
                a, b, u, X, Y, lr, epochs = probe.params["args"]
                assert np.all(X == X[0]) and np.all(Y == Y[0])
                kwargs = probe.params["kwargs"]
                *_, closest = p6.np_sgd_in_order(a, b, u, X, Y, lr, epochs, kwargs.get("activation", "relu"),
                                                 kwargs.get("alpha", 0.01))
                assert closest >= 1e-3


def test_dead_starts_have_dead_and_live_units():
    for check_id in ("P6.dead_stay_dead", "P7.dead_units_move"):
        for probe in HW3.catalog[check_id].probes(np.random.default_rng(0)):
            a, b, u, X, Y = probe.params["args"][:5]
            assert len(np.unique(X)) == len(X)                       # distinct samples: the order matters here
            dead = p6_hidden.dead_mask(a, b, X)
            assert dead.sum() == 2 and (a[:, None] * X + b[:, None])[dead].max() < -0.4
            assert np.all(np.abs(u[dead]) >= 0.3)


def test_dead_units_returning_the_live_ones(outcomes):
    _failed(outcomes["bugs3"]["P6.dead_units"],
            re.escape("You returned the live units: True should mark the dead ones.\ndead_units(a, b, X) with p = 8, "
                      "N = 10: values are not close!"))
