"""Problems 5 and 7, Questions 1 and 4: activation functions and MLPs built from them.

Elementwise functions take a tensor (or array, list, number) of any shape and
return a float tensor of the same shape; they are finite for |z| up to 1e4.
"""
import torch


def _float_tensor(x):
    """``x`` as a floating tensor (float64 unless it already is a floating tensor)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


def relu(z):
    """Problem 5: the ReLU ``max(0, z)``, elementwise (idempotent: relu(relu(z)) == relu(z))."""
    return torch.relu(_float_tensor(z))


def leaky_relu(z, alpha=0.01):
    """Problem 7: the leaky ReLU, elementwise: ``z`` for ``z >= 0``, ``alpha * z`` otherwise."""
    z = _float_tensor(z)
    return torch.where(z >= 0, z, alpha * z)


def softplus(z):
    """Problem 5(b): ``log(1 + exp(z))`` as ``max(z, 0) + log1p(exp(-|z|))``, elementwise.

    softplus(1e4) == 1e4 exactly; softplus(-1e4) is 0 (exp(-1e4) underflows), never nan.
    """
    z = _float_tensor(z)
    return torch.clamp_min(z, 0) + torch.log1p(torch.exp(-z.abs()))


def sigmoid(z):
    """Problem 5(c): ``1 / (1 + exp(-z))``, elementwise, only ever exponentiating ``-|z|``.

    Values in [0, 1], accurate in relative terms for large negative z, never nan.
    """
    z = _float_tensor(z)
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def tanh(z):
    """Problem 5(c): tanh ``(1 - exp(-2z)) / (1 + exp(-2z))``, elementwise (torch.tanh: stable)."""
    return torch.tanh(_float_tensor(z))


def heaviside(x):
    """Question 1: the Heaviside step: 1 for x > 0, 1/2 at x == 0, 0 for x < 0, elementwise."""
    x = _float_tensor(x)
    return (torch.sign(x) + 1) / 2


def relu_derivative(z):
    """Question 1.1: the derivative of relu: 0 for z < 0, 1 for z > 0, ``heaviside(0) = 1/2`` at 0."""
    return heaviside(z)


def softplus_derivative(z):
    """Problem 5(b): the derivative of softplus, which is the sigmoid (stable for |z| up to 1e4)."""
    return sigmoid(z)


def relu_via_heaviside(x):
    """Question 1.2: relu written with heaviside, ``x * H(x)`` (0 at x == 0)."""
    x = _float_tensor(x)
    return x * heaviside(x)


def sigmoid_k(x, k):
    """Question 1.3: the sharpened sigmoid ``sigmoid(k x)``, elementwise; finite for large k.

    Tends to heaviside(x) as k grows (x != 0) and equals 1/2 at x == 0.
    """
    x = _float_tensor(x)
    return sigmoid(_float_tensor(k).to(x.dtype) * x)


def lipschitz_estimate(g, xs):
    """Problem 5(b): ``max_i |g(x_{i+1}) - g(x_i)| / (x_{i+1} - x_i)`` on a grid, a float.

    ``xs`` is 1-D in any order; repeated points are dropped and the rest sorted,
    then ``g`` is called ONCE on that whole tensor. About 1/4 for
    softplus_derivative; unbounded for relu_derivative as the grid refines at 0.
    """
    xs = torch.unique(_float_tensor(xs).reshape(-1))   # sorted, without repeats
    if xs.numel() < 2:
        raise ValueError("lipschitz_estimate: xs needs at least two distinct points")
    values = _float_tensor(g(xs)).reshape(-1)
    slopes = (values[1:] - values[:-1]).abs() / (xs[1:] - xs[:-1])
    return float(slopes.max())


def mlp_forward(As, bs, x, act):
    """Problem 5(c): the L-layer MLP ``y_l = act(A_l y_{l-1} + b_l)`` (l < L), ``y_L = A_L y_{L-1} + b_L``.

    ``x`` of shape (n0,) gives (n_L,); ``x`` of shape (batch, n0) (one sample a
    row) gives (batch, n_L).
    """
    if len(As) != len(bs) or len(As) == 0:
        raise ValueError("mlp_forward: As and bs must be non-empty lists of the same length")
    y = _float_tensor(x)
    last = len(As) - 1
    for l, (A, b) in enumerate(zip(As, bs)):
        A, b = _float_tensor(A), _float_tensor(b)
        z = y @ A.T + b
        y = z if l == last else _float_tensor(act(z))
    return y


def sigmoid_mlp_to_tanh(As, bs):
    """Problem 5(c), Question 4: a tanh MLP ``(Cs, ds)`` with the same x -> y_L map as the sigmoid MLP ``(As, bs)``.

    With ``sigmoid(z) = (1 + tanh(z / 2)) / 2`` every sigmoid hidden output is
    ``y_l = (1 + t_l) / 2`` with ``t_l`` the tanh network's: ``C_1 = A_1 / 2``,
    ``d_1 = b_1 / 2``; for 1 < l < L ``C_l = A_l / 4``, ``d_l = b_l / 2 + A_l 1 / 4``;
    ``C_L = A_L / 2``, ``d_L = b_L + A_L 1 / 2``. Any L >= 2; the inputs are not modified.
    """
    As = [_float_tensor(A) for A in As]
    bs = [_float_tensor(b) for b in bs]
    L = len(As)
    if L < 1 or len(bs) != L:
        raise ValueError("sigmoid_mlp_to_tanh: As and bs must be non-empty lists of the same length")
    Cs, ds = [], []
    for l, (A, b) in enumerate(zip(As, bs)):
        if l == L - 1:                      # linear layer fed by y = (1 + t) / 2
            if l == 0:
                Cs.append(A.clone()), ds.append(b.clone())
            else:
                Cs.append(A / 2), ds.append(b + A.sum(dim=1) / 2)
        elif l == 0:                        # sigmoid(A x + b) = (1 + tanh(A x / 2 + b / 2)) / 2
            Cs.append(A / 2), ds.append(b / 2)
        else:                               # sigmoid(A (1 + t) / 2 + b)
            Cs.append(A / 4), ds.append(b / 2 + A.sum(dim=1) / 4)
    return Cs, ds


def tanh_mlp_to_sigmoid(Cs, ds):
    """Problem 5(c), Question 4: a sigmoid MLP ``(As, bs)`` with the same x -> y_L map as the tanh MLP ``(Cs, ds)``.

    With ``tanh(z) = 2 sigmoid(2 z) - 1`` every tanh hidden output is
    ``t_l = 2 y_l - 1`` with ``y_l`` the sigmoid network's: ``A_1 = 2 C_1``,
    ``b_1 = 2 d_1``; for 1 < l < L ``A_l = 4 C_l``, ``b_l = 2 d_l - 2 C_l 1``;
    ``A_L = 2 C_L``, ``b_L = d_L - C_L 1``. Any L >= 2; the inputs are not modified.
    """
    Cs = [_float_tensor(C) for C in Cs]
    ds = [_float_tensor(d) for d in ds]
    L = len(Cs)
    if L < 1 or len(ds) != L:
        raise ValueError("tanh_mlp_to_sigmoid: Cs and ds must be non-empty lists of the same length")
    As, bs = [], []
    for l, (C, d) in enumerate(zip(Cs, ds)):
        if l == L - 1:                      # linear layer fed by t = 2 y - 1
            if l == 0:
                As.append(C.clone()), bs.append(d.clone())
            else:
                As.append(2 * C), bs.append(d - C.sum(dim=1))
        elif l == 0:                        # tanh(C x + d) = 2 sigmoid(2 C x + 2 d) - 1
            As.append(2 * C), bs.append(2 * d)
        else:                               # tanh(C (2 y - 1) + d)
            As.append(4 * C), bs.append(2 * d - 2 * C.sum(dim=1))
    return As, bs
