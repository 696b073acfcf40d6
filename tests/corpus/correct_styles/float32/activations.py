"""Problems 5 and 7, Questions 1 and 4: activation functions and MLPs built from them (float32)."""
import torch


def _f32(t):
    return torch.as_tensor(t, dtype=torch.float32)


def relu(z):
    z = _f32(z)
    return torch.clamp(z, min=0.0)


def leaky_relu(z, alpha=0.01):
    z = _f32(z)
    return torch.where(z >= 0, z, alpha * z)


def softplus(z):
    z = _f32(z)
    return torch.clamp(z, min=0.0) + torch.log1p(torch.exp(-z.abs()))


def sigmoid(z):
    z = _f32(z)
    e = torch.exp(-z.abs())                 # <= 1, never overflows
    return torch.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(z):
    z = _f32(z)
    e = torch.exp(-2.0 * z.abs())           # tanh is odd: work with |z|
    return torch.sign(z) * (-torch.expm1(-2.0 * z.abs())) / (1.0 + e)


def heaviside(x):
    x = _f32(x)
    return (x > 0).float() + 0.5 * (x == 0).float()


def relu_derivative(z):
    return heaviside(z)


def softplus_derivative(z):
    return sigmoid(z)


def relu_via_heaviside(x):
    x = _f32(x)
    return x * heaviside(x)


def sigmoid_k(x, k):
    return sigmoid(float(k) * _f32(x))


def lipschitz_estimate(g, xs):
    xs = torch.sort(_f32(xs).flatten()).values
    keep = torch.ones_like(xs, dtype=torch.bool)
    keep[1:] = xs[1:] != xs[:-1]
    xs = xs[keep]
    gs = _f32(g(xs))
    slopes = (gs[1:] - gs[:-1]).abs() / (xs[1:] - xs[:-1])
    return slopes.max().item()


def mlp_forward(As, bs, x, act):
    y = _f32(x)
    L = len(As)
    for l in range(L):
        y = y @ _f32(As[l]).T + _f32(bs[l])
        if l < L - 1:
            y = act(y)
    return y


def sigmoid_mlp_to_tanh(As, bs):
    # sigmoid(z) = (1 + tanh(z/2)) / 2, so a sigmoid layer's output y = (1 + t) / 2
    Cs, ds = [], []
    L = len(As)
    for l in range(L):
        A, b = _f32(As[l]), _f32(bs[l])
        if l > 0:             # the input of this layer is (1 + t) / 2
            A, b = A / 2, b + A.sum(dim=1) / 2
        if l < L - 1:         # the activation's argument is halved
            A, b = A / 2, b / 2
        Cs.append(A)
        ds.append(b)
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):
    # tanh(z) = 2 sigmoid(2z) - 1, so a tanh layer's output t = 2 y - 1
    As, bs = [], []
    L = len(Cs)
    for l in range(L):
        C, d = _f32(Cs[l]), _f32(ds[l])
        if l > 0:             # the input of this layer is 2 y - 1
            C, d = 2 * C, d - C.sum(dim=1)
        if l < L - 1:         # the activation's argument is doubled
            C, d = 2 * C, 2 * d
        As.append(C)
        bs.append(d)
    return As, bs
