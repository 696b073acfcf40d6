"""Problems 4, 6 and 7: the derivative of a max, dead ReLUs and a two-layer network's SGD.

The network of Problems 6 and 7 is ``f(x) = u^T sigma(a x + b)`` with a, b, u of
shape (p,) and one sample's loss ``0.5 * (f(x) - y)**2``; sigma is the ReLU
(Problem 6) or the leaky ReLU with slope ``alpha`` for negative inputs (Problem 7).
"""
import torch

_ACTIVATIONS = ("relu", "leaky_relu")


def _float_tensor(x):
    """``x`` as a floating tensor (float64 unless it already is a floating tensor)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


def _check_activation(activation):
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: use 'relu' or 'leaky_relu'")


def max_derivative(fs, dfs, x):
    """Problem 4: the derivative at ``x`` of ``f = max_i f_i``, i.e. ``dfs[I](x)`` for the unique argmax I.

    Each ``fs[i]`` / ``dfs[i]`` is called with the Python float ``x``; returns a
    Python float. Raises ``ValueError`` when the maximum is attained by more than
    one f_i (equal values), where f need not be differentiable.
    """
    if len(fs) != len(dfs) or not fs:
        raise ValueError("max_derivative: fs and dfs must be non-empty lists of the same length")
    x = float(x)
    values = [float(f(x)) for f in fs]
    top = max(values)
    winners = [i for i, v in enumerate(values) if v == top]
    if len(winners) > 1:
        raise ValueError(f"max_derivative: the maximum {top!r} at x = {x!r} is attained by "
                         f"f_{winners} (a tie): f need not be differentiable there")
    return float(dfs[winners[0]](x))


def dead_units(a, b, X):
    """Problem 6: bool tensor (p,), True where ``a_j X_i + b_j < 0`` for every sample i (a dead ReLU)."""
    a, b = _float_tensor(a).reshape(-1), _float_tensor(b).reshape(-1)
    X = _float_tensor(X).reshape(-1)
    return (a[:, None] * X[None, :] + b[:, None] < 0).all(dim=1)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    """Problems 6 and 7: ``(ga, gb, gu)``, the gradient of ``0.5 * (u^T sigma(a x + b) - y)**2`` for one sample.

    With ``z = a x + b`` and ``r = f(x) - y``: ``gu = r sigma(z)``,
    ``gb = r u sigma'(z)``, ``ga = gb x``. ReLU: sigma' = 1 for z > 0, 0 for
    z < 0 (so a dead unit gets ga = gb = gu = 0, Problem 6); leaky ReLU: 1 for
    z >= 0, ``alpha`` for z < 0 (never 0, Problem 7). Each of shape (p,).
    ``ValueError`` for another activation name.
    """
    _check_activation(activation)
    a, b, u = (_float_tensor(t).reshape(-1) for t in (a, b, u))
    x, y = _float_tensor(x).to(a.dtype), _float_tensor(y).to(a.dtype)
    z = a * x + b
    if activation == "relu":
        s = torch.relu(z)
        ds = (z > 0).to(z.dtype)
    else:
        s = torch.where(z >= 0, z, alpha * z)
        ds = torch.where(z >= 0, torch.ones_like(z), torch.full_like(z, alpha))
    r = torch.dot(u, s) - y
    gb = r * u * ds
    return gb * x, gb, r * s


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    """Problems 6 and 7: SGD on ``0.5 * (f(X_i) - Y_i)**2``, one sample a step; returns new ``(a, b, u)``.

    Each epoch draws ``torch.randperm(N, generator=generator)`` and steps through
    it: ``(a, b, u) -= lr * two_layer_grad(...)`` at the current parameters.
    The inputs are left unchanged. With ReLU a unit dead at the start never moves.
    """
    _check_activation(activation)
    a, b, u = (_float_tensor(t).reshape(-1).clone() for t in (a, b, u))
    X, Y = _float_tensor(X).reshape(-1), _float_tensor(Y).reshape(-1)
    if X.numel() != Y.numel():
        raise ValueError(f"two_layer_sgd: {X.numel()} samples but {Y.numel()} labels")
    n = X.numel()
    for _ in range(int(epochs)):
        for i in torch.randperm(n, generator=generator).tolist():
            ga, gb, gu = two_layer_grad(a, b, u, X[i], Y[i], activation, alpha)
            a, b, u = a - lr * ga, b - lr * gb, u - lr * gu
    return a, b, u
