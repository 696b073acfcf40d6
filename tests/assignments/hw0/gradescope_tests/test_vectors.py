"""An instructor's own Gradescope tests, as they already had them: unittest + gradescope-utils.

The grader runs this file in the sandboxed child, with the submission's modules importable by name.
"""
import unittest

import torch
from gradescope_utils.autograder_utils.decorators import number, partial_credit, visibility, weight


class TestVectors(unittest.TestCase):
    @weight(1)
    @number("U1")
    def test_dot_of_orthogonal_vectors_is_zero(self):
        """dot of orthogonal vectors is 0"""
        from vectors import dot

        u = torch.tensor([1.0, 0.0], dtype=torch.float64)
        v = torch.tensor([0.0, 2.0], dtype=torch.float64)
        self.assertEqual(float(dot(u, v)), 0.0)

    @weight(1)
    @visibility("after_due_date")
    def test_norm_is_scale_equivariant(self):
        """norm(3u) = 3 norm(u)"""
        from vectors import norm

        u = torch.tensor([3.0, 4.0], dtype=torch.float64)
        self.assertAlmostEqual(float(norm(3 * u)), 3 * float(norm(u)), places=9)

    @partial_credit(2)
    def test_mean_of_constants(self, set_score=None):
        """mean of constant samples, half a point each of four"""
        from stats import mean

        good = sum(abs(float(mean(torch.full((n,), 2.5, dtype=torch.float64))) - 2.5) < 1e-12 for n in (1, 2, 5, 9))
        set_score(good / 2)
        self.assertEqual(good, 4, f"{good} of 4 means were right")
