"""Homework 4: the reference solution."""
