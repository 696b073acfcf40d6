"""Exercise 1: vectors as 1-D float64 tensors."""
import torch


def dot(u, v):
    """The dot product of two tensors of shape (n,), as a 0-d tensor."""
    raise NotImplementedError


def norm(u):
    """The Euclidean norm of a tensor of shape (n,), as a 0-d tensor."""
    raise NotImplementedError
