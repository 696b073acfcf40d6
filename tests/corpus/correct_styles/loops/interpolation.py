"""Question 5: two-layer interpolating networks, built with loops and one linear solve."""
import math

import torch


def interpolation_matrix(X, w, b1, phi):
    X = torch.as_tensor(X, dtype=torch.float64)
    rows = X.tolist()
    w_l = torch.as_tensor(w, dtype=torch.float64).tolist()
    b_l = torch.as_tensor(b1, dtype=torch.float64).tolist()
    N = len(rows)
    pre = []
    for i in range(N):
        t = 0.0
        for c in range(len(w_l)):
            t += w_l[c] * rows[i][c]
        pre.append([t + b_l[j] for j in range(len(b_l))])
    pre = torch.tensor(pre, dtype=torch.float64).reshape(N, len(b_l))
    act = torch.as_tensor(phi(pre), dtype=torch.float64)
    M = torch.ones(N, len(b_l) + 1, dtype=torch.float64)
    for i in range(N):
        for j in range(len(b_l)):
            M[i, j] = act[i, j]
    return M


def _projections(rows, u):
    out = []
    for r in rows:
        t = 0.0
        for c in range(len(u)):
            t += u[c] * r[c]
        out.append(t)
    return out


def _min_gap(values):
    s = sorted(values)
    gap = math.inf
    for i in range(len(s) - 1):
        gap = min(gap, s[i + 1] - s[i])
    return gap


def _direction(rows):
    """A direction with distinct projections; the best of a few tries (largest relative gap)."""
    n = len(rows[0])
    if n == 1:
        return [1.0]
    gen = torch.Generator().manual_seed(12345)
    best, best_score = None, -1.0
    for trial in range(50):
        u = torch.randn(n, generator=gen, dtype=torch.float64).tolist()
        norm = math.sqrt(sum(c * c for c in u))
        u = [c / norm for c in u]
        t = _projections(rows, u)
        spread = max(t) - min(t)
        score = _min_gap(t) / spread if spread > 0 else 0.0
        if score > best_score:
            best, best_score = u, score
    return best


def _split(W2_tilde, N, m):
    W2 = torch.zeros(m, N - 1, dtype=torch.float64)
    for k in range(m):
        for j in range(N - 1):
            W2[k, j] = W2_tilde[j, k]
    b2 = torch.zeros(m, dtype=torch.float64)
    for k in range(m):
        b2[k] = W2_tilde[N - 1, k]
    return W2, b2


def relu_interpolator(X, F):
    X = torch.as_tensor(X, dtype=torch.float64)
    F = torch.as_tensor(F, dtype=torch.float64)
    rows = X.tolist()
    N, m = F.shape
    w = _direction(rows)
    t = sorted(_projections(rows, w))
    # unit j switches on halfway between the j-th and (j+1)-th smallest projection:
    # its own epsilon, half the local gap, keeps M well conditioned
    b1 = torch.zeros(N - 1, dtype=torch.float64)
    for j in range(N - 1):
        b1[j] = -(t[j] + t[j + 1]) / 2
    W1 = torch.zeros(N - 1, len(w), dtype=torch.float64)
    for j in range(N - 1):
        for c in range(len(w)):
            W1[j, c] = w[c]
    M = interpolation_matrix(X, torch.tensor(w, dtype=torch.float64), b1, torch.relu)
    W2_tilde = torch.linalg.solve(M, F)
    W2, b2 = _split(W2_tilde, N, m)
    return W1, b1, W2, b2


def sigmoid_interpolator(X, F, lam=50.0):
    X = torch.as_tensor(X, dtype=torch.float64)
    F = torch.as_tensor(F, dtype=torch.float64)
    rows = X.tolist()
    N, m = F.shape
    u = _direction(rows)
    # scale u so that lam times the smallest gap is 40: sigma(-40) ~ 4e-18, so M is
    # triangular up to rounding with 1/2 on its diagonal
    scale = 40.0 / (lam * _min_gap(_projections(rows, u)))
    u = [c * scale for c in u]
    t = _projections(rows, u)
    W1 = torch.zeros(N - 1, len(u), dtype=torch.float64)
    b1 = torch.zeros(N - 1, dtype=torch.float64)
    for j in range(N - 1):
        for c in range(len(u)):
            W1[j, c] = lam * u[c]
        b1[j] = -lam * t[j]
    M = interpolation_matrix(X, W1[0], b1, torch.sigmoid)
    W2_tilde = torch.linalg.solve(M, F)
    W2, b2 = _split(W2_tilde, N, m)
    return W1, b1, W2, b2
