import torch


def mean(x):
    return torch.sum(x) / x.shape[0]


ANSWER = 35 / 12
