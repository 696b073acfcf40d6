"""Problems 4, 6 and 7: derivative of a max, dead ReLUs, two-layer SGD (explicit loops)."""
import torch


def max_derivative(fs, dfs, x):
    values = []
    for f in fs:
        values.append(float(f(x)))
    best = max(values)
    winners = []
    for i in range(len(values)):
        if values[i] == best:
            winners.append(i)
    if len(winners) > 1:
        raise ValueError(f"max attained by several functions {winners}: f is not differentiable here")
    return float(dfs[winners[0]](x))


def dead_units(a, b, X):
    a_list = torch.as_tensor(a, dtype=torch.float64).tolist()
    b_list = torch.as_tensor(b, dtype=torch.float64).tolist()
    x_list = torch.as_tensor(X, dtype=torch.float64).tolist()
    dead = []
    for j in range(len(a_list)):
        is_dead = True
        for xi in x_list:
            if a_list[j] * xi + b_list[j] >= 0:
                is_dead = False
                break
        dead.append(is_dead)
    return torch.tensor(dead, dtype=torch.bool)


def _grad_lists(a, b, u, x, y, activation, alpha):
    """The gradient on plain Python lists; returns three lists."""
    p = len(a)
    z = [a[j] * x + b[j] for j in range(p)]
    h = []
    dh = []
    for j in range(p):
        if activation == "relu":
            if z[j] > 0:
                h.append(z[j])
                dh.append(1.0)
            else:
                h.append(0.0)
                dh.append(0.0)
        elif activation == "leaky_relu":
            if z[j] >= 0:
                h.append(z[j])
                dh.append(1.0)
            else:
                h.append(alpha * z[j])
                dh.append(alpha)
        else:
            raise ValueError(f"unknown activation {activation!r}")
    f = 0.0
    for j in range(p):
        f += u[j] * h[j]
    r = f - y
    ga = []
    gb = []
    gu = []
    for j in range(p):
        ga.append(r * u[j] * dh[j] * x)
        gb.append(r * u[j] * dh[j])
        gu.append(r * h[j])
    return ga, gb, gu


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    a_l = torch.as_tensor(a, dtype=torch.float64).tolist()
    b_l = torch.as_tensor(b, dtype=torch.float64).tolist()
    u_l = torch.as_tensor(u, dtype=torch.float64).tolist()
    ga, gb, gu = _grad_lists(a_l, b_l, u_l, float(x), float(y), activation, alpha)
    return (torch.tensor(ga, dtype=torch.float64),
            torch.tensor(gb, dtype=torch.float64),
            torch.tensor(gu, dtype=torch.float64))


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    # work on Python lists: the caller's tensors are never touched
    a_l = torch.as_tensor(a, dtype=torch.float64).tolist()
    b_l = torch.as_tensor(b, dtype=torch.float64).tolist()
    u_l = torch.as_tensor(u, dtype=torch.float64).tolist()
    xs = torch.as_tensor(X, dtype=torch.float64).tolist()
    ys = torch.as_tensor(Y, dtype=torch.float64).tolist()
    n = len(xs)
    p = len(a_l)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator).tolist()
        for i in order:
            ga, gb, gu = _grad_lists(a_l, b_l, u_l, xs[i], ys[i], activation, alpha)
            for j in range(p):
                a_l[j] -= lr * ga[j]
                b_l[j] -= lr * gb[j]
                u_l[j] -= lr * gu[j]
    return (torch.tensor(a_l, dtype=torch.float64),
            torch.tensor(b_l, dtype=torch.float64),
            torch.tensor(u_l, dtype=torch.float64))
