"""Problems 4, 6 and 7: the derivative of a max, dead ReLUs and a two-layer network's SGD (float32)."""
import torch


def _f32(t):
    return torch.as_tensor(t, dtype=torch.float32)


def max_derivative(fs, dfs, x):
    # the tie test compares the values as given (rounding them to float32 could invent ties)
    values = [float(f(x)) for f in fs]
    best = max(values)
    winners = [i for i, v in enumerate(values) if v == best]
    if len(winners) > 1:
        raise ValueError("the maximum is attained by more than one function: f may not be differentiable")
    return _f32(float(dfs[winners[0]](x))).item()


def dead_units(a, b, X):
    # a yes/no answer on the exact inputs: "< 0" must not be decided on float32-rounded values
    pre = a[:, None] * X[None, :] + b[:, None]
    return (pre < 0).all(dim=1)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    a, b, u = _f32(a), _f32(b), _f32(u)
    x, y = _f32(x), _f32(y)
    z = a * x + b
    if activation == "relu":
        h = torch.clamp(z, min=0.0)
        dh = (z > 0).float()
    elif activation == "leaky_relu":
        h = torch.where(z >= 0, z, alpha * z)
        dh = torch.where(z >= 0, torch.ones_like(z), torch.full_like(z, alpha))
    else:
        raise ValueError("activation must be 'relu' or 'leaky_relu'")
    r = (u * h).sum() - y              # f(x) - y
    gu = r * h
    gb = r * u * dh
    ga = gb * x
    return ga, gb, gu


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    a, b, u = _f32(a).clone(), _f32(b).clone(), _f32(u).clone()
    X, Y = _f32(X), _f32(Y)
    n = X.shape[0]
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        for i in order:
            ga, gb, gu = two_layer_grad(a, b, u, X[i], Y[i], activation, alpha)
            a = a - lr * ga
            b = b - lr * gb
            u = u - lr * gu
    return a, b, u
