"""Exercise 2: the CNN, checked by declaration (grader/checks/classes.py), and one function that
takes a tensor (`arrays="torch"` overrides the manifest's numpy for that check)."""
from __future__ import annotations

import numpy as np

from grader.checks.base import CheckList, same_as_reference
from grader.checks.classes import module_outputs, module_parameters, module_shape, module_trains

CHECKS = CheckList(__name__)


def _images(rng: np.random.Generator):
    return [rng.normal(size=(n, 1, 8, 8)).astype(np.float32) for n in (1, 5)]


def _labelled(rng: np.random.Generator):
    """32 images whose class is the quadrant that is bright: learnable in a few SGD steps."""
    y = rng.integers(0, 3, 32)
    X = rng.normal(scale=0.3, size=(32, 1, 8, 8)).astype(np.float32)
    for i, label in enumerate(y):
        X[i, 0, 4 * (label % 2):4 * (label % 2) + 4, 4 * (label // 2):4 * (label // 2) + 4] += 2.0
    return X, y


CHECKS.add(same_as_reference("B2.flatten", "cnn.flatten", lambda rng: [(rng.normal(size=(3, 2, 4, 4)),)],
                             arrays="torch", hint="Keep the batch dimension: (n, c, h, w) becomes (n, c*h*w)."))
CHECKS.add(module_shape("B2.shape", "cnn.SmallCNN", _images, init=(3,),
                        hint="The last layer has num_classes outputs: (n, 1, 8, 8) images give (n, num_classes)."))
CHECKS.add(module_parameters(
    "B2.parameters", "cnn.SmallCNN", init=(3,),
    hint="conv 3x3 with 1 -> 4 channels, then a linear layer from 4*4*4 features to num_classes."))
CHECKS.add(module_outputs("B2.forward", "cnn.SmallCNN", _images, init=(3,),
                          hint="Create the layers in the order the docstring gives: conv, then linear."))
CHECKS.add(module_trains("B2.train", "cnn.SmallCNN", "cnn.train", _labelled, init=(3,), train_kwargs={"epochs": 20},
                         hint="Each epoch: zero the gradients, compute the loss, backward, then step the optimizer."))
