"""Questions 6, 7 and 8: 1-D convolution and the shapes and sizes of convolutional layers.

Output size of a convolution along one axis, for input size i, kernel size k,
stride s, zero-padding p on each border and dilation d (d = 1: no dilation)::

    o = floor((i + 2 p - d (k - 1) - 1) / s) + 1

A dilated kernel spans ``d (k - 1) + 1`` input positions. Pooling with window k
and stride s (no padding) gives ``floor((i - k) / s) + 1``; non-overlapping
pooling is s = k.
"""
import torch


def conv1d(x, k, mode="full"):
    """Question 6: the true 1-D convolution ``x * k`` (kernel flipped), as a 1-D tensor.

    ``x`` and ``k`` are 1-D float64 tensors. ``mode`` is ``"full"``,
    ``"valid"`` or ``"same"`` with ``numpy.convolve``'s conventions, for lengths
    n = len(x) and m = len(k):

    - ``"full"``: every overlap, length n + m - 1;
    - ``"valid"``: only complete overlaps, length max(n, m) - min(n, m) + 1
      (numpy swaps the two arguments when the kernel is the longer one);
    - ``"same"``: length max(n, m), the centre of the full result.

    Example: x = [1, 2, 3], k = [0, 1, 0.5] gives [0, 1, 2.5, 4, 1.5] (full),
    [2.5] (valid) and [1, 2.5, 4] (same). Compare your results with
    ``numpy.convolve`` on a few inputs. Mind the flip:
    ``torch.nn.functional.conv1d`` computes a cross-correlation (no flip).
    """
    raise NotImplementedError("Question 6: implement conv1d")


def conv_output_size(i, k, s=1, p=0, d=1):
    """Question 7: the output size (an int) of a convolution along one axis.

    Input size ``i``, kernel size ``k``, stride ``s``, zero-padding ``p`` on each
    border, dilation ``d``: ``floor((i + 2 p - d (k - 1) - 1) / s) + 1``. Use
    integer arithmetic (``//``), not floats.
    """
    raise NotImplementedError("Question 7: implement conv_output_size")


def pool_output_size(i, k, s=None):
    """Question 7: the output size (an int) of a pooling layer along one axis.

    Window ``k``, stride ``s``, no padding: ``floor((i - k) / s) + 1``. ``s=None``
    means ``s = k`` (non-overlapping windows, as in Question 7's 5 x 5 max
    pooling).
    """
    raise NotImplementedError("Question 7: implement pool_output_size")


def conv_params(c_in, c_out, k, bias=False):
    """Question 7: the number of parameters (an int) of a conv layer with ``c_out`` k x k kernels.

    Each of the ``c_out`` kernels spans all ``c_in`` input channels. With
    ``bias=True`` add one bias per output channel.
    """
    raise NotImplementedError("Question 7: implement conv_params")


def cnn_output_shape(in_shape, layers):
    """Question 7: the output shape ``(C, H, W)`` (a tuple of ints) of a stack of layers.

    ``in_shape`` is ``(C, H, W)``; ``layers`` a list of dicts, applied in order::

        {"type": "conv", "out": 64, "k": 8, "s": 2, "p": 0, "d": 1}
        {"type": "pool", "k": 5, "s": 5}

    Missing keys take the defaults of ``conv_output_size`` and
    ``pool_output_size``: a conv's s = 1, p = 0, d = 1; a pool's s = its k. A
    conv sets the number of channels to ``"out"``; a pool keeps it. Kernels are
    square, so H and W follow the same formula.
    """
    raise NotImplementedError("Question 7: implement cnn_output_shape")


# Question 7: your two answers, as ints (the grader reads None as "not attempted").
# Replace None by a dict of this form:
#     Q7 = {
#         "output_dim": ...,        # 1. the dimensionality of the last layer's output:
#                                   #    one int, the number of scalars it holds
#         "last_layer_params": ..., # 2. the last layer's parameters, biases excluded
#     }
Q7 = None

# Question 8: your answers (the grader reads None as "not attempted"). The input
# has shape (3, 64, 64). Replace None by a dict with these keys; each layer
# setting is a dict {"k": ..., "s": ..., "p": ..., "d": ...} of ints, where a
# missing key takes its default (p = 0, d = 1, and s = 1 for a conv, s = k for
# the non-overlapping pooling of "2a"). Every setting that gives the asked shape
# is correct.
#     Q8 = {
#         "1a": {"k": 8, "s": ..., "p": ..., "d": 1},   # 1(a): output (64, 32, 32), k = 8, no dilation
#         "1b": {"k": ..., "s": 2, "p": ..., "d": 7},   # 1(b): output (64, 32, 32), d = 7, s = 2
#         "2a": {"k": ..., "s": ...},                   # 2(a): pooling to (64, 8, 8), p = 0, d = 1
#         "2b": (..., ..., ...),                        # 2(b): the output shape (C, H, W) for k = 8, s = 4
#         "3a": {"k": ..., "s": ..., "p": 0, "d": 1},   # 3(a): output (128, 4, 4), no padding, no dilation
#         "3b": {"k": ..., "s": ..., "p": 2, "d": 2},   # 3(b): output (128, 4, 4), d = 2, p = 2
#         "3c": {"k": ..., "s": ..., "p": 1, "d": 1},   # 3(c): output (128, 4, 4), p = 1, d = 1
#     }
Q8 = None
