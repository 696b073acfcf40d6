"""Exercise 1: batch normalization in numpy."""
import numpy as np


def batchnorm(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
