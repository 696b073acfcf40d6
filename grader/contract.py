"""The assignment's contract as its student template states it: names and signatures.

Read from the template with `ast` (no import, so no torch in the parent's first phase), to
tell a student exactly what a missing function should look like.
"""
from __future__ import annotations


def signatures() -> dict[str, tuple[str, str]]:
    """{public name: (module, "def name(args)" or "class name(bases)" or "name = ...")}."""
    from .assignment import active

    return active().signatures()


def expected_definition(name: str) -> str:
    """'expected in module.py: `def name(args)`', or '' for names outside the contract."""
    entry = signatures().get(name)
    return f"expected in {entry[0]}.py: `{entry[1]}`" if entry else ""
