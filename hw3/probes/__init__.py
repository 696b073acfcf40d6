"""Probe kinds of Homework 3, loaded by the child from their files (one file each, importing only
the standard library, numpy, torch and grader.probes: that is all the child has on Gradescope)."""
