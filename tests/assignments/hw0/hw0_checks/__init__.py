"""Homework 0's checks, one module per exercise (found by discovery)."""
