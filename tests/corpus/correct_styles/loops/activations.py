"""Problems 5 and 7, Questions 1 and 4."""
import torch


def relu(z):
    z = torch.as_tensor(z, dtype=torch.float64)
    return torch.where(z > 0, z, torch.zeros_like(z))


def leaky_relu(z, alpha=0.01):
    z = torch.as_tensor(z, dtype=torch.float64)
    return torch.where(z >= 0, z, alpha * z)


def softplus(z):
    z = torch.as_tensor(z, dtype=torch.float64)
    return torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z)))


def sigmoid(z):
    z = torch.as_tensor(z, dtype=torch.float64)
    return torch.sigmoid(z)


def tanh(z):
    z = torch.as_tensor(z, dtype=torch.float64)
    return torch.tanh(z)


def heaviside(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    return torch.heaviside(x, torch.tensor(0.5, dtype=torch.float64))


def relu_derivative(z):
    return heaviside(z)


def softplus_derivative(z):
    return sigmoid(z)


def relu_via_heaviside(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    return x * heaviside(x)


def sigmoid_k(x, k):
    x = torch.as_tensor(x, dtype=torch.float64)
    return torch.sigmoid(k * x)


def lipschitz_estimate(g, xs):
    values = sorted(torch.as_tensor(xs, dtype=torch.float64).tolist())
    points = [values[0]]
    for v in values[1:]:
        if v != points[-1]:
            points.append(v)
    grid = torch.tensor(points, dtype=torch.float64)
    gvals = torch.as_tensor(g(grid), dtype=torch.float64).tolist()
    best = 0.0
    for i in range(len(points) - 1):
        slope = abs(gvals[i + 1] - gvals[i]) / (points[i + 1] - points[i])
        if slope > best:
            best = slope
    return float(best)


def mlp_forward(As, bs, x, act):
    y = torch.as_tensor(x, dtype=torch.float64)
    L = len(As)
    for l in range(L):
        A = torch.as_tensor(As[l], dtype=torch.float64)
        b = torch.as_tensor(bs[l], dtype=torch.float64)
        z = y @ A.T + b
        if l < L - 1:
            y = act(z)
        else:
            y = z
    return y


def sigmoid_mlp_to_tanh(As, bs):
    # sigma(z) = (1 + tanh(z/2)) / 2.  Write the sigmoid net's hidden output as
    # y_l = (1 + h_l) / 2 with h_l the tanh net's hidden output.
    L = len(As)
    Cs = []
    ds = []
    for l in range(L):
        A = torch.as_tensor(As[l], dtype=torch.float64).clone()
        b = torch.as_tensor(bs[l], dtype=torch.float64).clone()
        if l == 0:
            # tanh((A x + b) / 2)
            C = A / 2
            d = b / 2
        else:
            # A y + b = A (1 + h) / 2 + b = (A / 2) h + (b + A 1 / 2)
            C = A / 2
            d = b + A.sum(dim=1) / 2
            if l < L - 1:
                # hidden layer: the tanh takes half of the sigmoid's input
                C = C / 2
                d = d / 2
        Cs.append(C)
        ds.append(d)
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):
    # tanh(z) = 2 sigma(2 z) - 1: the tanh net's hidden output is h_l = 2 y_l - 1.
    L = len(Cs)
    As = []
    bs = []
    for l in range(L):
        C = torch.as_tensor(Cs[l], dtype=torch.float64).clone()
        d = torch.as_tensor(ds[l], dtype=torch.float64).clone()
        if l == 0:
            A = C
            b = d
        else:
            # C h + d = C (2 y - 1) + d = (2 C) y + (d - C 1)
            A = 2 * C
            b = d - C.sum(dim=1)
        if l < L - 1:
            A = 2 * A
            b = 2 * b
        As.append(A)
        bs.append(b)
    return As, bs
