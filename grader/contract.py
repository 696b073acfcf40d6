"""The homework's contract as the student template states it: names and signatures.

Read from student_template/ with `ast` (no import, so no torch in the parent's first
phase), to tell a student exactly what a missing function should look like.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "student_template"


@functools.lru_cache(maxsize=None)
def signatures() -> dict[str, tuple[str, str]]:
    """{public name: (module, "def name(args)" or "class name" or "name = ...")}."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(TEMPLATE.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found[node.name] = (path.stem, f"def {node.name}({ast.unparse(node.args)})")
            elif isinstance(node, ast.ClassDef):
                found[node.name] = (path.stem, f"class {node.name}(nn.Module)")
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and not target.id.startswith("_"):
                        found[target.id] = (path.stem, f"{target.id} = ...")
    return found


def expected_definition(name: str) -> str:
    """'expected in losses.py: `def cross_entropy(f, y)`', or '' for names outside the contract."""
    entry = signatures().get(name)
    return f"expected in {entry[0]}.py: `{entry[1]}`" if entry else ""
