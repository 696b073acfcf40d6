import torch


def dot(u, v):
    return torch.sum(u * v)


def norm(u):
    return torch.sqrt(dot(u, u))
