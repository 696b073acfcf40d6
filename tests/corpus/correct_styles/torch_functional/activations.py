"""Problems 5 and 7, Questions 1 and 4: activation functions and MLPs built from them."""
import torch
import torch.nn.functional as F


def relu(z):
    return F.relu(torch.as_tensor(z))


def leaky_relu(z, alpha=0.01):
    return F.leaky_relu(torch.as_tensor(z), negative_slope=alpha)


def softplus(z):
    # F.softplus returns z itself above `threshold`; 20 (the default) is too early for
    # double precision (log1p(e^-20) ~ 2e-9), 40 is past the rounding of z.
    return F.softplus(torch.as_tensor(z), beta=1.0, threshold=40.0)


def sigmoid(z):
    return torch.sigmoid(torch.as_tensor(z))


def tanh(z):
    return torch.tanh(torch.as_tensor(z))


def heaviside(x):
    x = torch.as_tensor(x)
    return torch.heaviside(x, torch.tensor(0.5, dtype=x.dtype))


def relu_derivative(z):
    return heaviside(z)


def softplus_derivative(z):
    return torch.sigmoid(torch.as_tensor(z))


def relu_via_heaviside(x):
    x = torch.as_tensor(x)
    return x * heaviside(x)


def sigmoid_k(x, k):
    return torch.sigmoid(k * torch.as_tensor(x))


def lipschitz_estimate(g, xs):
    xs = torch.unique(torch.as_tensor(xs).flatten())   # sorted, repeats dropped
    gx = g(xs)
    return (torch.diff(gx).abs() / torch.diff(xs)).max().item()


def mlp_forward(As, bs, x, act):
    y = x
    for A, b in zip(As[:-1], bs[:-1]):
        y = act(F.linear(y, A, b))
    return F.linear(y, As[-1], bs[-1])


def _convert(Ws, cs, inner, outer, shift):
    """Rewrite each layer for an activation `act2` with act1(z) = outer * act2(inner * z) + shift."""
    new_W, new_c = [], []
    scale, offset = 1.0, 0.0   # y_{l-1} (old net) = scale * y'_{l-1} (new net) + offset
    L = len(Ws)
    for l, (W, c) in enumerate(zip(Ws, cs)):
        W_eff = scale * W
        c_eff = c + offset * W.sum(dim=1)
        if l < L - 1:
            new_W.append(inner * W_eff)
            new_c.append(inner * c_eff)
            scale, offset = outer, shift
        else:
            new_W.append(W_eff)
            new_c.append(c_eff)
    return new_W, new_c


def sigmoid_mlp_to_tanh(As, bs):
    # sigmoid(z) = tanh(z / 2) / 2 + 1 / 2
    return _convert(As, bs, inner=0.5, outer=0.5, shift=0.5)


def tanh_mlp_to_sigmoid(Cs, ds):
    # tanh(z) = 2 sigmoid(2 z) - 1
    return _convert(Cs, ds, inner=2.0, outer=2.0, shift=-1.0)
