"""Problems 5 and 7, Questions 1 and 4: activation functions and MLPs built from them.

Every elementwise function here takes a float64 tensor of any shape (a 0-dim
tensor included) and returns a tensor of the same shape. You may use torch's
built-ins (``torch.sigmoid``, ``torch.nn.functional.softplus``, ...): the point
is to know which formulas break, not to avoid the library.

The grader probes |z| up to 1e4. ``exp(z)`` overflows float64 above z ~ 709, so a
formula that computes ``exp`` of a large number can give ``inf``, and then
``inf / inf`` or ``inf - inf`` gives ``nan``. Rewrite such formulas so that you
only ever take ``exp`` of a non-positive number.
"""
import torch


def relu(z):
    """Problem 5: the ReLU ``max(0, z)``, elementwise."""
    raise NotImplementedError("Problem 5: implement relu")


def leaky_relu(z, alpha=0.01):
    """Problem 7: the leaky ReLU, elementwise: ``z`` for ``z >= 0``, ``alpha * z`` otherwise.

    ``alpha`` is a fixed (not trained) number, 0.01 by default.
    """
    raise NotImplementedError("Problem 7: implement leaky_relu")


def softplus(z):
    """Problem 5(b): the softplus ``log(1 + exp(z))``, elementwise.

    Must be finite and accurate for |z| up to 1e4: ``softplus(1e4) == 1e4``
    exactly and ``softplus(-1e4)`` is a tiny non-negative number (0 is fine,
    since exp(-1e4) underflows), never nan or inf. The formula as written
    overflows for z > 709; use ``max(z, 0) + log1p(exp(-|z|))``.
    """
    raise NotImplementedError("Problem 5: implement softplus")


def sigmoid(z):
    """Problem 5(c): the sigmoid ``1 / (1 + exp(-z))``, elementwise.

    Finite and accurate for |z| up to 1e4: values in [0, 1], never nan.
    (``exp(z) / (1 + exp(z))`` is nan at z = 1e4; ``torch.sigmoid`` is stable.)
    """
    raise NotImplementedError("Problem 5: implement sigmoid")


def tanh(z):
    """Problem 5(c): tanh ``(1 - exp(-2z)) / (1 + exp(-2z))``, elementwise.

    Finite and accurate for |z| up to 1e4: values in [-1, 1], never nan. The
    handout's formula is ``inf / inf = nan`` at z = -1e4 (``torch.tanh`` is
    stable; or use that tanh is odd).
    """
    raise NotImplementedError("Problem 5: implement tanh")


def heaviside(x):
    """Question 1: the Heaviside step ``H(x)``, elementwise.

    1 for x > 0, 1/2 at x == 0, 0 for x < 0, with the dtype of ``x``
    (float64). Mind the value at 0: it is 1/2, not 0 or 1.
    """
    raise NotImplementedError("Question 1: implement heaviside")


def relu_derivative(z):
    """Question 1.1: the derivative of ``relu``, elementwise.

    0 for z < 0 and 1 for z > 0. At z == 0 the derivative does not exist; this
    homework fixes the value there to ``heaviside(0) = 1/2``.
    """
    raise NotImplementedError("Question 1: implement relu_derivative")


def softplus_derivative(z):
    """Problem 5(b): the derivative of ``softplus``, elementwise.

    Differentiate ``log(1 + exp(z))`` by hand: you get a function you already
    wrote. Finite and accurate for |z| up to 1e4, never nan.
    """
    raise NotImplementedError("Problem 5: implement softplus_derivative")


def relu_via_heaviside(x):
    """Question 1.2: ``relu(x)`` written with ``heaviside`` (call it).

    Either of the two definitions of Question 1.2 is fine; the values must equal
    ``relu(x)`` everywhere, 0 at x == 0 included.
    """
    raise NotImplementedError("Question 1: implement relu_via_heaviside")


