"""docs/THREATS.md names, for each threat, the test that proves it is stopped: each must exist."""
from __future__ import annotations

import ast
import re

from tests.hw3testing import REPO

#: `tests/x.py`, `tests/x.py::test_name`, and `::test_name` (the same file as the reference before it)
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?")


def _functions(path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_test_the_threat_table_names_exists():
    missing, named = [], 0
    for row in (REPO / "docs" / "THREATS.md").read_text(encoding="utf-8").splitlines():
        if not row.startswith("| ") or row.startswith(("| Threat", "|---")):
            continue
        current = None
        for path, name in _REFERENCE.findall(row):
            if not path and not name:
                continue
            current = path or current
            if current is None:
                continue
            named += 1
            file = REPO / current
            if not file.is_file():
                missing.append(current)
            elif name and name not in _functions(file):
                missing.append(f"{current}::{name}")
    assert named > 30 and not missing, missing
