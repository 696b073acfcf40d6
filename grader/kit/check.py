#!/usr/bin/env python3
"""The self-check: the visible checks of the autograder, run on the modules in this folder.

    python check.py          # every problem
    python check.py KEY ...  # only these problems (python check.py --help lists their keys)

Exit status 0 when every visible check of the problems asked for passes, 1 otherwise.
Needs Python 3.10+, torch, numpy, matplotlib and pyyaml; Linux or macOS (on Windows, use WSL).
The self-check's code is in .selfcheck/ (the grader's pipeline, with the visible checks only).
"""
import os
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent


def _fail(text: str) -> None:
    print(f"check.py: {text}", file=sys.stderr)
    sys.exit(2)


# This folder holds your modules: the self-check itself must never import them (nor a file of
# yours named like a package), so the folder leaves the import path; the checks' code comes first.
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != KIT]
sys.path.insert(0, str(KIT / ".selfcheck"))

if sys.version_info < (3, 10):
    _fail(f"Python 3.10 or newer is needed (this is {sys.version.split()[0]}).")
if os.name == "nt":
    _fail("the self-check runs on Linux or macOS; on Windows, run it inside WSL.")
missing = []
for _name, _package in (("torch", "torch"), ("numpy", "numpy"), ("yaml", "pyyaml")):
    try:
        __import__(_name)
    except ImportError:
        missing.append(_package)
if missing:
    _fail(f"missing package(s) {', '.join(missing)}: pip install {' '.join(missing)} matplotlib")


from grader.kit.selfcheck import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], kit=KIT))
