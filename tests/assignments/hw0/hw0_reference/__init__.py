"""Homework 0, done right."""
