"""The student kit's own code: the self-check script, the frozen-reference replayer, a plain table.

Everything here is shipped in the kit (except `record.py`, which runs at build time only)
and imports nothing beyond the standard library, numpy, torch, matplotlib, pyyaml and the
grader modules the kit carries. See docs/STUDENT_KIT.md.
"""
