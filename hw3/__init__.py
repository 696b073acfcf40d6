"""Homework 3 as an assignment of the grading engine: its check declarations (`hw3.checks`), the
probe kinds its checks need in the child (`hw3/probes/`), its rubric and its manifest
(`assignment.yaml`, which names the reference/ and student_template/ packages beside it)."""
