"""Questions 2 and 3: softmax, its Jacobian, Jacobian-vector products and temperature.

``S(x)_i = exp(x_i) / sum_j exp(x_j)`` and ``sigma(x) = 1 / (1 + exp(-x))``
(elementwise). The grader passes float64 tensors with entries as large as 1e4 in
absolute value: ``exp(1e4)`` overflows to inf, so compute softmax with the
max-subtraction trick ``S(x) = S(x - max(x))`` (softmax is unchanged when the
same constant is added to every entry) and never exponentiate a large positive
number.
"""
import torch


def softmax(x, dim=-1):
    """Question 2: the softmax of ``x`` along ``dim``; same shape as ``x``.

    Every slice along ``dim`` sums to 1. Stable for logits up to 1e4 in absolute
    value: ``softmax([1e4, 0])`` is ``[1, 0]`` (up to rounding), never nan.
    Subtract the maximum along ``dim`` first (keep the dimension for
    broadcasting: ``x.amax(dim=dim, keepdim=True)``).
    """
    raise NotImplementedError("Question 2: implement softmax")


def softmax_jacobian(x):
    """Question 2.2: the (n, n) Jacobian of the softmax at ``x`` of shape (n,).

    Entry (i, j) is ``dS(x)_i / dx_j = S(x)_i (delta_ij - S(x)_j)`` (Question
    2.1). Write it in matrix-vector form with ``torch.diag`` as in Question 2.2,
    without Python loops.
    """
    raise NotImplementedError("Question 2: implement softmax_jacobian")


def sigmoid_jacobian(x):
    """Question 2.3: the (n, n) Jacobian of the elementwise sigmoid at ``x`` of shape (n,).

    Entry (i, j) is ``d sigma(x)_i / dx_j``. Stable for |x| up to 1e4.
    """
    raise NotImplementedError("Question 2: implement sigmoid_jacobian")


def softmax_vjp(x, g):
    """Question 2.4: ``J(x)^T g`` for the softmax Jacobian J, in O(n) time and memory.

    ``x`` and ``g`` have shape (n,); return shape (n,). The grader calls it with
    n = 10**6, where an n x n float64 matrix (8 TB) cannot exist: never build
    ``softmax_jacobian(x)``. Expand ``sum_i J_ij g_i`` with Question 2.1's
    formula to find an expression that only uses vectors and one dot product.
    """
    raise NotImplementedError("Question 2: implement softmax_vjp")


def sigmoid_vjp(x, g):
    """Question 2.4: ``J(x)^T g`` for the sigmoid Jacobian J, in O(n) time and memory.

    ``x`` and ``g`` have shape (n,); return shape (n,). As for ``softmax_vjp``,
    n = 10**6 must work: never build the n x n matrix.
    """
    raise NotImplementedError("Question 2: implement sigmoid_vjp")


def softmax_temperature(x, c):
    """Question 3: the softmax at inverse temperature ``c``, ``S(c x)``, for ``x`` of shape (n,).

    ``c >= 0`` is a number. ``c = 0`` gives the uniform vector ``1/n``; as c
    grows, ``S(c x)`` concentrates on the maximum of ``x``. At ``c = 1e6`` the
    grader expects that limit: 1 on the maximal entry, or shared equally among
    tied maximal entries (``[1, 1, 0] -> [1/2, 1/2, 0]``), and never nan, though
    ``c * x`` is then huge. A stable ``softmax`` gives all of this.
    """
    raise NotImplementedError("Question 3: implement softmax_temperature")


def two_class_logit(x):
    """Question 3: for ``x`` of shape (2,), the float z with ``S(x) = [sigmoid(z), 1 - sigmoid(z)]``.

    Two-class softmax is a sigmoid of one number: find it from ``x`` (Python
    float). Must hold for entries up to 1e4 in size.
    """
    raise NotImplementedError("Question 3: implement two_class_logit")


def reduce_logits(x):
    """Question 3: for ``x`` of shape (K,), the ``y`` of shape (K - 1,) with ``S(x) = S([0, y])``.

    The softmax has one redundant degree of freedom: K - 1 numbers describe
    the same distribution once the first logit is pinned to 0. Return ``y``
    such that ``softmax(torch.cat([y.new_zeros(1), y])) == softmax(x)``.
    """
    raise NotImplementedError("Question 3: implement reduce_logits")