def sigmoid_k(x, k):
    """Question 1.3: the sharpened sigmoid ``sigma(k x) = 1 / (1 + exp(-k x))``, elementwise.

    ``k > 0`` is a number. As k grows this approaches ``heaviside(x)`` away
    from 0 (and equals 1/2 at x == 0 for every k). It must stay finite for large
    k (say k = 1e6): ``k * x`` then reaches far beyond 709, so compute it with a
    stable sigmoid, never nan.
    """
    raise NotImplementedError("Question 1: implement sigmoid_k")


def lipschitz_estimate(g, xs):
    """Problem 5(b): estimate the Lipschitz constant of ``g`` on the grid ``xs``; a float.

    ``xs`` is a 1-D float64 tensor in any order, possibly with repeated points,
    with at least two distinct points. Sort it and drop repeated points, call
    ``g`` ONCE on that whole tensor (``g`` is elementwise: tensor in, tensor of
    the same shape out; the grader counts the calls), and return

        max over neighbours i of |g(x_{i+1}) - g(x_i)| / (x_{i+1} - x_i)

    as a Python float. On fine grids this is about 1/4 for ``softplus_derivative``
    (its derivative is bounded by 1/4) and grows without bound for
    ``relu_derivative`` as the grid refines around 0 (it jumps there): that is
    Problem 5(b) seen numerically.
    """
    raise NotImplementedError("Problem 5: implement lipschitz_estimate")


def mlp_forward(As, bs, x, act):
    """Problem 5(c): the L-layer MLP ``x -> y_L``.

    ``As`` is a list of L matrices, ``A_l`` of shape (n_l, n_{l-1}); ``bs`` a list
    of L vectors, ``b_l`` of shape (n_l,); ``act`` an elementwise activation
    (e.g. ``sigmoid`` or ``tanh``). With ``y_0 = x``::

        y_l = act(A_l y_{l-1} + b_l)   for l = 1, ..., L - 1
        y_L = A_L y_{L-1} + b_L        (linear last layer: no activation)

    ``x`` has shape (n0,) (return shape (n_L,)) or (batch, n0) with one sample
    per row (return shape (batch, n_L); for a batch, ``A_l y`` is ``y @ A_l.T``).
    """
    raise NotImplementedError("Problem 5: implement mlp_forward")


def sigmoid_mlp_to_tanh(As, bs):
    """Problem 5(c), Question 4: convert a sigmoid MLP to a tanh MLP; return ``(Cs, ds)``.

    Given the parameters ``(As, bs)`` of an MLP with the sigmoid activation (as
    in ``mlp_forward``), return lists ``Cs`` and ``ds`` of the same lengths and
    shapes such that ``mlp_forward(Cs, ds, x, tanh)`` equals
    ``mlp_forward(As, bs, x, sigmoid)`` for every x (up to rounding). It must
    work for any number of layers L >= 2 (L = 2 is Question 4) and any widths.
    Do not modify the inputs.

    Hint: sigmoid and tanh are related by ``sigmoid(z) = (1 + tanh(z / 2)) / 2``.
    Follow what this does to each layer's input, from the first layer to the last.
    """
    raise NotImplementedError("Problem 5c and Question 4: implement sigmoid_mlp_to_tanh")


def tanh_mlp_to_sigmoid(Cs, ds):
    """Problem 5(c), Question 4: convert a tanh MLP to a sigmoid MLP; return ``(As, bs)``.

    The converse of ``sigmoid_mlp_to_tanh``: ``mlp_forward(As, bs, x, sigmoid)``
    must equal ``mlp_forward(Cs, ds, x, tanh)`` for every x, for any L >= 2 and
    any widths, with lists of the same lengths and shapes. Do not modify the
    inputs. (Hint: ``tanh(z) = 2 * sigmoid(2 z) - 1``.)
    """
    raise NotImplementedError("Problem 5c and Question 4: implement tanh_mlp_to_sigmoid")
