"""Questions 2 and 3: properties of reference.softmax."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference.softmax import (
    reduce_logits,
    sigmoid_jacobian,
    sigmoid_vjp,
    softmax,
    softmax_jacobian,
    softmax_temperature,
    softmax_vjp,
    two_class_logit,
)

F64 = torch.float64
logits = arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e4, 1e4))
moderate = arrays(np.float64, st.integers(1, 10), elements=st.floats(-30, 30))


# ----------------------------------------------------------------------------- Question 2


@settings(max_examples=150, deadline=None)
@given(x=logits)
def test_softmax_is_a_distribution_for_logits_up_to_1e4(x):
    s = softmax(torch.from_numpy(x))
    assert s.shape == x.shape and torch.isfinite(s).all() and (s >= 0).all()
    assert s.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert s[int(np.argmax(x))].item() >= 1.0 / len(x) - 1e-15


@settings(max_examples=100, deadline=None)
@given(x=moderate)
def test_softmax_agrees_with_torch(x):
    t = torch.from_numpy(x)
    torch.testing.assert_close(softmax(t), torch.softmax(t, dim=-1), rtol=1e-12, atol=1e-300)


def test_softmax_dim_and_edges():
    x = torch.randn(3, 4, 5, dtype=F64, generator=torch.Generator().manual_seed(0)) * 1e3
    for dim in (0, 1, 2, -1):
        s = softmax(x, dim=dim)
        torch.testing.assert_close(s.sum(dim=dim), torch.ones_like(s.sum(dim=dim)))
        torch.testing.assert_close(s, torch.softmax(x, dim=dim), rtol=1e-12, atol=1e-300)
    assert softmax(torch.tensor([1e4, 0.0], dtype=F64)).tolist() == [1.0, 0.0]
    assert softmax([1e4, 1e4]).tolist() == [0.5, 0.5]


@settings(max_examples=100, deadline=None)
@given(x=moderate, c=st.floats(-1e4, 1e4))
def test_softmax_translation_invariance(x, c):
    t = torch.from_numpy(x)
    torch.testing.assert_close(softmax(t + c), softmax(t), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(x=moderate)
def test_jacobians_equal_autograd(x):
    t = torch.from_numpy(x)
    js = softmax_jacobian(t)
    assert js.shape == (len(x), len(x))
    torch.testing.assert_close(js, torch.autograd.functional.jacobian(lambda v: torch.softmax(v, -1), t),
                               rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(sigmoid_jacobian(t), torch.autograd.functional.jacobian(torch.sigmoid, t),
                               rtol=1e-12, atol=1e-14)
    # Question 2.1, entrywise: S_i (delta_ij - S_j); rows of the softmax Jacobian sum to 0
    s = torch.softmax(t, -1)
    torch.testing.assert_close(js, s[:, None] * (torch.eye(len(x), dtype=F64) - s[None, :]), rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(js.sum(dim=1), torch.zeros(len(x), dtype=F64), rtol=0, atol=1e-15)


def test_sigmoid_jacobian_is_finite_at_large_inputs():
    j = sigmoid_jacobian(torch.tensor([-1e4, 0.0, 1e4, -40.0], dtype=F64))
    assert torch.isfinite(j).all()
    assert torch.diagonal(j).tolist()[:3] == [0.0, 0.25, 0.0]
    assert j[3, 3].item() == pytest.approx(math.exp(-40), rel=1e-12)      # no 1 - sigma cancellation


@settings(max_examples=60, deadline=None)
@given(x=moderate, data=st.data())
def test_vjps_equal_jacobian_transpose_times_g(x, data):
    t = torch.from_numpy(x)
    g = torch.from_numpy(data.draw(arrays(np.float64, len(x), elements=st.floats(-10, 10))))
    torch.testing.assert_close(softmax_vjp(t, g), softmax_jacobian(t).T @ g, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(sigmoid_vjp(t, g), sigmoid_jacobian(t).T @ g, rtol=1e-10, atol=1e-12)
    # and equal autograd's vector-Jacobian product
    tt = t.clone().requires_grad_()
    (want,) = torch.autograd.grad(torch.softmax(tt, -1), tt, g)
    torch.testing.assert_close(softmax_vjp(t, g), want, rtol=1e-10, atol=1e-12)


def test_vjps_at_one_million():
    n = 10**6
    gen = torch.Generator().manual_seed(0)
    x = 5 * torch.randn(n, generator=gen, dtype=F64)
    g = torch.randn(n, generator=gen, dtype=F64)
    out = softmax_vjp(x, g)
    assert out.shape == (n,) and torch.isfinite(out).all()
    # J^T g sums to 0 (every column of J sums to 0), relative to the size of the terms
    s = torch.softmax(x, -1)
    assert abs(out.sum().item()) <= 1e-10 * (s * g.abs()).sum().item()
    # a few entries against the closed form, with s . g accumulated in chunks
    dot = sum(torch.dot(s[i:i + 10**6], g[i:i + 10**6]).item() for i in range(0, n, 10**6))
    idx = torch.tensor([0, 1, 12345, n // 2, n - 1]).tolist() + [int(torch.argmax(x))]
    for i in idx:
        assert out[i].item() == pytest.approx(s[i].item() * (g[i].item() - dot), rel=1e-9, abs=1e-300)
    del s
    sv = sigmoid_vjp(x, g)
    assert sv.shape == (n,) and torch.isfinite(sv).all()
    for i in idx:
        si = 1 / (1 + math.exp(-x[i].item()))
        assert sv[i].item() == pytest.approx(si * (1 - si) * g[i].item(), rel=1e-9)


# ----------------------------------------------------------------------------- Question 3


def test_softmax_temperature_limits():
    x = torch.tensor([1.0, 3.0, -2.0, 3.0], dtype=F64)
    assert softmax_temperature(x, 0).tolist() == [0.25] * 4
    assert softmax_temperature(x, 0.0).tolist() == [0.25] * 4
    assert softmax_temperature(x, 1e6).tolist() == [0.0, 0.5, 0.0, 0.5]
    assert softmax_temperature(torch.tensor([1.0, 1.0, 0.0], dtype=F64), 1e6).tolist() == [0.5, 0.5, 0.0]
    assert softmax_temperature(torch.tensor([2.0, 7.0, 1.0], dtype=F64), 1e6).tolist() == [0.0, 1.0, 0.0]
    torch.testing.assert_close(softmax_temperature(x, 1.0), torch.softmax(x, -1), rtol=1e-14, atol=0)
    torch.testing.assert_close(softmax_temperature(x, 2.5), torch.softmax(2.5 * x, -1), rtol=1e-14, atol=0)


@settings(max_examples=150, deadline=None)
@given(x=logits, c=st.sampled_from([0.0, 1e-3, 1.0, 10.0, 1e3, 1e6]))
def test_softmax_temperature_never_nan(x, c):
    s = softmax_temperature(torch.from_numpy(x), c)
    assert torch.isfinite(s).all() and (s >= 0).all()
    assert s.sum().item() == pytest.approx(1.0, abs=1e-12)
    if c == 1e6:
        # the limit: the maxima share the mass equally wherever the runner-up is a visible gap away
        top = x.max()
        ties = x == top
        rest = x[~ties]
        if rest.size == 0 or top - rest.max() > 1e-3:
            expected = np.where(ties, 1.0 / ties.sum(), 0.0)
            np.testing.assert_allclose(s.numpy(), expected, rtol=1e-12, atol=0)


@settings(max_examples=100, deadline=None)
@given(x=arrays(np.float64, 2, elements=st.floats(-1e4, 1e4)))
def test_two_class_logit(x):
    z = two_class_logit(torch.from_numpy(x))
    assert isinstance(z, float)
    s = softmax(torch.from_numpy(x))
    sz = torch.sigmoid(torch.tensor(z, dtype=F64))
    torch.testing.assert_close(s, torch.stack([sz, 1 - sz]), rtol=1e-12, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 10), elements=st.floats(-300, 300)))
def test_reduce_logits(x):
    t = torch.from_numpy(x)
    y = reduce_logits(t)
    assert y.shape == (len(x) - 1,)
    torch.testing.assert_close(softmax(torch.cat([y.new_zeros(1), y])), softmax(t), rtol=1e-10, atol=1e-300)
