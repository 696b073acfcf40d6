"""Problems 5 and 7, Questions 1 and 4 (numpy implementation)."""
import numpy as np
import torch


def relu(z):
    z = np.asarray(z, dtype=np.float64)
    return np.maximum(z, 0.0)


def leaky_relu(z, alpha=0.01):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, z, alpha * z)


def softplus(z):
    z = np.asarray(z, dtype=np.float64)
    pos = np.maximum(z, 0.0)
    e = np.exp(-np.abs(z))
    return pos + np.log1p(e)


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(z):
    z = np.asarray(z, dtype=np.float64)
    return np.tanh(z)


def heaviside(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, 1.0, np.where(x < 0, 0.0, 0.5))


def relu_derivative(z):
    z = np.asarray(z, dtype=np.float64)
    return heaviside(z)


def softplus_derivative(z):
    z = np.asarray(z, dtype=np.float64)
    return sigmoid(z)


def relu_via_heaviside(x):
    x = np.asarray(x, dtype=np.float64)
    return x * heaviside(x)


def sigmoid_k(x, k):
    x = np.asarray(x, dtype=np.float64)
    kx = float(k) * x
    return sigmoid(kx)


def lipschitz_estimate(g, xs):
    xs = np.asarray(xs, dtype=np.float64)
    grid = np.unique(xs)  # sorted, repeated points dropped
    values = np.asarray(g(torch.from_numpy(grid)), dtype=np.float64)
    dg = np.abs(np.diff(values))
    dx = np.diff(grid)
    ratios = dg / dx
    return float(np.max(ratios))


def mlp_forward(As, bs, x, act):
    y = np.asarray(x, dtype=np.float64)
    L = len(As)
    for l in range(L):
        A = np.asarray(As[l], dtype=np.float64)
        b = np.asarray(bs[l], dtype=np.float64)
        z = y @ A.T + b
        if l < L - 1:
            y = np.asarray(act(torch.from_numpy(np.ascontiguousarray(z))), dtype=np.float64)
        else:
            y = z
    return y


def sigmoid_mlp_to_tanh(As, bs):
    # sigmoid(z) = (1 + tanh(z / 2)) / 2, so the sigmoid layer output is y = (1 + h) / 2
    # with h the output of the tanh layer.
    L = len(As)
    Cs, ds = [], []
    for l in range(L):
        A = np.array(As[l], dtype=np.float64)
        b = np.array(bs[l], dtype=np.float64)
        row_sums = A.sum(axis=1)
        if l == 0:
            C = A / 2.0
            d = b / 2.0
        elif l < L - 1:
            C = A / 4.0
            d = b / 2.0 + row_sums / 4.0
        else:
            C = A / 2.0
            d = b + row_sums / 2.0
        Cs.append(C)
        ds.append(d)
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):
    # tanh(z) = 2 sigmoid(2 z) - 1, so the tanh layer output is h = 2 y - 1.
    L = len(Cs)
    As, bs = [], []
    for l in range(L):
        C = np.array(Cs[l], dtype=np.float64)
        d = np.array(ds[l], dtype=np.float64)
        row_sums = C.sum(axis=1)
        if l == 0:
            A = 2.0 * C
            b = 2.0 * d
        elif l < L - 1:
            A = 4.0 * C
            b = 2.0 * d - 2.0 * row_sums
        else:
            A = 2.0 * C
            b = d - row_sums
        As.append(A)
        bs.append(b)
    return As, bs
