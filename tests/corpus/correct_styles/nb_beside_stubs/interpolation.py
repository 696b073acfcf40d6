"""Question 5: a two-layer network with N - 1 hidden units interpolates any N samples.

The network is ``y(x) = W2 @ phi(W1 @ x + b1) + b2`` with ``W1`` of shape
(N - 1, n), ``b1`` of shape (N - 1,), ``W2`` of shape (m, N - 1) and ``b2`` of
shape (m,). Question 5.2 restricts ``W1`` to N - 1 identical rows ``w`` (shape
(n,)), which turns interpolation into the N x N linear system
``M @ W2_tilde = F`` with ``W2_tilde = [W2, b2]^T`` (shape (N, m)).

Samples are rows: ``X`` has shape (N, n) (``X[i]`` is the sample x^(i)) and
``F`` has shape (N, m) (``F[i]`` is f(x^(i))). The grader passes float64 tensors.
"""
import torch


def interpolation_matrix(X, w, b1, phi):
    """Question 5.2: the N x N matrix M of the system ``M @ W2_tilde = F``.

    ``X`` of shape (N, n), ``w`` of shape (n,), ``b1`` of shape (N - 1,), ``phi``
    an elementwise activation (tensor in, same shape out). Return M with::

        M[i, j] = phi(w @ X[i] + b1[j])   for j = 0, ..., N - 2
        M[i, N - 1] = 1                   (the last column: it multiplies b2)

    Build it with broadcasting, ``(X @ w)[:, None] + b1[None, :]``, not loops.
    """
    raise NotImplementedError("Question 5: implement interpolation_matrix")


def relu_interpolator(X, F):
    """Question 5.3: an exact two-layer ReLU interpolator; return ``(W1, b1, W2, b2)``.

    ``X`` of shape (N, n) has distinct rows, ``F`` has shape (N, m). Return
    parameters of shapes (N - 1, n), (N - 1,), (m, N - 1), (m,), where the rows
    of ``W1`` are all the same vector ``w``, such that for every i::

        W2 @ relu(W1 @ X[i] + b1) + b2 == F[i]

    "Exact" means within 1e-6 relative to ``max |F|``, for up to 20 well separated
    samples (projections at least 1e-2 apart).

    The construction of Question 5.3: choose ``w`` with distinct projections
    ``t_i = w @ X[i]`` (for n = 1, ``w = [1]``; otherwise a random direction
    works with probability 1; trying a few and keeping the one whose sorted
    projections are farthest apart is even better). Give each hidden unit its
    kink (where ``t + b1_j = 0``) between two consecutive sorted projections, so
    that, with the samples sorted by ``t``, M is triangular with a non-zero
    diagonal. Then solve ``M @ W2_tilde = F`` (``torch.linalg.solve``) and split
    ``W2_tilde`` into ``W2`` (transpose the first N - 1 rows) and ``b2`` (the last
    row).

    Conditioning matters: Question 5.3's single tiny epsilon shared by all units
    (say 1e-9) puts tiny numbers on the diagonal of M and the solve loses all
    accuracy. The epsilon may differ from unit to unit: put each unit's kink
    halfway between two consecutive sorted projections.
    """
    raise NotImplementedError("Question 5: implement relu_interpolator")


def sigmoid_interpolator(X, F, lam=50.0):
    """Question 5.4: an exact two-layer sigmoid interpolator; return ``(W1, b1, W2, b2)``.

    Same inputs, shapes and exactness as ``relu_interpolator``, with the sigmoid
    as activation. The suggested construction is Question 5.4's: pick a direction
    ``u`` with distinct projections ``u @ X[i]``, set ``w = lam * u`` (every row of
    ``W1``) and ``b1_j = -lam * u @ X[j]`` for j = 0, ..., N - 2. Any exact
    construction is accepted.

    M is not exactly triangular for finite ``lam``: solve the full system
    ``M @ W2_tilde = F`` (``torch.linalg.solve``), do not drop the small entries.
    As ``lam`` times the gaps between the projections grows, M approaches a
    triangular matrix with ``sigmoid(0) = 1/2`` on its diagonal, which is well
    conditioned; when those products are small, the columns of M are nearly
    equal and the solve is inaccurate. ``u`` need not be a unit vector: scale it
    so that the projections are well separated. Compute the sigmoid stably (its
    argument can be large and negative).
    """
    raise NotImplementedError("Question 5: implement sigmoid_interpolator")
