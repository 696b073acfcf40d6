"""Homework 4's checks, one module per exercise (found by discovery)."""
