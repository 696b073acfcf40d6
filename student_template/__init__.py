"""Student kit: documented stubs of the seven Homework 3 modules (see README.md)."""

# The modules in the handout's order (the grader lists them so in its messages).
__all__ = ["threelayerSGD", "losses", "activations", "gradients", "softmax", "interpolation", "convolution"]
