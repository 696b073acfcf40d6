"""Exercise 1: dot and norm, against the reference on random vectors: its hidden checks.

The autograder runs them; the student kit ships a1.py, never this file.
"""
from __future__ import annotations

from grader.checks.base import CheckList, same_as_reference

from .a1 import _vectors

CHECKS = CheckList(__name__)

CHECKS.add(same_as_reference("A1.norm.hidden", "vectors.norm", _vectors, hint="norm(u) = sqrt(dot(u, u))."))
