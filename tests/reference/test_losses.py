"""Problem 3: properties of reference.losses (cross-entropy)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference.losses import ce_scaled_onehot, cross_entropy

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(f=arrays(np.float64, st.integers(2, 12), elements=finite), data=st.data())
def test_ce_is_finite_and_nonnegative_for_logits_up_to_1e4(f, data):
    # Problem 3(a) says 0 < l_CE < inf. In float64 the exact value exp(-gap) underflows
    # for gaps beyond ~745, so >= 0 is what can hold there; strict > 0 is checked below.
    y = data.draw(st.integers(0, len(f) - 1))
    loss = float(cross_entropy(torch.from_numpy(f), y))
    assert math.isfinite(loss) and loss >= 0
    # equals logsumexp(f) - f_y (to the rounding of the larger of the two)
    expected = float(torch.logsumexp(torch.from_numpy(f), 0) - f[y])
    assert loss == pytest.approx(expected, rel=1e-12, abs=1e-12 * (1 + np.abs(f).max()))


@settings(max_examples=200, deadline=None)
@given(f=arrays(np.float64, st.integers(2, 12), elements=st.floats(-300, 300)), data=st.data())
def test_ce_is_strictly_positive_when_representable(f, data):
    # gaps <= 600: exp(-600) ~ 1e-261 is a normal float64, so the loss is > 0 (Problem 3(a))
    y = data.draw(st.integers(0, len(f) - 1))
    assert 0 < float(cross_entropy(torch.from_numpy(f), y)) < math.inf


def test_ce_large_logits_exact_values():
    f = torch.tensor([1e4, 0.0, -1e4], dtype=torch.float64)
    assert float(cross_entropy(f, 0)) == 0.0
    assert float(cross_entropy(f, 1)) == 1e4
    assert float(cross_entropy(f, 2)) == 2e4
    # tiny but not lost to rounding: log1p(exp(-30) + exp(-40))
    g = torch.tensor([30.0, 0.0, -10.0], dtype=torch.float64)
    assert float(cross_entropy(g, 0)) == pytest.approx(math.exp(-30) + math.exp(-40), rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 16), k=st.integers(2, 10), scale=st.sampled_from([1.0, 10.0, 1e2, 1e3]),
       seed=st.integers(0, 2**32 - 1))
def test_ce_batch_agrees_with_torch(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    f = torch.from_numpy(rng.normal(size=(n, k)) * scale)
    y = torch.from_numpy(rng.integers(0, k, size=n))
    ours = cross_entropy(f, y)
    assert ours.shape == (n,)
    theirs = torch.nn.functional.cross_entropy(f, y, reduction="none")
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12 * scale)
    # the single-sample form gives the same numbers
    for i in range(n):
        assert float(cross_entropy(f[i], int(y[i]))) == pytest.approx(float(ours[i]), rel=1e-15, abs=1e-300)


def test_ce_accepts_lists_numpy_and_tensor_labels():
    expected = -math.log(math.exp(3) / (math.exp(1) + math.exp(2) + math.exp(3)))
    for f in ([1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0])):
        for y in (2, torch.tensor(2), np.int64(2)):
            assert float(cross_entropy(f, y)) == pytest.approx(expected, rel=1e-14)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(2, 50), y_seed=st.integers(0, 1000))
def test_ce_of_scaled_onehot_tends_to_zero_and_matches_closed_form(k, y_seed):
    y = y_seed % k
    values = []
    for lam in (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 700.0):
        f = torch.zeros(k, dtype=torch.float64)
        f[y] = lam
        ce = float(cross_entropy(f, y))
        closed = ce_scaled_onehot(lam, k)
        assert isinstance(closed, float)
        assert ce == pytest.approx(closed, rel=1e-12, abs=1e-300)
        values.append(closed)
    assert values[0] == pytest.approx(math.log(k), rel=1e-15)
    assert all(a > b for a, b in zip(values, values[1:]))     # strictly decreasing in lam
    assert values[-1] < 1e-300                                  # -> 0 (Problem 3(b))


@pytest.mark.parametrize("k", [2, 3, 10, 1000])
def test_ce_scaled_onehot_full_relative_precision_at_50(k):
    expected = (k - 1) * math.exp(-50)     # log1p(t) = t (1 - t/2 + ...), t ~ 1e-19: t is exact
    assert ce_scaled_onehot(50, k) == pytest.approx(expected, rel=1e-15)
    assert ce_scaled_onehot(50.0, k) > 0


@settings(max_examples=200, deadline=None)
@given(lam=st.floats(0, 1e4), k=st.integers(2, 10**6))
def test_ce_scaled_onehot_finite_nonnegative_up_to_1e4(lam, k):
    value = ce_scaled_onehot(lam, k)
    assert math.isfinite(value) and value >= 0
    assert value <= math.log(k) + 1e-15


def test_ce_scaled_onehot_negative_lam_does_not_overflow():
    assert ce_scaled_onehot(-1e4, 5) == pytest.approx(1e4 + math.log(4), rel=1e-15)
    assert ce_scaled_onehot(torch.tensor(2.0), 3) == pytest.approx(math.log1p(2 * math.exp(-2)), rel=1e-15)
