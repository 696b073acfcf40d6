"""Answers alike: submissions that give the same rare wrong answers, and identical code.

A list for an instructor to review, never an accusation, and never in anything a student sees.
Correct answers are alike by nature, and so are common mistakes; what stands out is two
submissions sharing several wrong answers that few others give. The wrong answers are the
fingerprints the runner keeps of each failed check (grader/answers.py: values rounded to the
check's tolerance, shapes, exception types).

- an answer (check, fingerprint) is *rare* when at most RARE_SHARE of the class (and at least
  2) gives it;
- two submissions are *alike* when they share at least MIN_SHARED rare answers (a single
  shared mistake happens by chance); clusters are the connected groups of alike submissions.

Identical code: each submission's Python source, normalised (comments, docstrings, names and
formatting removed, through `ast`; the code is parsed, never run), hashed as a whole. What is
parsed is bounded before any parsing (issue 17): `ast` costs up to ~1 kB of memory per byte of the
densest source (`x\n` lines), so a submission with more than MAX_SOURCE bytes, MAX_TOKENS tokens or
MAX_FILES files of Python is not compared (NotCompared, named in the report). Correct work is far
below: examples/correct is 32 kB and 11,700 tokens. Measured by bench/alike_digest.py.
"""
from __future__ import annotations

import ast
import hashlib
import io
import itertools
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .. import notebook
from ..outcome import GradingResult
from ..submission import SubmissionError, open_zip

RARE_SHARE = 0.1     # an answer given by at most this share of the class is rare
MIN_SHARED = 2       # rare answers two submissions must share to be listed
MAX_SOURCE = 256_000     # bytes of source read per submission (a larger one is not compared)
MAX_TOKENS = 50_000      # tokens of source parsed per submission (more: not compared; ~50 MB at worst)
MAX_FILES = 2_000        # Python files read per submission (more: not compared)
_TOKEN = re.compile(r"\w+|\S|\n")   # a name, number, symbol or line end: a few AST nodes each at most


@dataclass(frozen=True)
class Cluster:
    members: tuple[str, ...]
    shared: tuple[tuple[str, int], ...]   # (check id, submissions in the class giving that answer)
    graded: int                           # submissions compared


def rare_answers(results: dict[str, GradingResult]) -> dict[tuple[str, str], set[str]]:
    """(check id, fingerprint) -> the submissions giving it, for the rare ones shared by two or more."""
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for sid, result in results.items():
        for check_id, fp in result.answers.items():
            holders[(check_id, fp)].add(sid)
    limit = max(2, RARE_SHARE * len(results))
    return {key: ids for key, ids in holders.items() if 2 <= len(ids) <= limit}


def clusters(results: dict[str, GradingResult]) -> list[Cluster]:
    """Groups of submissions sharing at least MIN_SHARED rare wrong answers, largest first."""
    rare = rare_answers(results)
    shared: dict[tuple[str, str], list] = defaultdict(list)
    for key, ids in rare.items():
        ordered = sorted(ids)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                shared[(a, b)].append(key)
    groups = _components([pair for pair, keys in shared.items() if len(keys) >= MIN_SHARED])
    found = []
    for members in groups:
        keys = sorted({k for k, ids in rare.items() if len(ids & members) >= 2})
        found.append(Cluster(tuple(sorted(members)), tuple((k[0], len(rare[k])) for k in keys), len(results)))
    return sorted(found, key=lambda c: (-len(c.members), c.members))


