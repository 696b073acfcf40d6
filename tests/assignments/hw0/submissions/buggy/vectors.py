import torch


def dot(u, v):
    return torch.sum(u * v)


def norm(u):
    return dot(u, u)          # forgot the square root
