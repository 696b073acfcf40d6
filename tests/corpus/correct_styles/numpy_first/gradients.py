"""Problems 4, 6 and 7: derivative of a max, dead ReLUs, two-layer SGD (numpy)."""
import numpy as np
import torch


def max_derivative(fs, dfs, x):
    values = np.array([float(f(x)) for f in fs], dtype=np.float64)
    top = np.max(values)
    winners = np.flatnonzero(values == top)
    if len(winners) != 1:
        raise ValueError("the maximum is attained by more than one function: not differentiable")
    I = int(winners[0])
    return float(dfs[I](x))


def dead_units(a, b, X):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    pre = a[:, None] * X[None, :] + b[:, None]  # (p, N)
    return np.all(pre < 0, axis=1)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    x = float(x)
    y = float(y)
    z = a * x + b
    if activation == "relu":
        h = np.maximum(z, 0.0)
        dh = np.where(z > 0, 1.0, 0.0)
    elif activation == "leaky_relu":
        h = np.where(z >= 0, z, alpha * z)
        dh = np.where(z >= 0, 1.0, alpha)
    else:
        raise ValueError(f"unknown activation {activation!r}")
    f = np.dot(u, h)
    r = f - y
    gu = r * h
    gz = r * u * dh
    ga = gz * x
    gb = gz
    return ga, gb, gu


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    a_new = np.array(a, dtype=np.float64)  # copies: the inputs stay unchanged
    b_new = np.array(b, dtype=np.float64)
    u_new = np.array(u, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = X.shape[0]
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator).numpy()
        for i in order:
            ga, gb, gu = two_layer_grad(a_new, b_new, u_new, X[i], Y[i], activation, alpha)
            a_new = a_new - lr * ga
            b_new = b_new - lr * gb
            u_new = u_new - lr * gu
    return a_new, b_new, u_new