def _components(pairs: list[tuple[str, str]]) -> list[set[str]]:
    """Connected components of the graph these edges make (union-find)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[str, set[str]] = defaultdict(set)
    for x in parent:
        groups[root(x)].add(x)
    return list(groups.values())


# ---------------------------------------------------------------- identical code
def identical_code(sources: dict[str, str | None]) -> list[tuple[str, ...]]:
    """Groups of two or more submissions whose normalised code is the same ({id: digest})."""
    by_digest: dict[str, list[str]] = defaultdict(list)
    for sid, digest in sources.items():
        if digest:
            by_digest[digest].append(sid)
    return sorted(tuple(sorted(ids)) for ids in by_digest.values() if len(ids) >= 2)


def code_digest(path: Path) -> str | None:
    """The hash of a submission's normalised Python (a folder, .py, .zip or notebook); None if it has
    none that can be read. Reading is bounded (MAX_SOURCE bytes and MAX_TOKENS tokens in all, counted
    before anything is parsed; notebooks through the grader's streaming reader, never `json.loads`).
    NotCompared if over a bound; anything else that goes wrong raises too, for the caller to name
    this submission (grader/analysis/classreport.py)."""
    try:
        sources = sorted(_sources(Path(path)))
    except (OSError, zipfile.BadZipFile, SubmissionError):
        return None
    normalised = [n for n in (normalise(text) for _, text in sources) if n]
    if not normalised:
        return None
    return hashlib.sha256("\0".join(normalised).encode()).hexdigest()


class NotCompared(Exception):
    """A submission over a bound of what the digest parses; the message says which."""


def _sources(path: Path):
    """(name, text) of each Python file of a submission, without following links, bounded in size."""
    budget, tokens, files = [MAX_SOURCE], [MAX_TOKENS], [MAX_FILES]

    def take(name: str, data: bytes):
        budget[0] -= len(data)
        files[0] -= 1
        if budget[0] < 0:
            raise NotCompared(f"more than {MAX_SOURCE // 1000} kB of Python")
        if files[0] < 0:
            raise NotCompared(f"more than {MAX_FILES:,} Python files")
        text = data.decode("utf-8", "replace")
        tokens[0] -= _count_tokens(text, tokens[0])
        if tokens[0] < 0:
            raise NotCompared(f"more than {MAX_TOKENS:,} tokens of Python")
        return name, text

    def read(file: Path) -> bytes:
        with open(file, "rb") as fh:
            return fh.read(budget[0] + 1)     # never more than the budget left (and one byte to tell)

    if path.is_symlink():
        return
    if path.is_dir():
        for file in sorted(path.rglob("*.py")):
            if not file.is_symlink() and file.is_file() and not any(p.startswith(".") for p in file.parts[-2:]):
                yield take(file.relative_to(path).as_posix(), read(file))
    elif path.suffix == ".zip":
        with open_zip(path) as zf:       # its list of files sized first: a million entries is refused unread
            for info in zf.infolist():
                if info.filename.endswith(".py") and info.file_size <= budget[0]:
                    yield take(info.filename, zf.read(info))
    elif path.suffix == ".ipynb":
        cells = notebook.code_cells(path)     # streamed, depth- and size-bounded; NotebookError if not a notebook
        yield take(path.name, "\n".join(source for _, source in cells).encode("utf-8", "surrogatepass"))
    elif path.suffix == ".py":
        yield take(path.name, read(path))


def _count_tokens(text: str, limit: int) -> int:
    """Tokens of `text` (names, numbers, symbols, line ends; over-counting strings and comments),
    counting no further than limit + 1."""
    return sum(1 for _ in itertools.islice(_TOKEN.finditer(text), limit + 1))


def normalise(source: str) -> str:
    """Source without comments, docstrings, formatting or its own names (renamed in order of use)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return " ".join(line.split("#")[0].strip() for line in io.StringIO(source) if line.strip())
    tree.body = _without_docstring(tree.body)
    try:
        _Renamer().visit(tree)
        return ast.dump(tree, annotate_fields=False)
    except RecursionError:     # nested deeper than the interpreter's stack: not compared
        return ""


def _without_docstring(body: list) -> list:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:] or [ast.Pass()]
    return body


class _Renamer(ast.NodeTransformer):
    """Local names, arguments and definitions become v0, v1, ... in order of first use; docstrings go.
    Attributes (the library calls: `.exp`, `.sum`) are kept: they are what the code does."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._new(node.arg)
        node.annotation = None
        return node

    def _definition(self, node):
        node.name = self._new(node.name)
        node.body = _without_docstring(node.body)
        if hasattr(node, "returns"):
            node.returns = None
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition
