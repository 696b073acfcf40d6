"""Questions 2 and 3: softmax, Jacobians (built with loops), VJPs, temperature."""
import math

import torch


def softmax(x, dim=-1):
    x = torch.as_tensor(x, dtype=torch.float64)
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def _sigmoid_scalar(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def softmax_jacobian(x):
    s = softmax(torch.as_tensor(x, dtype=torch.float64)).tolist()
    n = len(s)
    J = []
    for i in range(n):
        row = []
        for j in range(n):
            if i == j:
                row.append(s[i] * (1.0 - s[j]))
            else:
                row.append(-s[i] * s[j])
        J.append(row)
    return torch.tensor(J, dtype=torch.float64).reshape(n, n)


def sigmoid_jacobian(x):
    xs = torch.as_tensor(x, dtype=torch.float64).tolist()
    n = len(xs)
    J = []
    for i in range(n):
        row = [0.0] * n
        s = _sigmoid_scalar(xs[i])
        row[i] = s * (1.0 - s)
        J.append(row)
    return torch.tensor(J, dtype=torch.float64).reshape(n, n)


def softmax_vjp(x, g):
    # J = diag(s) - s s^T is symmetric, so J^T g = s * g - s * (s . g)
    x = torch.as_tensor(x, dtype=torch.float64)
    g = torch.as_tensor(g, dtype=torch.float64)
    s = softmax(x)
    return s * (g - torch.dot(s, g))


def sigmoid_vjp(x, g):
    # J is diagonal: (J^T g)_i = sigma(x_i) (1 - sigma(x_i)) g_i, one pass over the lists
    xs = torch.as_tensor(x, dtype=torch.float64).tolist()
    gs = torch.as_tensor(g, dtype=torch.float64).tolist()
    out = []
    for xi, gi in zip(xs, gs):
        s = _sigmoid_scalar(xi)
        out.append(s * (1.0 - s) * gi)
    return torch.tensor(out, dtype=torch.float64)


def softmax_temperature(x, c):
    x = torch.as_tensor(x, dtype=torch.float64)
    return softmax(c * x)


def two_class_logit(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    return float(x[0]) - float(x[1])


def reduce_logits(x):
    vals = torch.as_tensor(x, dtype=torch.float64).tolist()
    y = []
    for i in range(1, len(vals)):
        y.append(vals[i] - vals[0])
    return torch.tensor(y, dtype=torch.float64)
