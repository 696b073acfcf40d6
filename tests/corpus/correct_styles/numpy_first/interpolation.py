"""Question 5: two-layer interpolating networks (numpy)."""
import numpy as np
import torch


def _sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def interpolation_matrix(X, w, b1, phi):
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b1 = np.asarray(b1, dtype=np.float64)
    t = X @ w
    pre = t[:, None] + b1[None, :]
    act = np.asarray(phi(torch.from_numpy(np.ascontiguousarray(pre))), dtype=np.float64)
    ones = np.ones((X.shape[0], 1))
    M = np.hstack([act, ones])
    return M


def _choose_direction(X):
    """A direction whose projections are distinct and as well separated as possible."""
    N, n = X.shape
    if n == 1:
        return np.ones(1)
    rng = np.random.default_rng(0)
    candidates = [np.eye(n)[i] for i in range(n)]
    candidates += list(rng.standard_normal((64, n)))
    best_u, best_score = None, -1.0
    for u in candidates:
        u = u / np.linalg.norm(u)
        t = np.sort(X @ u)
        gaps = np.diff(t)
        spread = t[-1] - t[0]
        score = gaps.min() / spread if spread > 0 else 0.0
        if score > best_score:
            best_u, best_score = u, score
    return best_u


def relu_interpolator(X, F):
    X = np.asarray(X, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    N, n = X.shape
    w = _choose_direction(X)
    t = X @ w
    t_sorted = np.sort(t)
    # unit j has its kink halfway between the j-th and (j+1)-th sorted projection
    kinks = 0.5 * (t_sorted[:-1] + t_sorted[1:])
    b1 = -kinks
    W1 = np.tile(w, (N - 1, 1))
    M = interpolation_matrix(X, w, b1, lambda z: torch.clamp(z, min=0))
    W2_tilde = np.linalg.solve(M, F)
    W2 = W2_tilde[:-1].T.copy()
    b2 = W2_tilde[-1].copy()
    return W1, b1, W2, b2


def sigmoid_interpolator(X, F, lam=50.0):
    X = np.asarray(X, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    N, n = X.shape
    u = _choose_direction(X)
    proj = X @ u
    min_gap = np.min(np.diff(np.sort(proj)))
    u = u / min_gap  # projections now at least 1 apart
    proj = X @ u
    w = lam * u
    b1 = -lam * proj[:N - 1]
    W1 = np.tile(w, (N - 1, 1))
    M = interpolation_matrix(X, w, b1, lambda z: torch.from_numpy(_sigmoid(z.numpy())))
    W2_tilde = np.linalg.solve(M, F)
    W2 = W2_tilde[:-1].T.copy()
    b2 = W2_tilde[-1].copy()
    return W1, b1, W2, b2
