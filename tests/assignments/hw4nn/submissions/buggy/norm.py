import numpy as np


def batchnorm(x, gamma, beta, eps=1e-5):
    # bug: the sample variance (ddof=1) instead of the population variance
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta
