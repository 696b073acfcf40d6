"""Every check of Homework 3, one module per problem key (p1.py ... q8.py), found by discovery:
a module added here adds its checks. Shared helpers live in modules whose names start with `_`."""
