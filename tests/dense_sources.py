"""Python sources of a given size in the densest shapes for `ast` (the most nodes per byte), for the
tests and bench/alike_digest.py: what the "answers alike" digest must parse within a bound
(issue 17). Each returns about `size` characters of text that `ast.parse` accepts (or, for the
deepest, refuses as too nested), none of it ever run.
"""
from __future__ import annotations


def _repeat(head: str, piece: str, tail: str, size: int) -> str:
    return head + piece * max(0, (size - len(head) - len(tail)) // len(piece)) + tail


SHAPES = {
    "lines": lambda size: _repeat("", "x\n", "", size),                        # a statement per two bytes
    "semicolons": lambda size: _repeat("", "x;", "x\n", size),                 # the same on one line
    "calls": lambda size: _repeat("", "f()\n", "", size),
    "attributes": lambda size: _repeat("x = a", ".b", "\n", size),             # a chain of Attribute nodes
    "list": lambda size: _repeat("x = [", "1,", "]\n", size),                  # a Constant per two bytes
    "sum": lambda size: _repeat("x = 1", "+1", "\n", size),                    # a left-deep BinOp chain
    "unary": lambda size: _repeat("x = ", "-", "1\n", size),                   # nested as deep as the bytes
    "nested_calls": lambda size: "x = " + "f(" * (size // 3) + ")" * (size // 3) + "\n",   # too deep: refused
    "strings": lambda size: _repeat("x = ", '"a" ', "\n", size),               # implicit concatenation
    "one_string": lambda size: _repeat('x = "', "a", '"\n', size),              # few tokens: the byte cap
}


def largest_compared(shape: str) -> int:
    """The most characters of this shape the digest still parses: within alike's MAX_SOURCE bytes
    and MAX_TOKENS tokens (the worst case of that shape)."""
    from grader.analysis import alike

    low, high = 0, alike.MAX_SOURCE
    while low < high:
        size = (low + high + 1) // 2
        text = SHAPES[shape](size)
        if alike._count_tokens(text, alike.MAX_TOKENS) <= alike.MAX_TOKENS and len(text.encode()) <= high:
            low = size
        else:
            high = size - 1
    return low
