"""Question 5: properties of reference.interpolation."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.interpolation import interpolation_matrix, relu_interpolator, sigmoid_interpolator

F64 = torch.float64


def _sigmoid(z):
    return torch.sigmoid(z)


@st.composite
def samples(draw):
    """X (N, n) whose projections on some unit direction are >= 1e-2 apart, F (N, m)."""
    N = draw(st.integers(2, 20))
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = torch.Generator().manual_seed(seed)
    gaps = 1e-2 + draw(st.sampled_from([0.0, 0.05, 1.0])) * torch.rand(N, generator=gen, dtype=F64)
    first = torch.cumsum(gaps, 0) - draw(st.floats(-5, 5))
    first = first[torch.randperm(N, generator=gen)]
    X = torch.cat([first[:, None], draw(st.sampled_from([0.0, 0.1, 3.0])) * torch.randn(N, n - 1, generator=gen,
                                                                                        dtype=F64)], dim=1)
    if n > 1 and draw(st.booleans()):                       # hide the separating direction
        Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=F64))
        X = X @ Q
    F = draw(st.sampled_from([1e-3, 1.0, 1e3])) * torch.randn(N, m, generator=gen, dtype=F64)
    return X, F


def _check_network(params, X, F, phi):
    W1, b1, W2, b2 = params
    N, n = X.shape
    m = F.shape[1]
    assert W1.shape == (N - 1, n) and b1.shape == (N - 1,) and W2.shape == (m, N - 1) and b2.shape == (m,)
    assert all(t.dtype == F64 for t in params)
    assert torch.equal(W1, W1[:1].expand_as(W1))                 # identical rows
    # the network, sample by sample, as the contract writes it
    scale = F.abs().max().item()
    for i in range(N):
        y = W2 @ phi(W1 @ X[i] + b1) + b2
        assert (y - F[i]).abs().max().item() <= 1e-6 * scale, (i, y, F[i])


@settings(max_examples=120, deadline=None)
@given(data=samples())
def test_relu_interpolator_is_exact(data):
    X, F = data
    X0, F0 = X.clone(), F.clone()
    params = relu_interpolator(X, F)
    _check_network(params, X, F, torch.relu)
    assert torch.equal(X, X0) and torch.equal(F, F0)


@settings(max_examples=120, deadline=None)
@given(data=samples())
def test_sigmoid_interpolator_is_exact(data):
    X, F = data
    params = sigmoid_interpolator(X, F)
    _check_network(params, X, F, _sigmoid)


@settings(max_examples=30, deadline=None)
@given(data=samples(), lam=st.sampled_from([0.5, 5.0, 1e3, 1e4]))
def test_sigmoid_interpolator_other_lams(data, lam):
    X, F = data
    W1, b1, W2, b2 = sigmoid_interpolator(X, F, lam=lam)
    _check_network((W1, b1, W2, b2), X, F, _sigmoid)
    # Question 5.4's form: w = lam u, b1_j = -lam u @ x^(j) at samples x^(j)
    u = W1[0] / lam
    proj = X @ u
    for bj in b1:
        assert (proj + bj / lam).abs().min().item() <= 1e-9 * (1 + proj.abs().max().item())


def test_interpolators_accept_a_1d_input_and_lists():
    X = torch.tensor([[0.0], [0.5], [-1.0], [2.0]], dtype=F64)
    F = torch.tensor([[1.0], [-2.0], [0.5], [3.0]], dtype=F64)
    for fn, phi in ((relu_interpolator, torch.relu), (sigmoid_interpolator, _sigmoid)):
        _check_network(fn(X, F), X, F, phi)
        _check_network(fn(X.tolist(), F.tolist()), X, F, phi)


def test_relu_interpolator_many_close_samples():
    # the case a single tiny epsilon gets wrong: 20 samples 1e-2 apart, large labels
    X = (torch.arange(20, dtype=F64) * 1e-2)[torch.randperm(20, generator=torch.Generator().manual_seed(0))]
    X = X[:, None]
    F = 1e3 * torch.cos(7 * X) + torch.linspace(0, 1, 20, dtype=F64)[:, None]
    _check_network(relu_interpolator(X, F), X, F, torch.relu)
    _check_network(sigmoid_interpolator(X, F), X, F, _sigmoid)


def test_interpolation_matrix_definition():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(5, 3, generator=gen, dtype=F64)
    w = torch.randn(3, generator=gen, dtype=F64)
    b1 = torch.randn(4, generator=gen, dtype=F64)
    for phi in (torch.relu, torch.tanh, _sigmoid):
        M = interpolation_matrix(X, w, b1, phi)
        assert M.shape == (5, 5)
        assert torch.equal(M[:, -1], torch.ones(5, dtype=F64))
        for i in range(5):
            for j in range(4):
                assert M[i, j].item() == pytest.approx(phi(w @ X[i] + b1[j]).item(), rel=1e-14, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(data=samples())
def test_relu_construction_is_triangular(data):
    # Question 5.3: with the samples sorted by w @ x and the units by their kink, M is
    # triangular with a non-zero diagonal (ones column first)
    X, F = data
    W1, b1, _W2, _b2 = relu_interpolator(X, F)
    w = W1[0]
    rows = torch.argsort(X @ w)
    cols = torch.argsort(-b1)                                   # kinks -b1 ascending
    M = interpolation_matrix(X[rows], w, b1[cols], torch.relu)
    T = torch.cat([M[:, -1:], M[:, :-1]], dim=1)
    assert torch.equal(torch.triu(T, diagonal=1), torch.zeros_like(T))
    assert (torch.diagonal(T) > 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_construction_tends_to_triangular(seed):
    # Question 5.4: w = lam u, b1_j = -lam u @ x^(j) (samples sorted by u @ x, the first N - 1):
    # the diagonal is sigmoid(0) = 1/2 for every lam and the entries above it tend to 0
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(8, 2, generator=gen, dtype=F64)
    u = torch.randn(2, generator=gen, dtype=F64)
    X = X[torch.argsort(X @ u)]
    above = []
    for lam in (1.0, 10.0, 100.0, 1e3, 1e4):
        M = interpolation_matrix(X, lam * u, -lam * (X[:-1] @ u), _sigmoid)
        H = M[:, :-1]                                           # H[i, j] = sigma(lam u @ (x_i - x_j))
        assert torch.allclose(torch.diagonal(H), torch.full((7,), 0.5, dtype=F64), atol=1e-12)
        above.append(torch.triu(H, diagonal=1).max().item())
        below = H[torch.tril(torch.ones_like(H, dtype=torch.bool), diagonal=-1)]
        assert (below > 0.5).all()                              # and the entries below tend to 1
    assert all(b < a for a, b in zip(above, above[1:]))
    assert above[-1] < 1e-12 and 0 < above[0] < 0.5


def test_repeated_rows_are_rejected():
    X = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0]], dtype=F64)
    F = torch.ones(3, 1, dtype=F64)
    for fn in (relu_interpolator, sigmoid_interpolator):
        with pytest.raises(ValueError):
            fn(X, F)
