"""Question 5: a two-layer network with N - 1 hidden units interpolates any N samples.

``y(x) = W2 @ phi(W1 @ x + b1) + b2`` with ``W1`` of shape (N - 1, n) (N - 1
identical rows ``w``), ``b1`` (N - 1,), ``W2`` (m, N - 1), ``b2`` (m,). Samples are
rows: ``X`` of shape (N, n), ``F`` of shape (N, m). Interpolation is the linear
system ``M @ [W2, b2]^T = F`` of Question 5.2.
"""
import torch

# Candidate directions tried for n > 1 (a fixed seed: the construction is deterministic).
_N_RANDOM_DIRECTIONS = 64
_DIRECTION_SEED = 0


def _float_tensor(x):
    """``x`` as a floating tensor (float64 unless it already is a floating tensor)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


def _samples(X, F):
    """X as (N, n) and F as (N, m) float64 tensors (a 1-D X or F is one column)."""
    X = _float_tensor(X).to(torch.float64)
    F = _float_tensor(F).to(torch.float64)
    if X.dim() == 1:
        X = X.unsqueeze(1)
    if F.dim() == 1:
        F = F.unsqueeze(1)
    if X.dim() != 2 or F.dim() != 2 or X.shape[0] != F.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X must be (N, n) and F (N, m) with N >= 1; got {tuple(X.shape)}, {tuple(F.shape)}")
    return X, F


def _min_gap(p):
    return float(torch.sort(p).values.diff().min()) if p.numel() > 1 else float("inf")


def _direction(X):
    """A unit vector u whose projections ``X @ u`` have the largest smallest gap among a few candidates.

    Candidates: the coordinate axes, then random directions from a fixed seed.
    Raises ValueError when no candidate separates the samples (repeated rows).
    """
    N, n = X.shape
    candidates = torch.eye(n, dtype=torch.float64)
    if n > 1:
        gen = torch.Generator().manual_seed(_DIRECTION_SEED)
        rand = torch.randn(_N_RANDOM_DIRECTIONS, n, generator=gen, dtype=torch.float64)
        candidates = torch.cat([candidates, rand / rand.norm(dim=1, keepdim=True)])
    if N == 1:
        return candidates[0]
    gaps = torch.sort(X @ candidates.T, dim=0).values.diff(dim=0).amin(dim=0)
    best = int(torch.argmax(gaps))
    if not float(gaps[best]) > 0:
        raise ValueError("the rows of X must be distinct (no direction separates them)")
    return candidates[best]


def _relu(z):
    return torch.relu(z)


def _sigmoid(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _split(W2_tilde):
    """[W2, b2]^T of shape (N, m) -> W2 (m, N - 1), b2 (m,)."""
    return W2_tilde[:-1].T.contiguous(), W2_tilde[-1].clone()


def interpolation_matrix(X, w, b1, phi):
    """Question 5.2: the N x N matrix with ``M[i, j] = phi(w @ X[i] + b1[j])`` for j < N - 1, last column ones."""
    X = _float_tensor(X)
    if X.dim() == 1:
        X = X.unsqueeze(1)
    w = _float_tensor(w).reshape(-1).to(X.dtype)
    b1 = _float_tensor(b1).reshape(-1).to(X.dtype)
    if b1.numel() != X.shape[0] - 1:
        raise ValueError(f"b1 must have N - 1 = {X.shape[0] - 1} entries, got {b1.numel()}")
    hidden = _float_tensor(phi((X @ w)[:, None] + b1[None, :])).to(X.dtype)
    return torch.cat([hidden, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)


def relu_interpolator(X, F):
    """Question 5.3: an exact two-layer ReLU interpolator ``(W1, b1, W2, b2)`` with identical rows of W1.

    Construction: a unit direction ``u`` (the best-separating of the axes and 64
    seeded random directions), sorted projections ``p_(0) < ... < p_(N-1)``, and
    unit j's kink halfway between ``p_(j)`` and ``p_(j+1)``:
    ``b1_j = -(p_(j) + p_(j+1)) / 2``. In sorted order, with the ones column
    first, M is lower triangular with diagonal ``1, (p_(r) - p_(r-1)) / 2`` (a
    per-unit epsilon, not a tiny shared one), solved exactly by substitution.
    """
    X, F = _samples(X, F)
    N, n = X.shape
    u = _direction(X)
    p = X @ u
    order = torch.argsort(p)
    ps = p[order]
    b1 = -(ps[:-1] + ps[1:]) / 2
    M = interpolation_matrix(X[order], u, b1, _relu)
    M = torch.cat([M[:, -1:], M[:, :-1]], dim=1)         # ones column first: lower triangular
    V = torch.linalg.solve_triangular(M, F[order], upper=False)
    W2_tilde = torch.cat([V[1:], V[:1]])                 # back to [W2, b2]^T
    W2, b2 = _split(W2_tilde)
    return u.repeat(N - 1, 1), b1, W2, b2


def sigmoid_interpolator(X, F, lam=50.0):
    """Question 5.4: an exact two-layer sigmoid interpolator ``(W1, b1, W2, b2)`` with identical rows of W1.

    Question 5.4's construction: ``w = lam * u`` and ``b1_j = -lam * u @ x`` at the
    samples sorted by projection, all but the smallest, where u (chosen as in
    ``relu_interpolator``) is scaled so that its projections are at least 1
    apart. As lam grows M tends to a lower triangular matrix with 1/2 on the
    diagonal (well conditioned); M is solved in full (``torch.linalg.solve``).
    """
    X, F = _samples(X, F)
    N, n = X.shape
    lam = float(lam)
    if not lam > 0:
        raise ValueError(f"sigmoid_interpolator: lam must be > 0, got {lam}")
    u = _direction(X)
    if N > 1:
        u = u / _min_gap(X @ u)                          # projections at least 1 apart
    ps = torch.sort(X @ u).values
    w = lam * u
    b1 = -lam * ps[1:]
    M = interpolation_matrix(X, w, b1, _sigmoid)
    W2_tilde = torch.linalg.solve(M, F)
    W2, b2 = _split(W2_tilde)
    return w.repeat(N - 1, 1), b1, W2, b2
