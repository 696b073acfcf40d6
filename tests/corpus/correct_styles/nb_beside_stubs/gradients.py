"""Problems 4, 6 and 7: the derivative of a max, dead ReLUs and a two-layer network's SGD.

The network of Problems 6 and 7 has one input and one output::

    f(x) = u^T sigma(a x + b) = sum_j u_j sigma(a_j x + b_j),   a, b, u of shape (p,)

trained on the per-sample loss ``0.5 * (f(x) - y)**2``. ``sigma`` is the ReLU
(Problem 6) or the leaky ReLU with slope ``alpha`` for negative inputs
(Problem 7). The grader passes float64 tensors; ``x`` and ``y`` of one sample are
numbers or 0-dim tensors. No check takes a derivative exactly at a kink
(``a_j x + b_j == 0``), so the value you use there does not matter.
"""
import torch


def max_derivative(fs, dfs, x):
    """Problem 4: the derivative at ``x`` of ``f = max(f_1, ..., f_N)``, as a float.

    ``fs`` is a list of N differentiable functions and ``dfs`` the list of their
    derivatives (``dfs[i]`` is the derivative of ``fs[i]``); each maps the number
    ``x`` to a number. Where the maximum of ``f_i(x)`` is attained by exactly one
    index I, Problem 4 shows ``f'(x) = f_I'(x)``: return ``dfs[I](x)`` as a
    Python float.

    Where the maximum is attained by more than one ``f_i`` (a tie: equal values),
    f may not be differentiable: raise ``ValueError`` there, e.g. for
    ``fs = [lambda t: t, lambda t: -t]`` at ``x = 0``.
    """
    raise NotImplementedError("Problem 4: implement max_derivative")


def dead_units(a, b, X):
    """Problem 6: which hidden ReLU units are dead on the data; a bool tensor of shape (p,).

    ``a`` and ``b`` have shape (p,), ``X`` holds the N samples, shape (N,).
    Unit j is dead when ``a_j * X_i + b_j < 0`` for every sample i (strictly:
    a unit whose input is exactly 0 at some sample is not dead). Return
    ``torch.bool`` values, ``True`` for dead units. No loops needed: broadcast
    ``a[:, None] * X[None, :] + b[:, None]``, shape (p, N).
    """
    raise NotImplementedError("Problem 6: implement dead_units")


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    """Problems 6 and 7: the gradient of ``0.5 * (f(x) - y)**2`` for one sample; ``(ga, gb, gu)``.

    ``a``, ``b``, ``u`` have shape (p,); ``x`` and ``y`` are one sample (numbers
    or 0-dim tensors). ``activation`` is ``"relu"`` (Problem 6) or
    ``"leaky_relu"`` (Problem 7, with slope ``alpha`` for negative inputs).
    Return the three partial derivatives, each of shape (p,), with respect to
    ``a``, ``b`` and ``u`` (in that order).

    Work the chain rule out by hand (write ``z = a x + b``); autograd is allowed
    too, but then do not change the caller's tensors (no ``requires_grad_`` on
    them, no in-place updates). Look at what your ``ga`` and ``gb`` are for a
    unit with ``z_j < 0``: that is Problem 6; compare with the leaky ReLU for
    Problem 7.
    """
    raise NotImplementedError("Problem 6: implement two_layer_grad (Problem 7 for leaky_relu)")


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    """Problems 6 and 7: train ``(a, b, u)`` by SGD, one sample a step; return new ``(a, b, u)``.

    ``X`` and ``Y`` hold the N samples, shape (N,). For each of the ``epochs``
    epochs draw a fresh random permutation of 0..N-1 (from ``generator`` when one
    is given: ``torch.randperm(N, generator=generator)``) and, for each sample i
    in that order, take one step with step size ``lr`` on
    ``0.5 * (f(X[i]) - Y[i])**2``: compute ``(ga, gb, gu) = two_layer_grad(...)``
    at the current parameters, then update all three together
    (``a - lr * ga``, ``b - lr * gb``, ``u - lr * gu``). ``activation`` and
    ``alpha`` as in ``two_layer_grad``.

    Return new tensors and leave the inputs unchanged (``clone()`` them first or
    never update in place): the grader checks that they are unchanged.
    With ReLU, a unit that is dead at the start (``dead_units``) stays dead and
    its ``a_j``, ``b_j`` and ``u_j`` never move (Problem 6); with the leaky ReLU
    they do (Problem 7).
    """
    raise NotImplementedError("Problem 6: implement two_layer_sgd (Problem 7 for leaky_relu)")
