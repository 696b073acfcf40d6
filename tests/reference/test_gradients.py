"""Problems 4, 6 and 7: properties of reference.gradients."""
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference.gradients import dead_units, max_derivative, two_layer_grad, two_layer_sgd

F64 = torch.float64
coef = st.floats(-3, 3, allow_nan=False)


# ----------------------------------------------------------------------------- Problem 4


def _family(params):
    """f_i(t) = a t^2 + b t + c + e sin(w t) and its derivative, for each parameter tuple."""
    fs, dfs = [], []
    for a, b, c, e, w in params:
        fs.append(lambda t, a=a, b=b, c=c, e=e, w=w: a * t * t + b * t + c + e * math.sin(w * t))
        dfs.append(lambda t, a=a, b=b, e=e, w=w: 2 * a * t + b + e * w * math.cos(w * t))
    return fs, dfs


@settings(max_examples=200, deadline=None)
@given(params=st.lists(st.tuples(coef, coef, coef, coef, coef), min_size=1, max_size=6), x=st.floats(-3, 3))
def test_max_derivative_matches_central_differences(params, x):
    fs, dfs = _family(params)
    values = sorted((f(x) for f in fs), reverse=True)
    # away from ties: the argmax stays the same on [x - h, x + h] (slopes are below 60 here)
    assume(len(values) == 1 or values[0] - values[1] > 1e-3)
    h = 1e-6
    f = lambda t: max(fi(t) for fi in fs)  # noqa: E731
    central = (f(x + h) - f(x - h)) / (2 * h)
    got = max_derivative(fs, dfs, x)
    assert isinstance(got, float)
    assert got == pytest.approx(central, rel=1e-6, abs=1e-6)


def test_max_derivative_picks_the_maximal_function():
    fs = [lambda t: t, lambda t: -t, lambda t: 0.0 * t + 0.5]
    dfs = [lambda t: 1.0, lambda t: -1.0, lambda t: 0.0]
    assert max_derivative(fs, dfs, 2.0) == 1.0
    assert max_derivative(fs, dfs, -2.0) == -1.0
    assert max_derivative(fs, dfs, 0.1) == 0.0
    assert max_derivative(fs, dfs, torch.tensor(2.0, dtype=F64)) == 1.0      # a 0-dim tensor x
    # functions returning 0-dim tensors are fine too
    fs = [lambda t: torch.sin(torch.tensor(t)), lambda t: torch.cos(torch.tensor(t))]
    dfs = [lambda t: torch.cos(torch.tensor(t)), lambda t: -torch.sin(torch.tensor(t))]
    assert max_derivative(fs, dfs, 0.1) == pytest.approx(-math.sin(0.1), rel=1e-6)


@pytest.mark.parametrize("fs, x", [
    ([lambda t: t, lambda t: -t], 0.0),                                     # the contract's example
    ([lambda t: t * t, lambda t: 1.0, lambda t: -5.0], 1.0),                # x^2 and 1 meet at x = 1
    ([lambda t: math.sin(t), lambda t: math.sin(t)], 0.3),                  # identical functions
    ([lambda t: 2.0, lambda t: 2.0, lambda t: 2.0], 7.0),
])
def test_max_derivative_raises_on_ties(fs, x):
    dfs = [lambda t: 0.0] * len(fs)
    with pytest.raises(ValueError):
        max_derivative(fs, dfs, x)


def test_max_derivative_tie_below_the_maximum_is_fine():
    fs = [lambda t: 1.0, lambda t: 1.0, lambda t: 3.0 + t]
    dfs = [lambda t: 0.0, lambda t: 0.0, lambda t: 1.0]
    assert max_derivative(fs, dfs, 0.0) == 1.0


# ----------------------------------------------------------------------------- Problem 6: dead units


