"""`python -m grader` is `hw3grade`."""
import sys

from .cli import main

sys.exit(main())
