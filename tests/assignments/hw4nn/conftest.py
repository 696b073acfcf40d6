# This assignment's files are an assignment's, not this project's tests (tests/assignments/test_hw4nn.py).
collect_ignore_glob = ["*"]
