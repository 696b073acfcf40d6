"""Problems 4, 6 and 7: the derivative of a max, dead ReLUs and a two-layer network's SGD."""
import torch
import torch.nn.functional as F
from torch.func import grad


def max_derivative(fs, dfs, x):
    values = torch.stack([torch.as_tensor(f(x), dtype=torch.float64) for f in fs])
    winners = torch.nonzero(values == values.max()).flatten()
    if winners.numel() != 1:
        raise ValueError(f"max is attained by {winners.numel()} functions at x = {x}: not differentiable")
    return float(dfs[winners.item()](x))


def dead_units(a, b, X):
    pre = torch.outer(a, X) + b.unsqueeze(1)   # (p, N)
    return (pre < 0).all(dim=1)


def _loss(a, b, u, x, y, activation, alpha):
    z = a * x + b
    h = F.relu(z) if activation == "relu" else F.leaky_relu(z, negative_slope=alpha)
    return 0.5 * (torch.dot(u, h) - y) ** 2


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    if activation not in ("relu", "leaky_relu"):
        raise ValueError(f"unknown activation {activation!r}")
    x = torch.as_tensor(x, dtype=a.dtype)
    y = torch.as_tensor(y, dtype=a.dtype)
    return grad(_loss, argnums=(0, 1, 2))(a.detach(), b.detach(), u.detach(), x, y, activation, alpha)


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    a, b, u = a.detach().clone(), b.detach().clone(), u.detach().clone()
    n = X.shape[0]
    for _ in range(epochs):
        for i in torch.randperm(n, generator=generator).tolist():
            ga, gb, gu = two_layer_grad(a, b, u, X[i], Y[i], activation, alpha)
            a, b, u = a - lr * ga, b - lr * gb, u - lr * gu
    return a, b, u