@settings(max_examples=100, deadline=None)
@given(p=st.integers(1, 10), n=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_dead_units_matches_the_definition(p, n, seed):
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(p, generator=gen, dtype=F64), torch.randn(p, generator=gen, dtype=F64)
    X = torch.randn(n, generator=gen, dtype=F64)
    dead = dead_units(a, b, X)
    assert dead.dtype == torch.bool and dead.shape == (p,)
    for j in range(p):
        assert bool(dead[j]) == all(float(a[j] * X[i] + b[j]) < 0 for i in range(n))


def test_dead_units_is_strict():
    X = torch.tensor([-1.0, 0.0, 2.0], dtype=F64)
    a = torch.tensor([1.0, 0.0, 0.0, -1.0], dtype=F64)
    b = torch.tensor([-2.0, -1.0, 0.0, -2.0], dtype=F64)
    # unit 0: z = x - 2 = (-3, -2, 0) touches 0 at x = 2 -> alive; unit 1: z = -1 -> dead;
    # unit 2: z = 0 -> alive; unit 3: z = -x - 2 = (-1, -2, -4) -> dead
    assert dead_units(a, b, X).tolist() == [False, True, False, True]


def _net(p, seed, dead=()):
    """Parameters with the units in `dead` dead on X in [-1, 1] (a_j x + b_j <= |a_j| - 2 < 0)."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(p, generator=gen, dtype=F64)
    b = 0.2 * torch.randn(p, generator=gen, dtype=F64)
    u = torch.randn(p, generator=gen, dtype=F64)
    for j in dead:
        a[j] = a[j].clamp(-1.0, 1.0)
        b[j] = -2.0 - torch.rand(1, generator=gen, dtype=F64).item()
    return a, b, u


def _data(n, seed):
    gen = torch.Generator().manual_seed(seed + 1)
    X = 2 * torch.rand(n, generator=gen, dtype=F64) - 1
    return X, torch.sin(3 * X) + 0.1 * torch.randn(n, generator=gen, dtype=F64)


@settings(max_examples=15, deadline=None)
@given(p=st.integers(2, 8), seed=st.integers(0, 10**6), data=st.data())
def test_dead_relu_units_stay_frozen_and_leaky_ones_move(p, seed, data):
    dead = data.draw(st.sets(st.integers(0, p - 1), min_size=1, max_size=p - 1))
    a, b, u = _net(p, seed, dead)
    X, Y = _data(12, seed)
    mask = dead_units(a, b, X)
    assert set(torch.nonzero(mask).flatten().tolist()) >= dead
    assume(not mask.all())                                  # some unit is alive, so training moves
    a1, b1, u1 = two_layer_sgd(a, b, u, X, Y, lr=0.05, epochs=3, generator=torch.Generator().manual_seed(seed))
    # Problem 6: every parameter of a dead unit is exactly unchanged, and the unit is still dead
    assert torch.equal(a1[mask], a[mask]) and torch.equal(b1[mask], b[mask]) and torch.equal(u1[mask], u[mask])
    assert dead_units(a1, b1, X)[mask].all()
    # ... while training did something
    assert not (torch.equal(a1, a) and torch.equal(b1, b) and torch.equal(u1, u))
    # Problem 7: with the leaky ReLU the same units move (their gradient never vanishes exactly)
    a2, b2, u2 = two_layer_sgd(a, b, u, X, Y, lr=0.05, epochs=3, activation="leaky_relu",
                               generator=torch.Generator().manual_seed(seed))
    moved = (a2 != a) & (b2 != b) & (u2 != u)
    assert moved[mask].all()


def _autograd(a, b, u, x, y, activation, alpha):
    a, b, u = (t.clone().requires_grad_() for t in (a, b, u))
    z = a * x + b
    s = torch.relu(z) if activation == "relu" else torch.nn.functional.leaky_relu(z, alpha)
    loss = 0.5 * (torch.dot(u, s) - y) ** 2
    return torch.autograd.grad(loss, (a, b, u))


@settings(max_examples=150, deadline=None)
@given(p=st.integers(1, 10), seed=st.integers(0, 2**32 - 1), x=st.floats(-3, 3), y=st.floats(-3, 3),
       activation=st.sampled_from(["relu", "leaky_relu"]), alpha=st.sampled_from([0.01, 0.1, 0.3]))
def test_two_layer_grad_equals_autograd(p, seed, x, y, activation, alpha):
    gen = torch.Generator().manual_seed(seed)
    a, b, u = (torch.randn(p, generator=gen, dtype=F64) for _ in range(3))
    assume(bool(((a * x + b).abs() > 1e-6).all()))                          # no kink probed
    kwargs = {"alpha": alpha} if activation == "leaky_relu" else {}
    got = two_layer_grad(a, b, u, x, y, activation, **kwargs)
    want = _autograd(a, b, u, torch.tensor(x, dtype=F64), torch.tensor(y, dtype=F64), activation, alpha)
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g.shape == (p,)
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    # 0-dim tensor inputs give the same
    got_t = two_layer_grad(a, b, u, torch.tensor(x, dtype=F64), torch.tensor(y, dtype=F64), activation, **kwargs)
    for g, h in zip(got, got_t):
        torch.testing.assert_close(g, h, rtol=0, atol=0)


def test_two_layer_grad_default_alpha_and_dead_unit_values():
    a = torch.tensor([1.0, 1.0], dtype=F64)
    b = torch.tensor([0.5, -3.0], dtype=F64)
    u = torch.tensor([2.0, 5.0], dtype=F64)
    # x = 1: z = (1.5, -2), relu: f = 3, r = 3 - 1 = 2
    ga, gb, gu = two_layer_grad(a, b, u, 1.0, 1.0)
    assert ga.tolist() == [4.0, 0.0] and gb.tolist() == [4.0, 0.0] and gu.tolist() == [3.0, 0.0]
    # leaky, default alpha = 0.01: f = 3 + 5 * (-0.02) = 2.9, r = 1.9
    ga, gb, gu = two_layer_grad(a, b, u, 1.0, 1.0, "leaky_relu")
    torch.testing.assert_close(gb, torch.tensor([1.9 * 2, 1.9 * 5 * 0.01], dtype=F64))
    torch.testing.assert_close(gu, torch.tensor([1.9 * 1.5, 1.9 * -0.02], dtype=F64))


def test_unknown_activation_raises():
    a = b = u = torch.ones(2, dtype=F64)
    with pytest.raises(ValueError):
        two_layer_grad(a, b, u, 1.0, 0.0, "sigmoid")
    with pytest.raises(ValueError):
        two_layer_sgd(a, b, u, torch.ones(3, dtype=F64), torch.ones(3, dtype=F64), 0.1, 1, activation="tanh")


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_two_layer_sgd_leaves_inputs_unchanged_and_is_reproducible(activation):
    a, b, u = _net(5, 3)
    X, Y = _data(10, 3)
    saved = [t.clone() for t in (a, b, u, X, Y)]
    out1 = two_layer_sgd(a, b, u, X, Y, 0.05, 4, activation=activation, generator=torch.Generator().manual_seed(7))
    for t, s in zip((a, b, u, X, Y), saved):
        assert torch.equal(t, s)
    assert all(o is not t for o, t in zip(out1, (a, b, u)))
    out2 = two_layer_sgd(a, b, u, X, Y, 0.05, 4, activation=activation, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(o1, o2) for o1, o2 in zip(out1, out2))
    # zero epochs: copies of the inputs
    out0 = two_layer_sgd(a, b, u, X, Y, 0.05, 0, activation=activation)
    assert all(torch.equal(o, t) and o is not t for o, t in zip(out0, (a, b, u)))


def test_two_layer_sgd_is_one_sample_per_step_sgd():
    a, b, u = _net(4, 11)
    X, Y = _data(6, 11)
    gen = torch.Generator().manual_seed(5)
    got = two_layer_sgd(a, b, u, X, Y, 0.1, 2, generator=gen)
    # replay: the same permutations, one two_layer_grad step per sample
    gen = torch.Generator().manual_seed(5)
    ra, rb, ru = a.clone(), b.clone(), u.clone()
    for _ in range(2):
        for i in torch.randperm(6, generator=gen).tolist():
            ga, gb, gu = two_layer_grad(ra, rb, ru, X[i], Y[i])
            ra, rb, ru = ra - 0.1 * ga, rb - 0.1 * gb, ru - 0.1 * gu
    for g, r in zip(got, (ra, rb, ru)):
        torch.testing.assert_close(g, r, rtol=0, atol=0)


def test_two_layer_sgd_decreases_the_loss():
    a, b, u = _net(16, 2)
    X, Y = _data(40, 2)

    def loss(a, b, u):
        return 0.5 * ((torch.relu(a[:, None] * X[None, :] + b[:, None]) * u[:, None]).sum(0) - Y).pow(2).mean()

    trained = two_layer_sgd(a, b, u, X, Y, 0.01, 50, generator=torch.Generator().manual_seed(0))
    assert loss(*trained) < 0.5 * loss(a, b, u)
