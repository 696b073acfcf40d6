"""Homework 0: the stubs students start from."""

__all__ = ["vectors", "stats"]
