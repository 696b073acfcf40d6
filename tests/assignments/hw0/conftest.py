# Homework 0's files are an assignment's, not this project's tests: its gradescope_tests/ run in the
# grader's child (tests/assignments/test_hw0.py), never under pytest directly.
collect_ignore_glob = ["*"]
