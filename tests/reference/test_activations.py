"""Problems 5 and 7, Questions 1 and 4: properties of reference.activations."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference.activations import (
    heaviside,
    leaky_relu,
    lipschitz_estimate,
    mlp_forward,
    relu,
    relu_derivative,
    relu_via_heaviside,
    sigmoid,
    sigmoid_k,
    sigmoid_mlp_to_tanh,
    softplus,
    softplus_derivative,
    tanh,
    tanh_mlp_to_sigmoid,
)

F64 = torch.float64
big = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
vectors = arrays(np.float64, st.integers(1, 30), elements=big)
EDGES = torch.tensor([-1e4, -1e3, -745.0, -710.0, -50.0, -1.0, -0.0, 0.0, 1e-300, 1.0, 50.0, 710.0, 1e3, 1e4],
                     dtype=F64)


# ----------------------------------------------------------------------------- elementwise functions


@settings(max_examples=100, deadline=None)
@given(z=vectors)
def test_relu_is_idempotent_and_matches_max(z):
    t = torch.from_numpy(z)
    r = relu(t)
    assert torch.equal(relu(r), r)                                   # Problem 5(a)
    assert torch.equal(r, torch.clamp_min(t, 0.0))
    assert torch.equal(relu_via_heaviside(t), r)                     # Question 1.2, 0 at 0 included


@settings(max_examples=100, deadline=None)
@given(z=vectors, alpha=st.floats(0.0, 0.5))
def test_leaky_relu(z, alpha):
    t = torch.from_numpy(z)
    out = leaky_relu(t, alpha)
    assert torch.equal(out, torch.where(t >= 0, t, alpha * t))
    assert torch.equal(leaky_relu(t), torch.where(t >= 0, t, 0.01 * t))    # default alpha = 0.01


def test_edges_are_finite_and_exact():
    for fn in (relu, leaky_relu, softplus, sigmoid, tanh, heaviside, relu_derivative, softplus_derivative):
        out = fn(EDGES)
        assert out.shape == EDGES.shape and out.dtype == F64
        assert torch.isfinite(out).all(), fn.__name__
    sp = softplus(torch.tensor([1e4, -1e4, 0.0, 800.0, -800.0], dtype=F64))
    assert sp[0].item() == 1e4 and sp[3].item() == 800.0
    assert 0 <= sp[1].item() < 1e-300 and sp[2].item() == pytest.approx(math.log(2), rel=1e-15)
    assert sp[4].item() >= 0
    s = sigmoid(torch.tensor([1e4, -1e4, 0.0, -700.0], dtype=F64))
    assert s[0].item() == 1.0 and s[1].item() == 0.0 and s[2].item() == 0.5
    assert s[3].item() == pytest.approx(math.exp(-700), rel=1e-12)      # accurate in relative terms
    th = tanh(torch.tensor([1e4, -1e4], dtype=F64))
    assert th.tolist() == [1.0, -1.0]


@settings(max_examples=100, deadline=None)
@given(z=arrays(np.float64, st.integers(1, 30), elements=st.floats(-700, 700)))
def test_smooth_activations_agree_with_torch(z):
    t = torch.from_numpy(z)
    # numpy's logaddexp, not torch's softplus: that one returns z itself above its threshold 20
    torch.testing.assert_close(softplus(t), torch.from_numpy(np.logaddexp(0.0, z)), rtol=1e-13, atol=1e-300)
    torch.testing.assert_close(sigmoid(t), torch.sigmoid(t), rtol=1e-13, atol=1e-300)
    torch.testing.assert_close(tanh(t), torch.tanh(t), rtol=0, atol=0)
    torch.testing.assert_close(softplus_derivative(t), torch.sigmoid(t), rtol=1e-13, atol=1e-300)


@settings(max_examples=50, deadline=None)
@given(z=arrays(np.float64, st.integers(1, 20), elements=st.floats(-30, 30)))
def test_softplus_derivative_is_the_autograd_derivative(z):
    # autograd of the textbook formula (no overflow for |z| <= 30; the stable formula's
    # max(z, 0) and |z| have kinks at 0 where autograd picks one-sided slopes)
    t = torch.from_numpy(z).requires_grad_()
    (grad,) = torch.autograd.grad(torch.log1p(torch.exp(t)).sum(), t)
    torch.testing.assert_close(softplus_derivative(t.detach()), grad, rtol=1e-13, atol=1e-300)


def test_elementwise_functions_keep_shape_and_accept_other_inputs():
    x = torch.linspace(-3, 3, 24, dtype=F64).reshape(2, 3, 4)
    for fn in (relu, leaky_relu, softplus, sigmoid, tanh, heaviside, relu_derivative, softplus_derivative,
               relu_via_heaviside):
        assert fn(x).shape == x.shape
        assert fn(torch.tensor(0.5, dtype=F64)).shape == ()
        assert fn([0.5, -1.0]).dtype == F64 and fn(np.array([0.5])).dtype == F64
        assert fn(2).dtype == F64


# ----------------------------------------------------------------------------- Question 1


def test_heaviside_and_relu_derivative_values():
    x = torch.tensor([-1e4, -2.0, -1e-300, -0.0, 0.0, 1e-300, 3.0, 1e4], dtype=F64)
    expected = [0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert heaviside(x).tolist() == expected
    assert relu_derivative(x).tolist() == expected
    assert relu_derivative(torch.tensor(0.0, dtype=F64)).item() == 0.5        # the contract's convention
    assert heaviside(0.0).item() == 0.5


@settings(max_examples=100, deadline=None)
@given(x=st.floats(-1e3, 1e3).filter(lambda v: v != 0), h=st.floats(1e-6, 1e-3))
def test_relu_derivative_is_the_one_sided_difference_quotient(x, h):
    # Question 1.1: away from 0 the derivative is the limit of (g(x + e) - g(x)) / e
    if abs(x) <= h:
        return
    t = torch.tensor(x, dtype=F64)
    quotient = (relu(t + h) - relu(t)) / h
    assert relu_derivative(t).item() == pytest.approx(quotient.item(), abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(x=st.floats(-10, 10).filter(lambda v: abs(v) >= 1e-3))
def test_sigmoid_k_tends_to_heaviside(x):
    t = torch.tensor([x], dtype=F64)
    errors = [abs(sigmoid_k(t, k).item() - heaviside(t).item()) for k in (1.0, 10.0, 1e2, 1e4, 1e6)]
    assert all(a >= b for a, b in zip(errors, errors[1:]))     # monotone approach
    assert errors[-1] < 1e-12
    assert sigmoid_k(torch.tensor([0.0], dtype=F64), 1e6).item() == 0.5


def test_sigmoid_k_is_finite_for_large_k():
    x = torch.tensor([-1e4, -1.0, -1e-9, 0.0, 1e-9, 1.0, 1e4], dtype=F64)
    for k in (1e6, 1e10, torch.tensor(1e6, dtype=F64)):
        out = sigmoid_k(x, k)
        assert torch.isfinite(out).all()
        assert out[0].item() == 0.0 and out[-1].item() == 1.0 and out[3].item() == 0.5
    torch.testing.assert_close(sigmoid_k(x, 2.0), sigmoid(2 * x), rtol=0, atol=0)


def _bump(x, center=0.3, radius=1.0):
    """A smooth bump with compact support [center - radius, center + radius]."""
    r = (x - center) / radius
    inside = r.abs() < 1
    safe = torch.where(inside, r, torch.zeros_like(r))
    return torch.where(inside, torch.exp(-1 / (1 - safe**2)), torch.zeros_like(r))


@pytest.mark.parametrize("center, radius", [(0.3, 1.0), (-0.5, 0.8), (0.0, 2.0)])
def test_distributional_derivative_of_heaviside_is_dirac(center, radius):
    # Question 1.4: H'[phi] = -int H(x) phi'(x) dx = phi(0), for phi smooth with compact support
    x = torch.linspace(-4, 4, 800_001, dtype=F64).requires_grad_()
    phi = _bump(x, center, radius)
    (dphi,) = torch.autograd.grad(phi.sum(), x)
    x = x.detach()
    value = -torch.trapezoid(heaviside(x) * dphi, x)
    phi0 = _bump(torch.tensor(0.0, dtype=F64), center, radius)
    # the trapezoid rule errs by O(h |phi'(0)|) at the jump of H: h = 1e-5 here
    assert value.item() == pytest.approx(phi0.item(), abs=1e-5)
    assert phi0.item() > 1e-3                                        # the check is not vacuous


# ----------------------------------------------------------------------------- Problem 5(b)


def test_lipschitz_softplus_derivative_is_a_quarter():
    xs = torch.linspace(-6, 6, 12_001, dtype=F64)
    est = lipschitz_estimate(softplus_derivative, xs)
    assert isinstance(est, float)
    assert 0.25 - 1e-6 < est <= 0.25 + 1e-12


@settings(max_examples=50, deadline=None)
@given(xs=arrays(np.float64, st.integers(2, 200), elements=st.floats(-20, 20)))
def test_lipschitz_softplus_derivative_never_exceeds_a_quarter(xs):
    xs = np.round(xs, 3)                  # gaps >= 1e-3, so rounding of sigmoid stays below 1e-12
    if len(np.unique(xs)) < 2:
        return
    assert lipschitz_estimate(softplus_derivative, torch.from_numpy(xs)) <= 0.25 + 1e-9


def test_lipschitz_relu_derivative_grows_as_grid_refines():
    ns = (10, 100, 1000, 10_000)
    estimates = [lipschitz_estimate(relu_derivative, torch.arange(-n, n + 1, dtype=F64) / n) for n in ns]
    # the grid holds 0 exactly: relu'(0) = 1/2, so the jump 1/2 over spacing 1/n gives n / 2
    assert estimates == pytest.approx([n / 2 for n in ns], rel=1e-9)
    assert all(b > 5 * a for a, b in zip(estimates, estimates[1:]))


def test_lipschitz_order_repeats_and_a_single_call():
    calls = []

    def g(t):
        calls.append(t.clone())
        return t**2

    xs = torch.tensor([3.0, 1.0, 2.0, 1.0, 3.0, 0.0], dtype=F64)
    assert lipschitz_estimate(g, xs) == 5.0          # slopes 1, 3, 5 on the sorted grid 0, 1, 2, 3
    assert len(calls) == 1 and calls[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert lipschitz_estimate(lambda t: 2 * t, [0.0, 1.0]) == 2.0


@settings(max_examples=50, deadline=None)
@given(xs=arrays(np.float64, st.integers(2, 50), elements=st.floats(-10, 10)), slope=st.floats(-5, 5))
def test_lipschitz_of_a_line_is_its_slope(xs, slope):
    xs = np.round(xs, 3)                  # neighbours at least 1e-3 apart: rounding stays negligible
    if len(np.unique(xs)) < 2:
        return
    est = lipschitz_estimate(lambda t: slope * t + 1.0, torch.from_numpy(xs))
    assert est == pytest.approx(abs(slope), rel=1e-6, abs=1e-9)


# ----------------------------------------------------------------------------- Problem 5(c), Question 4


@st.composite
def mlps(draw):
    L = draw(st.integers(2, 5))
    widths = draw(st.lists(st.integers(1, 6), min_size=L + 1, max_size=L + 1))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    gen = torch.Generator().manual_seed(seed)
    As = [scale * torch.randn(widths[l + 1], widths[l], generator=gen, dtype=F64) for l in range(L)]
    bs = [scale * torch.randn(widths[l + 1], generator=gen, dtype=F64) for l in range(L)]
    batch = draw(st.integers(1, 8))
    x = 2 * torch.randn(batch, widths[0], generator=gen, dtype=F64)
    return As, bs, x


def _copies(tensors):
    return [t.clone() for t in tensors]


@settings(max_examples=100, deadline=None)
@given(net=mlps())
def test_sigmoid_to_tanh_preserves_the_map(net):
    As, bs, x = net
    As0, bs0 = _copies(As), _copies(bs)
    Cs, ds = sigmoid_mlp_to_tanh(As, bs)
    assert [C.shape for C in Cs] == [A.shape for A in As] and [d.shape for d in ds] == [b.shape for b in bs]
    y_sig = mlp_forward(As, bs, x, sigmoid)
    y_tanh = mlp_forward(Cs, ds, x, tanh)
    torch.testing.assert_close(y_tanh, y_sig, rtol=1e-10, atol=1e-10)
    assert all(torch.equal(a, b) for a, b in zip(As, As0)) and all(torch.equal(a, b) for a, b in zip(bs, bs0))
    # and back again
    As2, bs2 = tanh_mlp_to_sigmoid(Cs, ds)
    torch.testing.assert_close(mlp_forward(As2, bs2, x, sigmoid), y_sig, rtol=1e-10, atol=1e-10)


@settings(max_examples=100, deadline=None)
@given(net=mlps())
def test_tanh_to_sigmoid_preserves_the_map(net):
    Cs, ds, x = net
    Cs0, ds0 = _copies(Cs), _copies(ds)
    As, bs = tanh_mlp_to_sigmoid(Cs, ds)
    assert [A.shape for A in As] == [C.shape for C in Cs] and [b.shape for b in bs] == [d.shape for d in ds]
    torch.testing.assert_close(mlp_forward(As, bs, x, sigmoid), mlp_forward(Cs, ds, x, tanh),
                               rtol=1e-10, atol=1e-10)
    assert all(torch.equal(a, b) for a, b in zip(Cs, Cs0)) and all(torch.equal(a, b) for a, b in zip(ds, ds0))


def test_conversion_two_layers_matches_question_4():
    # Question 4 (L = 2): C1 = A1 / 2, d1 = b1 / 2, C2 = A2 / 2, d2 = b2 + A2 1 / 2
    gen = torch.Generator().manual_seed(4)
    A1, b1 = torch.randn(3, 2, generator=gen, dtype=F64), torch.randn(3, generator=gen, dtype=F64)
    A2, b2 = torch.randn(2, 3, generator=gen, dtype=F64), torch.randn(2, generator=gen, dtype=F64)
    (C1, C2), (d1, d2) = sigmoid_mlp_to_tanh([A1, A2], [b1, b2])
    torch.testing.assert_close(C1, A1 / 2)
    torch.testing.assert_close(d1, b1 / 2)
    torch.testing.assert_close(C2, A2 / 2)
    torch.testing.assert_close(d2, b2 + A2.sum(dim=1) / 2)


def test_mlp_forward_single_sample_and_batch():
    gen = torch.Generator().manual_seed(1)
    As = [torch.randn(4, 3, generator=gen, dtype=F64), torch.randn(2, 4, generator=gen, dtype=F64)]
    bs = [torch.randn(4, generator=gen, dtype=F64), torch.randn(2, generator=gen, dtype=F64)]
    X = torch.randn(5, 3, generator=gen, dtype=F64)
    Y = mlp_forward(As, bs, X, tanh)
    assert Y.shape == (5, 2)
    for i in range(5):
        y = mlp_forward(As, bs, X[i], tanh)
        assert y.shape == (2,)
        torch.testing.assert_close(y, As[1] @ torch.tanh(As[0] @ X[i] + bs[0]) + bs[1])
        torch.testing.assert_close(Y[i], y)
