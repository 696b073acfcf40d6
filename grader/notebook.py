"""A student's notebook as an importable module: its imports, definitions and constants only.

A notebook mixes what is graded (``def norm``, ``class Model``, ``rate = 0.1``) with
what runs experiments (training loops, plots, ``model = Model()``). The grader imports
the functions, so :func:`notebook_to_module` keeps, in order:

- ``import`` / ``from ... import`` (an import of a package the grader does not have is
  wrapped in ``try``, so one ``import sklearn`` cannot hide every function);
- ``def`` and ``class`` statements with their decorators;
- assignments whose value is *cheap*: literals, names, attributes, arithmetic,
  comparisons, containers, lambdas and calls of a small whitelist (tensor and array
  constructors, ``nn`` layers, ``range``, ``len``, ``math.*`` ...), checked recursively
  (``torch.tensor(np.random.normal(...))`` is not cheap);
- assignments that call other code when kept code needs their names: a name a kept
  function or class reads (``EPS = np.finfo(np.float64).eps``, ``rng =
  np.random.default_rng(0)``, ``model = Model()``: calls of imported modules, builtins and the
  notebook's classes, never of its functions, which may run for minutes), or an answer the grader
  reads (the template's constants and what they are computed from: the notebook's own functions may
  be called too);
- what ``if``, ``try`` and ``with`` blocks (``if RUN_TESTS:``, ``try: ... except
  ImportError:``) hold of the above: an ``if`` whose test kept code can evaluate and a
  ``try`` are kept with only those statements inside; a ``with`` block (its context
  manager is not entered), an ``if __name__ == "__main__":`` block and an ``if`` whose test
  needs results of skipped code are replaced by what their (first) body keeps.

Everything else (loops and what they define, plots, calls, other assignments) is left
out; the notes say what, and which kept functions read a name only skipped code sets.
A kept statement that needs a name no kept code defines would fail the import, so it is
left out too. What a kept definition runs when it is defined (a class body, a default
argument, a decorator, an annotation) runs as written, and a note says so when it calls
anything beyond the cheap whitelist.

A cell is read as IPython runs it: line magics and shell lines are left out; a cell that starts with a
cell magic which runs its body as the notebook's Python in its namespace (``%%time``, ``%%capture``)
is read without that line, and any other cell magic (``%%timeit``, ``%%bash``, ``%%writefile``, an
unknown one) makes its cell define nothing, with a note saying why (:mod:`grader.cell_magics`).

Kept code never stops the import: what may raise (an assignment or an ``if`` test that
calls beyond the cheap whitelist, a definition that runs such code when defined, and any
statement that reads a name which a wrapped statement or an ``if``/``try`` body may have
left undefined) is wrapped in ``try: ... except Exception: pass``, so that it leaves only
its own names undefined. Calls of the cheap whitelist are trusted, as they always were.
The module is written by ``ast.unparse``; cells are numbered by their position among the
notebook's code cells, starting at 1.

Reading is bounded: the notebook is parsed as a stream and only the cells' types and
sources are kept (outputs and attachments are skipped unread, so a 400 MB plot or log
costs a few MB), files above :data:`MAX_NOTEBOOK_BYTES` and sources above
:data:`MAX_SOURCE_BYTES` are refused with a message, and bytes that are not UTF-8 are
read as U+FFFD with a note naming the cell and line. What is skipped is checked only for
its brackets and strings.

Standard library only (and :mod:`grader.cell_magics`): nothing of the notebook runs here. What it
knows of the assignment is handed in: the contract's module names and constants (read from the
template by `grader.assignment`).
"""
from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import re
import symtable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .cell_magics import CellMagic, leading_cell_magic

__all__ = ["NotebookError", "code_cells", "count_definitions", "module_text", "notebook_to_module",
           "read_code_cells"]

#: The largest notebook file read at all (what makes a notebook large is its outputs, which are
#: skipped unread: this bounds the time, about 1 s per 100 MB of printed lines on the 2-core machine).
MAX_NOTEBOOK_BYTES = 512 * 2**20
#: The most source text (code cells together) a notebook may hold.
MAX_SOURCE_BYTES = 16 * 2**20
#: The most cells (of any type) a notebook may hold, and fields a notebook, worksheet or cell object
#: may have: far above any real notebook, they bound the reader's per-cell and per-field work.
MAX_CELLS = 20_000
MAX_FIELDS = 1_000


class NotebookError(ValueError):
    """The file is not a notebook that can be read (message for the student)."""


# ---------------------------------------------------------------- reading cells, as a stream

_CHUNK = 1 << 20
_KEY_BYTES = 256          # a longer key is none of ours: its value is skipped
_CELL_TYPE_BYTES = 1024
_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
               (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))
_WS = re.compile(rb"[ \t\r\n]*")
#: In a skipped container: what is neither a bracket nor an unfinished string (complete strings included)
_RUN = re.compile(rb'(?:[^"\[\]{}]+|"[^"\\]*(?:\\.[^"\\]*)*")*', re.DOTALL)
_RUN_WINDOW = 1 << 16
_SCALAR = re.compile(rb"[-+.0-9A-Za-z]*")
_JSON_SCALAR = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null")
_SURROGATES = re.compile("[\ud800-\udfff]")


class _Invalid(Exception):
    """Not JSON, at this line of the file."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _TooMuchSource(Exception):
    pass


class _TooMany(Exception):
    """More cells, or more fields in one object, than a notebook may have."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(what)
        self.what, self.limit = what, limit


class _Reader:
    """A JSON reader over a file that holds one chunk at a time: values are either skipped
    (nothing kept, whatever their size) or captured as their raw bytes, up to a limit."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.buf = b""
        self.pos = 0
        self.lines = 0            # newlines before buf[counted]
        self.counted = 0          # line() counts from here on: each byte is counted once
        self.eof = False
        self.parts: list[bytes] | None = None   # the value being captured
        self.mark = 0
        self.size = 0
        self.limit = 0
        self.over = False
        self.source_budget = MAX_SOURCE_BYTES
        self.cells = 0            # cells met so far, of any type
        self.not_object = False   # a cell that is not a JSON object was met

    def more(self) -> bool:
        """Read the next chunk, keeping only buf[pos:]; False at the end of the file."""
        if self.eof:
            return False
        if self.parts is not None:
            self._take(self.buf[self.mark:self.pos])
            self.mark = 0
        self.lines += self.buf.count(b"\n", self.counted, self.pos)
        self.counted = 0
        chunk = self.fh.read(_CHUNK)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def _take(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            self.over, self.parts = True, []
        elif not self.over:
            self.parts.append(piece)

    def line(self) -> int:
        # pos only moves forward within buf: counting from where the last call stopped keeps
        # line() linear in the file, however many cells ask for their line
        self.lines += self.buf.count(b"\n", self.counted, self.pos)
        self.counted = self.pos
        return self.lines + 1

    def error(self) -> _Invalid:
        return _Invalid(self.line())

    def peek(self) -> int | None:
        """The next byte that is not whitespace (consumed up to it), or None at the end."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return None

    def expect(self, byte: int) -> None:
        if self.peek() != byte:
            raise self.error()
        self.pos += 1

    def _string(self) -> None:
        """Pass over the string that starts here: find its closing quote (one not escaped by an
        odd run of backslashes) at memchr speed, whatever the string holds."""
        self.pos += 1
        while True:
            quote = self.buf.find(b'"', self.pos)
            if quote < 0:
                tail = self.buf[self.pos:]
                # only the parity of a trailing run of \ matters: one (odd) or none is kept for the next chunk
                self.pos = len(self.buf) - (len(tail) - len(tail.rstrip(b"\\"))) % 2
                if not self.more():
                    raise self.error()
                continue
            before = self.buf[self.pos:quote]
            escaped = (len(before) - len(before.rstrip(b"\\"))) % 2
            self.pos = quote + 1
            if not escaped:
                return

    def _scalar(self) -> None:
        while True:
            m = _SCALAR.match(self.buf, self.pos)
            if m.end() - self.pos > 64:
                raise self.error()
            if m.end() < len(self.buf) or not self.more():
                break
        if not _JSON_SCALAR.fullmatch(m.group()):
            raise self.error()
        self.pos = m.end()

    def skip(self) -> None:
        """Pass over one value, keeping nothing of it."""
        c = self.peek()
        if c is None:
            raise self.error()
        if c == 0x22:
            self._string()
            return
        if c not in (0x5B, 0x7B):
            self._scalar()
            return
        depth = 0
        while True:
            # whole runs of short strings and scalars at regex speed (a window bounds the regex's own
            # memory); a long or cut string stops the run at its quote and is passed by _string
            self.pos = _RUN.match(self.buf, self.pos, min(len(self.buf), self.pos + _RUN_WINDOW)).end()
            if self.pos == len(self.buf):
                if not self.more():
                    raise self.error()
                continue
            c = self.buf[self.pos]
            if c == 0x22:
                self._string()
            elif c not in (0x5B, 0x5D, 0x7B, 0x7D):
                continue    # the window ended in the middle of a run
            elif c in (0x5B, 0x7B):
                depth += 1
                self.pos += 1
            else:
                depth -= 1
                self.pos += 1
                if depth == 0:
                    return

    def capture(self, limit: int) -> bytes | None:
        """The raw bytes of the next value, or None (after skipping it) when it is longer than `limit`."""
        self.peek()
        self.parts, self.mark, self.size, self.limit, self.over = [], self.pos, 0, limit, False
        try:
            self.skip()
            self._take(self.buf[self.mark:self.pos])
            return None if self.over else b"".join(self.parts)
        finally:
            self.parts = None

    def key(self) -> str | None:
        if self.peek() != 0x22:
            raise self.error()
        raw = self.capture(_KEY_BYTES)
        if raw is None:
            return None
        try:
            return json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            raise self.error() from None

    def members(self) -> Iterator[str | None]:
        """The keys of the object that starts here; the caller reads or skips each one's value."""
        self.expect(0x7B)
        if self.peek() == 0x7D:
            self.pos += 1
            return
        fields = 0
        while True:
            fields += 1
            if fields > MAX_FIELDS:
                raise _TooMany("fields in one object", MAX_FIELDS)
            key = self.key()
            self.expect(0x3A)
            yield key
            c = self.peek()
            self.pos += 1
            if c == 0x7D:
                return
            if c != 0x2C:
                raise self.error()

    def items(self) -> Iterator[None]:
        """One step per element of the array that starts here; the caller reads or skips each."""
        self.expect(0x5B)
        if self.peek() == 0x5D:
            self.pos += 1
            return
        while True:
            yield None
            c = self.peek()
            self.pos += 1
            if c == 0x5D:
                return
            if c != 0x2C:
                raise self.error()


def _read_cell(r: _Reader):
    """A code cell as {key: (raw bytes, line)} for cell_type, source and input, else None: everything
    else is skipped, and nothing of another cell is kept (a cell that is no object is only noted)."""
    r.cells += 1
    if r.cells > MAX_CELLS:
        raise _TooMany("cells", MAX_CELLS)
    if r.peek() != 0x7B:
        r.skip()
        r.not_object = True
        return None
    cell: dict[str, tuple[bytes, int]] = {}
    too_long = False
    for key in r.members():
        if key == "cell_type":
            cell[key] = (r.capture(_CELL_TYPE_BYTES), r.line())
        elif key in ("source", "input"):
            if "cell_type" in cell and not _is_code(cell["cell_type"][0]):
                r.skip()              # a markdown or raw cell's text is not needed
                continue
            line = r.line()
            raw = r.capture(r.source_budget)
            too_long = too_long or raw is None
            if raw is not None:
                cell[key] = (raw, line)
        else:
            r.skip()                  # outputs, attachments, metadata ...
    if not _is_code(cell.get("cell_type", (None, 0))[0]):   # only code counts (keys come in any order)
        return None
    if too_long:
        raise _TooMuchSource()
    r.source_budget -= sum(len(cell[k][0]) for k in ("source", "input") if k in cell)
    return cell


def _is_code(raw: bytes | None) -> bool:
    if raw == b'"code"':
        return True
    try:
        return raw is not None and json.loads(raw.decode("utf-8", "replace")) == "code"
    except (ValueError, RecursionError):
        return False


def _read_cell_list(r: _Reader) -> list | None:
    if r.peek() != 0x5B:
        r.skip()
        return None
    cells = []
    for _ in r.items():
        cell = _read_cell(r)
        if cell is not None:
            cells.append(cell)
    return cells


def _read_worksheets(r: _Reader) -> list | None:
    if r.peek() != 0x5B:
        r.skip()
        return None
    cells: list = []
    for count, _ in enumerate(r.items(), start=1):
        if count > MAX_FIELDS:
            raise _TooMany("worksheets", MAX_FIELDS)
        if r.peek() != 0x7B:
            r.skip()
            continue
        for key in r.members():
            if key == "cells":
                cells += _read_cell_list(r) or []
            else:
                r.skip()
    return cells


def _scan(fh, name: str) -> tuple[list | None, list | None, bool]:
    """(the "cells" list's code cells, the nbformat-3 worksheets' code cells, whether a cell is no
    object) of the notebook, outputs never read."""
    r = _Reader(fh)
    while len(r.buf) < 4 and r.more():   # enough for a byte-order mark
        pass
    for bom, encoding in _OTHER_BOMS:
        if r.buf.startswith(bom):
            raise NotebookError(f"{name} is not UTF-8 text (it is saved as {encoding}), "
                                "so it is not a saved Jupyter notebook")
    if r.buf.startswith(_BOM):
        r.pos = len(_BOM)
    if r.peek() != 0x7B:
        r.skip()
        if r.peek() is not None:
            raise r.error()
        raise NotebookError(f"{name} is JSON but not a notebook (no cells)")
    cells = worksheets = None
    for key in r.members():
        if key == "cells":
            cells = _read_cell_list(r)
        elif key == "worksheets":
            worksheets = _read_worksheets(r)
        else:
            r.skip()
    if r.peek() is not None:
        raise r.error()
    return cells, worksheets, r.not_object


def _decode(raw: bytes, line: int, name: str) -> tuple[object, bool]:
    """A captured JSON value, and whether its bytes were not all UTF-8 (those become lone surrogates)."""
    try:
        text, bad = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, bad = raw.decode("utf-8", "surrogateescape"), True
    try:
        return json.loads(text), bad
    except (ValueError, RecursionError):
        raise NotebookError(f"{name} is not valid notebook JSON (line {line}); "
                            "save it again from Jupyter and re-upload") from None


def read_code_cells(ipynb: Path) -> tuple[list[tuple[int, str]], list[str]]:
    """``(number, source)`` of every code cell, numbered from 1 among code cells, and notes.

    nbformat 4 (``cells``, ``source``) and 3 (``worksheets``, ``input``) are read; a source
    may be a string or a list of strings. Only the cells' types and sources are kept in
    memory. Text that is not UTF-8 is read with U+FFFD in its place, and a note names the
    cells and lines. Raises :class:`NotebookError`.
    """
    path = Path(ipynb)
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(
                f"{name} is {_megabytes(size)}, more than the {_megabytes(MAX_NOTEBOOK_BYTES)} a notebook may be: "
                "its outputs (plots, printed logs) make it that large. Clear them (Kernel > Restart & Clear "
                "Output), save, and resubmit")
        with open(path, "rb") as fh:
            cells, worksheets, not_object = _scan(fh, name)
    except OSError as exc:
        raise NotebookError(f"{name} could not be opened ({exc.strerror or exc})") from None
    except _Invalid as exc:
        raise NotebookError(f"{name} is not valid notebook JSON (line {exc.line}); "
                            "save it again from Jupyter and re-upload") from None
    except _TooMuchSource:
        raise NotebookError(f"the code cells of {name} hold more than {_megabytes(MAX_SOURCE_BYTES)} of text, "
                            "more than any homework needs: remove the data pasted into cells and resubmit") from None
    except _TooMany as exc:
        raise NotebookError(f"{name} has more than {exc.limit:,} {exc.what}, more than any saved Jupyter "
                            "notebook: save it again from Jupyter and re-upload") from None
    except RecursionError:
        raise NotebookError(f"{name} is not valid notebook JSON; save it again from Jupyter and re-upload") from None
    if isinstance(cells, list):
        key = "source"
    elif isinstance(worksheets, list):  # nbformat 3
        cells, key = worksheets, "input"
    else:
        raise NotebookError(f"{name} is JSON but not a notebook (no cells)")
    if not_object:
        raise NotebookError(f"{name} has a cell that is not a JSON object")
    out: list[tuple[int, str]] = []
    not_utf8: list[tuple[int, list[int]]] = []
    for cell in cells:
        raw = cell.get(key, cell.get("source"))
        source, bad = _decode(*raw, name) if raw is not None else ("", False)
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"code cell {len(out) + 1} of {name} has a source "
                                "that is neither text nor a list of lines")
        number = len(out) + 1
        if bad or _SURROGATES.search(source):
            lines = [i for i, line in enumerate(source.split("\n"), start=1) if _SURROGATES.search(line)]
            not_utf8.append((number, lines))
            source = _SURROGATES.sub("\ufffd", source)
        out.append((number, source))
    return out, [_not_utf8_note(not_utf8)] if not_utf8 else []


def code_cells(ipynb: Path) -> list[tuple[int, str]]:
    """``(number, source)`` of every code cell (see :func:`read_code_cells`). Raises :class:`NotebookError`."""
    return read_code_cells(ipynb)[0]


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


def _not_utf8_note(cells: list[tuple[int, list[int]]]) -> str:
    def where(number: int, lines: list[int]) -> str:
        shown = ", ".join(map(str, lines[:4])) + (", ..." if len(lines) > 4 else "")
        return f"{number} (line{'s' if len(lines) > 1 else ''} {shown})" if lines else str(number)

    parts = [where(n, lines) for n, lines in cells]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (f"Code cell{'s' if len(cells) > 1 else ''} {listed} "
            f"{'holds' if len(cells) == 1 else 'hold'} bytes that are not UTF-8 text; "
            "they were read as the replacement character \ufffd, which changes nothing in a comment but does "
            "change a string. Jupyter saves notebooks as UTF-8: save it from Jupyter again if you edited it "
            "elsewhere.")


_MAGIC = re.compile(r"^(\s*)(%|!|\?|[A-Za-z_][\w.,\s]*=\s*[%!])")   # %magic, !shell, ?help, x = !ls


def _cell_python(source: str) -> tuple[str | None, list[CellMagic]]:
    """What of the cell IPython runs as the notebook's Python, in the notebook's namespace, and the
    cell magics it starts with: the body of ``%%time``, ``%%capture`` ... (their lines blanked, so
    line numbers stay the cell's), or None when a magic does not run its body there (``%%bash``,
    ``%%timeit``, an unknown one: see :mod:`grader.cell_magics`)."""
    magics: list[CellMagic] = []
    while (magic := leading_cell_magic(source)) is not None:   # `%%capture` over `%%time` runs both
        magics.append(magic)
        if not magic.runs_body:
            return None, magics
        source = magic.body
    return source, magics


def _without_magics(source: str) -> tuple[str | None, str]:
    """The cell's Python with IPython line magics / shell lines replaced by ``pass`` (line numbers kept).

    Returns ``(None, "%%name")`` for a cell whose cell magic does not run its body as the notebook's Python.
    """
    python, magics = _cell_python(source)
    if python is None:
        return None, "%%" + magics[-1].name
    kept = []
    for line in python.splitlines():
        m = _MAGIC.match(line)
        stripped = line.rstrip()
        if m:
            kept.append(m.group(1) + "pass")
        elif stripped.endswith("?") and not stripped.endswith("\\?") and _is_help(stripped):
            kept.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", ""


def _is_help(line: str) -> bool:
    """``np.linspace?`` / ``obj??``: IPython help, not Python."""
    return re.fullmatch(r"\s*[A-Za-z_][\w.]*\?{1,2}", line) is not None


def _parse(source: str) -> ast.Module:
    """Parse what of a cell runs as the notebook's Python, first as is (a ``%`` inside a string must
    survive), then without line magics."""
    python = _cell_python(source)[0] or ""
    try:
        return ast.parse(python)
    except SyntaxError:
        cleaned, _ = _without_magics(python)
        return ast.parse(cleaned or "")


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TRY_TYPES = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)


def _block_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The bodies of a block whose definitions are kept (if, try, with), or [] for any other statement."""
    if isinstance(stmt, ast.If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, _TRY_TYPES):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [stmt.body]
    return []


def _count_kept_definitions(stmts: list[ast.stmt]) -> int:
    return sum(1 if isinstance(s, _DEFINITIONS) else sum(_count_kept_definitions(b) for b in _block_bodies(s))
               for s in stmts)


def count_definitions(ipynb: Path) -> int:
    """The number of ``def``/``class`` statements at top level or in ``if``/``try``/``with`` blocks;
    -1 for a notebook that cannot be read."""
    try:
        cells = code_cells(ipynb)
    except NotebookError:
        return -1
    total = 0
    for _, source in cells:
        if _without_magics(source)[0] is None:
            continue
        try:
            total += _count_kept_definitions(_parse(source).body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return total


# ---------------------------------------------------------------- what is cheap

#: Calls a kept assignment may make, by canonical dotted name (aliases resolved).
CHEAP_CALLS = frozenset({
    "range", "len", "int", "float", "bool", "str", "complex", "abs", "min", "max", "round",
    "dict", "list", "tuple", "set", "frozenset",
    "torch.tensor", "torch.as_tensor", "torch.zeros", "torch.ones", "torch.full", "torch.linspace",
    "torch.arange", "torch.eye", "torch.device", "torch.Size",
    "numpy.array", "numpy.asarray", "numpy.zeros", "numpy.ones", "numpy.full", "numpy.linspace",
    "numpy.arange", "numpy.eye", "numpy.float32", "numpy.float64",
})
#: Any call under these prefixes is cheap too (``math.sqrt``; ``nn.Linear``, ``nn.MSELoss``...).
CHEAP_PREFIXES = ("math.",)
_NN_PREFIX = "torch.nn."
#: Conventional aliases, used when the notebook's own imports do not say.
_DEFAULT_ALIASES = {"np": "numpy", "nn": "torch.nn", "F": "torch.nn.functional"}
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__"}
_PLOT_ROOTS = {"plt", "matplotlib", "pyplot", "sns", "seaborn", "pylab"}
_PLOT_METHODS = {"plot", "show", "scatter", "figure", "subplot", "subplots", "legend", "xlabel", "ylabel",
                 "title", "savefig", "hist", "imshow", "grid", "xlim", "ylim", "semilogy", "loglog",
                 "tight_layout", "suptitle", "set_xlabel", "set_ylabel", "set_title", "axis", "bar"}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


#: Builtins a kept assignment never calls: they read files or the keyboard, or run strings as code.
_DENIED_BUILTINS = frozenset({"open", "input", "exec", "eval", "compile", "breakpoint", "exit", "quit", "help",
                              "__import__"})
#: Decorators that only wrap or mark what they decorate (said nothing about in the notes).
_HARMLESS_DECORATORS = frozenset({
    "staticmethod", "classmethod", "property", "functools.wraps", "functools.lru_cache", "functools.cache",
    "functools.cached_property", "functools.total_ordering", "dataclasses.dataclass", "abc.abstractmethod",
    "typing.overload", "typing.final", "torch.no_grad", "torch.enable_grad", "torch.inference_mode",
    "numpy.vectorize",
})
#: How much a kept assignment may call: the cheap whitelist only; for a name kept code reads, also
#: imported modules, builtins, methods of kept values and the notebook's classes; for what an answer
#: the grader reads (the template's constants) is computed from, also the notebook's functions.
CHEAP, FOR_DEFINITIONS, FOR_ANSWERS = 0, 1, 2


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


@dataclass
class _Scope:
    """What the kept code has defined so far, and how its imports alias modules."""

    aliases: dict[str, str] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    user: set[str] = field(default_factory=set)       # names bound by the notebook's own def/class/assignments
    functions: set[str] = field(default_factory=set)  # ... by a kept `def`
    classes: set[str] = field(default_factory=set)    # ... by a kept `class`
    uncertain: set[str] = field(default_factory=set)  # bound only by kept code wrapped in try: may be missing
    star: bool = False                                  # a kept `from x import *`: any name may exist
    # how to undo each change since `begin` (a statement that cannot be converted is undone): changes
    # cost their own size, never the scope's, so converting stays linear in the notebook
    undo: list = field(default_factory=list, repr=False)

    def canonical(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head) or _DEFAULT_ALIASES.get(head, head)
        return f"{base}.{rest}" if rest else base

    def has(self, name: str) -> bool:
        return self.star or name in self.defined or name in _BUILTINS

    def bind(self, names: set[str], kind: str = "value", *, certain: bool = True) -> None:
        if certain:
            self._remove(self.uncertain, names)
        else:   # a name defined for sure before keeps that value when the wrapped statement fails
            self._add(self.uncertain, {n for n in names if n not in self.defined or n in self.uncertain})
        self._add(self.defined, names)
        self._add(self.user, names)
        (self._add if kind == "function" else self._remove)(self.functions, names)
        (self._add if kind == "class" else self._remove)(self.classes, names)

    def bind_module(self, name: str, target: str, *, available: bool) -> None:
        """`name` is an imported module or object (`target`), no longer one of the notebook's own."""
        old = self.aliases.get(name, _UNSET)
        self.aliases[name] = target
        self.undo.append((self.aliases.pop, name) if old is _UNSET else (self.aliases.__setitem__, name, old))
        self._remove(self.user, {name})
        self._remove(self.functions, {name})
        self._remove(self.classes, {name})
        if available:
            self._add(self.defined, {name})

    def bind_star(self) -> None:
        if not self.star:
            self.star = True
            self.undo.append((setattr, self, "star", False))

    def may_be_missing(self, names: set[str]) -> None:
        self._add(self.uncertain, names)

    def certain(self, names: set[str]) -> set[str]:
        """Those of `names` defined for sure."""
        return {n for n in names if n in self.defined and n not in self.uncertain}

    def begin(self) -> None:
        """From here on, `rollback` undoes every change."""
        self.undo.clear()

    def rollback(self) -> None:
        while self.undo:
            action, *args = self.undo.pop()
            action(*args)

    def _add(self, names: set[str], new: set[str]) -> None:
        for n in new:
            if n not in names:
                names.add(n)
                self.undo.append((names.discard, n))

    def _remove(self, names: set[str], gone: set[str]) -> None:
        for n in gone:
            if n in names:
                names.discard(n)
                self.undo.append((names.add, n))


_UNSET = object()


def _cheap_call(call: ast.Call, scope: _Scope) -> bool:
    dotted = _dotted(call.func)
    if dotted is None:
        return False
    if "." not in dotted and dotted in scope.user:   # the notebook's own function, e.g. Model()
        return False
    name = scope.canonical(dotted)
    if name in CHEAP_CALLS or name.startswith(CHEAP_PREFIXES):
        return True
    # nn.Linear(1, 64), nn.MSELoss(), nn.Sequential(...): torch.nn classes (capitalized), not nn.init.*
    return name.startswith(_NN_PREFIX) and name.count(".") == 2 and name.rsplit(".", 1)[1][:1].isupper()


def _callee_ok(call: ast.Call, scope: _Scope, level: int) -> bool:
    """Whether a kept value may make this call at this level (the arguments are checked apart)."""
    if _cheap_call(call, scope):
        return True
    if level == CHEAP or _is_plot(call):
        return False
    func = call.func
    if isinstance(func, ast.Name):
        name = func.id
        if name in scope.classes:
            return True
        if name in scope.user:             # the notebook's own function (or a value it calls)
            return level == FOR_ANSWERS
        return name not in _DENIED_BUILTINS  # a builtin, or a name imported from a module
    if isinstance(func, ast.Attribute):    # np.finfo, np.random.default_rng, rng.normal, Gen().manual_seed
        if _root(func) in scope.functions:
            return level == FOR_ANSWERS
        return _is_cheap(func.value, scope, level)
    return level == FOR_ANSWERS and _is_cheap(func, scope, level)


def _is_cheap(node: ast.AST | None, scope: _Scope, level: int = CHEAP) -> bool:
    """Whether evaluating `node` calls nothing beyond what `level` allows (names are checked apart)."""
    if node is None:
        return True
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _is_cheap(node.value, scope, level)
    if isinstance(node, ast.UnaryOp):
        return _is_cheap(node.operand, scope, level)
    if isinstance(node, ast.BinOp):
        return _is_cheap(node.left, scope, level) and _is_cheap(node.right, scope, level)
    if isinstance(node, ast.BoolOp):
        return all(_is_cheap(v, scope, level) for v in node.values)
    if isinstance(node, ast.Compare):
        return _is_cheap(node.left, scope, level) and all(_is_cheap(c, scope, level) for c in node.comparators)
    if isinstance(node, ast.IfExp):
        return all(_is_cheap(n, scope, level) for n in (node.test, node.body, node.orelse))
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_cheap(e, scope, level) for e in node.elts)
    if isinstance(node, ast.Dict):
        return (all(_is_cheap(k, scope, level) for k in node.keys)
                and all(_is_cheap(v, scope, level) for v in node.values))
    if isinstance(node, ast.Starred):
        return _is_cheap(node.value, scope, level)
    if isinstance(node, ast.Subscript):
        return _is_cheap(node.value, scope, level) and _is_cheap(node.slice, scope, level)
    if isinstance(node, ast.Slice):
        return all(_is_cheap(n, scope, level) for n in (node.lower, node.upper, node.step))
    if isinstance(node, ast.JoinedStr):
        return all(_is_cheap(v, scope, level) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return _is_cheap(node.value, scope, level) and _is_cheap(node.format_spec, scope, level)
    if isinstance(node, ast.Lambda):  # the body runs only when called
        args = node.args
        return all(_is_cheap(d, scope, level) for d in [*args.defaults, *args.kw_defaults])
    if isinstance(node, ast.Call):
        return (_callee_ok(node, scope, level) and all(_is_cheap(a, scope, level) for a in node.args)
                and all(_is_cheap(k.value, scope, level) for k in node.keywords))
    if level and isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return (all(not g.is_async and _is_cheap(g.iter, scope, level) and all(_is_cheap(i, scope, level)
                                                                                 for i in g.ifs)
                    for g in node.generators)
                and all(_is_cheap(n, scope, level) for n in parts))
    return False


def _loaded_names(node: ast.AST | None) -> set[str]:
    """Global names evaluated when `node` runs now (lambda bodies run later: not counted)."""
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.Lambda):
        args = node.args
        return set().union(*(_loaded_names(d) for d in [*args.defaults, *args.kw_defaults] if d is not None))
    names: set[str] = set()
    for child in ast.iter_child_nodes(node):
        names |= _loaded_names(child)
    return names


_COMPREHENSIONS = {"listcomp", "setcomp", "dictcomp", "genexpr"}


def _global_reads(node: ast.AST | None, *, deferred: bool) -> set[str]:
    """The global names `node` reads when it runs (comprehensions and class bodies included); with
    `deferred`, also what the functions and lambdas it defines read when they are called (scoping by
    :mod:`symtable`: parameters and locals are not globals)."""
    if node is None:
        return set()
    names = _reads_without_scopes(node)
    if names is not None:
        return names
    try:
        mode = "eval" if isinstance(node, ast.expr) else "exec"
        table = symtable.symtable(ast.unparse(node), "<cell>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _loaded_names(node)
    names: set[str] = set()

    def visit(t: symtable.SymbolTable, top: bool) -> None:
        for sym in t.get_symbols():
            if sym.is_referenced() and (top or sym.is_global()):
                names.add(sym.get_name())
        for child in t.get_children():
            if deferred or child.get_name().strip("<>") in _COMPREHENSIONS or child.get_type() == "class":
                visit(child, False)

    visit(table, True)
    return names


_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.FunctionDef,
           ast.AsyncFunctionDef, ast.ClassDef, ast.Global, ast.Nonlocal)


def _reads_without_scopes(node: ast.AST) -> set[str] | None:
    """The names `node` reads when it opens no scope of its own (most assignments and tests): every
    loaded name, as symtable would say, without unparsing it; None when it does open one."""
    names = set()
    for n in ast.walk(node):
        if isinstance(n, _SCOPES):
            return None
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            names.add(n.id)
    return names


def _target_names(target: ast.AST) -> tuple[set[str], set[str]]:
    """(names bound, names that must already exist) by an assignment target."""
    if isinstance(target, ast.Name):
        return {target.id}, set()
    if isinstance(target, (ast.Tuple, ast.List)):
        bound, needed = set(), set()
        for elt in target.elts:
            b, n = _target_names(elt)
            bound |= b
            needed |= n
        return bound, needed
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return set(), _loaded_names(target)   # x.attr = ..., d[k] = ...


def _assigned(s: ast.Assign | ast.AnnAssign | ast.AugAssign) -> tuple[set[str], set[str]]:
    targets = s.targets if isinstance(s, ast.Assign) else [s.target]
    bound, needed = set(), set()
    for t in targets:
        b, n = _target_names(t)
        bound |= b
        needed |= n
    return bound, needed


def _def_time_names(stmt: ast.AST, *, annotations: bool = True) -> set[str]:
    """Names a def/class statement evaluates when it runs: decorators, bases, defaults, annotations."""
    nodes: list[ast.AST] = list(stmt.decorator_list)
    if isinstance(stmt, ast.ClassDef):
        nodes += stmt.bases + [k.value for k in stmt.keywords]
    else:
        a = stmt.args
        nodes += [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
        if annotations:
            nodes += [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                      if x is not None and x.annotation is not None]
        if annotations and stmt.returns is not None:
            nodes.append(stmt.returns)
    names: set[str] = set()
    for n in nodes:
        names |= _loaded_names(n)
    return names


def _definition_reads(stmt: ast.stmt, *, lazy: bool) -> set[str]:
    """The names a def/class statement reads when it runs: decorators, bases, defaults, annotations
    (unless lazy), and a class body's own statements."""
    names = _def_time_names(stmt, annotations=not lazy)
    if isinstance(stmt, ast.ClassDef):
        names |= _global_reads(stmt, deferred=False) - {stmt.name}
    return names


def _bound_by(stmt: ast.stmt) -> set[str]:
    """Every global name a statement may bind when it runs (definitions' bodies excluded)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, _DEFINITIONS):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(stmt)
    return names


def _definitions_in(stmts: list[ast.stmt]) -> list[str]:
    """The names of the def/class statements anywhere in these statements (not inside definitions)."""
    found: list[str] = []
    for s in stmts:
        if isinstance(s, _DEFINITIONS):
            found.append(s.name)
            continue
        for child in ast.iter_child_nodes(s):
            if isinstance(child, ast.stmt):
                found += _definitions_in([child])
            elif isinstance(child, (ast.ExceptHandler, getattr(ast, "match_case", ast.ExceptHandler))):
                found += _definitions_in(child.body)
    return list(dict.fromkeys(found))


def _catches_import_error(handler_type: ast.AST | None) -> bool:
    if handler_type is None:
        return True
    types = handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type]
    return any((_dotted(t) or "").rsplit(".", 1)[-1] in {"ImportError", "ModuleNotFoundError", "Exception",
                                                          "BaseException"} for t in types)


# ---------------------------------------------------------------- what kept code needs

@dataclass
class _Needs:
    """Found before converting: which names kept code reads, and what reads them."""

    names: set[str]                 # read by a definition or an answer (transitively)
    answers: set[str]               # what the answers the grader reads are computed from (transitively)
    readers: dict[str, set[str]]    # name -> what reads it (for the notes)
    lazy_annotations: bool


def _analyse(trees: list[ast.Module], constants: frozenset[str]) -> _Needs:
    readers: dict[str, set[str]] = {}
    start: set[str] = set()
    assignments: list[tuple[set[str], set[str]]] = []
    lazy = False

    def read_by(names: set[str], reader: str) -> None:
        for n in names:
            start.add(n)
            readers.setdefault(n, set()).add(reader)

    def visit(stmts: list[ast.stmt]) -> None:
        nonlocal lazy
        for s in stmts:
            if isinstance(s, ast.ImportFrom) and s.module == "__future__":
                lazy = lazy or any(a.name == "annotations" for a in s.names)
            elif isinstance(s, _DEFINITIONS):
                read_by(_global_reads(s, deferred=True) - {s.name}, s.name)
            elif isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and s.value is not None:
                bound, needed = _assigned(s)
                assignments.append((bound, needed | _global_reads(s.value, deferred=True)
                                    | (bound if isinstance(s, ast.AugAssign) else set())))
            else:   # an if test or an except clause reads names too, but never one that may be missing
                for body in _block_bodies(s):
                    visit(body)

    for tree in trees:
        for s in tree.body:
            try:
                visit([s])
            except (RecursionError, MemoryError):
                continue

    binding: dict[str, list[int]] = {}   # name -> the assignments that bind it
    for i, (bound, _) in enumerate(assignments):
        for n in bound:
            binding.setdefault(n, []).append(i)

    def close(names: set[str]) -> set[str]:
        """`names` and, transitively, what the assignments binding them read: each name is followed
        once (a pass over every assignment per step of a chain would be quadratic)."""
        names, todo = set(names), list(names)
        while todo:
            name = todo.pop()
            for i in binding.get(name, ()):
                for n in assignments[i][1]:
                    if n != name:
                        readers.setdefault(n, set()).add(name)
                    if n not in names:
                        names.add(n)
                        todo.append(n)
        return names

    return _Needs(close(start | constants), close(set(constants)), readers, lazy)


# ---------------------------------------------------------------- the conversion

@dataclass
class _Skipped:
    """What was left out, by kind, for the one summary note."""

    order: list[str] = field(default_factory=list)
    cells: dict[str, list[int]] = field(default_factory=dict)
    examples: dict[str, dict[str, None]] = field(default_factory=dict)   # distinct, in order

    def add(self, kind: str, cell: int, example: str = "") -> None:
        if kind not in self.cells:
            self.order.append(kind)
            self.cells[kind], self.examples[kind] = [], {}
        self.cells[kind].append(cell)
        if example:
            self.examples[kind].setdefault(example)

    def mark(self) -> dict[str, tuple[int, int]]:
        """What `restore` goes back to: only ever appended to, the record is marked by its lengths
        (a copy would cost the whole record at every block)."""
        return {kind: (len(self.cells[kind]), len(self.examples[kind])) for kind in self.order}

    def restore(self, mark: dict[str, tuple[int, int]]) -> None:
        for kind in self.order[len(mark):]:
            del self.cells[kind], self.examples[kind]
        del self.order[len(mark):]
        for kind, (cells, examples) in mark.items():
            del self.cells[kind][cells:]
            while len(self.examples[kind]) > examples:
                self.examples[kind].popitem()   # the latest first

    def note(self) -> str | None:
        if not self.order:
            return None
        parts = []
        for kind in self.order:
            count = len(self.cells[kind])
            singular, plural = _KINDS[kind]
            text = singular if count == 1 else f"{count} {plural}"
            text += " in " + _cells_text(sorted(set(self.cells[kind])))
            shown = sorted(self.examples[kind], key=len)[:2]   # the shortest say it best
            if shown:
                more = ", ..." if count > len(shown) else ""
                text += f" ({', '.join(shown)}{more})"
            parts.append(text)
        return "Skipped top-level code that runs experiments (not graded): " + ", ".join(parts) + "."


_KINDS = {  # kind -> (one, several)
    "main": ('an `if __name__ == "__main__":` block', '`if __name__ == "__main__":` blocks'),
    "for": ("a for-loop", "for-loops"),
    "while": ("a while-loop", "while-loops"),
    "with": ("a with-block", "with-blocks"),
    "if": ("an if-block", "if-blocks"),
    "try": ("a try-block", "try-blocks"),
    "plot": ("a plotting call", "plotting calls"),
    "call": ("a call", "calls"),
    "assign-call": ("an assignment that calls functions", "assignments that call functions"),
    "assign-needs": ("an assignment that uses skipped results", "assignments that use skipped results"),
    "def-needs": ("a definition that uses skipped results", "definitions that use skipped results"),
    "expr": ("a displayed value", "displayed values"),
    "other": ("another statement", "other statements"),
}


def _cells_text(cells: list[int]) -> str:
    runs: list[list[int]] = []
    for c in cells:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    if len(runs) == 1 and len(runs[0]) > 1:
        return f"cells {runs[0][0]}-{runs[0][-1]}"
    if len(cells) == 1:
        return f"cell {cells[0]}"
    return "cells " + ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _short(stmt: ast.AST, limit: int = 40) -> str:
    try:
        text = ast.unparse(stmt).splitlines()[0]
    except Exception:
        return ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _and(items: list[str], limit: int = 4) -> str:
    items = list(dict.fromkeys(items))
    if len(items) > limit:
        items = items[:limit] + [f"{len(items) - limit} more"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _is_main_guard(stmt: ast.AST) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    sides = [stmt.test.left, *stmt.test.comparators]
    return (len(sides) == 2 and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _is_plot(call: ast.AST) -> bool:
    if not isinstance(call, ast.Call):
        return False
    dotted = _dotted(call.func) or ""
    root = _root(call.func)
    attr = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    return root in _PLOT_ROOTS or attr in _PLOT_METHODS or dotted.startswith("display")


def _import_top(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(stmt, ast.ImportFrom):
        return [stmt.module.split(".")[0]] if stmt.module and stmt.level == 0 else []
    return [a.name.split(".")[0] for a in stmt.names]


def _installed(top: str) -> bool:
    """Whether the grader can import the top-level package `top` (found, never imported)."""
    if not top.isidentifier():
        return False
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def _guarded(node: ast.stmt, exception: str) -> ast.Try:
    return ast.Try(body=[node], handlers=[ast.ExceptHandler(type=ast.Name(exception, ast.Load()), name=None,
                                                            body=[ast.Pass()])], orelse=[], finalbody=[])


class _Converter:
    def __init__(self, folder: Path, needs: _Needs, constants: frozenset[str], modules: tuple[str, ...]) -> None:
        self.folder = folder
        self.needs = needs
        self.constants = constants
        self.modules = modules           # the contract's: a notebook may import them, but they are the submission's
        self.scope = _Scope()
        self.kept: list[tuple[int, str]] = []
        self.future: list[ast.stmt] = []
        self.skipped = _Skipped()
        self.missing_packages: dict[str, list[str]] = {}
        self.installed_cache: dict[str, bool] = {}
        self.ran: list[tuple[int, str, set[str]]] = []           # kept assignments that call functions
        self.definition_time: list[str] = []                     # what kept definitions run when defined
        self.unwrapped: list[str] = []                           # blocks replaced by what they keep
        self.loop_definitions: list[tuple[str, int, list[str]]] = []
        self.set_by_skipped: dict[str, list[int]] = {}           # name -> cells of skipped code binding it
        self.kept_definitions: list[ast.stmt] = []
        self.magic_cells: dict[tuple[str, str], list[tuple[int, list[str]]]] = {}   # (magic, why) -> cells

    # ------------------------------------------------------------ bookkeeping

    def installed(self, top: str) -> bool:
        if top not in self.installed_cache:
            self.installed_cache[top] = _installed(top)
        return self.installed_cache[top]

    def local(self, top: str) -> bool:
        """A module of the submission (a contract module or a file next to the notebook)."""
        return top in self.modules or (self.folder / f"{top}.py").is_file() or (self.folder / top).is_dir()

    def bind_import(self, stmt: ast.Import | ast.ImportFrom, *, available: bool) -> None:
        for alias in stmt.names:
            if alias.name == "*":
                if available:
                    self.scope.bind_star()
                continue
            if isinstance(stmt, ast.Import):
                bound = alias.asname or alias.name.split(".")[0]
                target = alias.name if alias.asname else alias.name.split(".")[0]
            else:
                bound = alias.asname or alias.name
                target = f"{stmt.module}.{alias.name}" if stmt.module else alias.name
            self.scope.bind_module(bound, target, available=available)

    def lazy(self) -> bool:
        return self.needs.lazy_annotations

    def evaluable(self, node: ast.AST | None) -> bool:
        """Whether kept code can evaluate `node` now: names it has, calls it may make (it may still raise)."""
        return (_is_cheap(node, self.scope, FOR_DEFINITIONS)
                and all(self.scope.has(n) for n in _global_reads(node, deferred=False)))

    def risky(self, node: ast.AST | None) -> bool:
        """Whether evaluating `node` may raise: it calls beyond the cheap list, or reads a name that may be missing."""
        return not _is_cheap(node, self.scope) or bool(_global_reads(node, deferred=False) & self.scope.uncertain)

    def certain(self, s: ast.stmt) -> set[str]:
        """What `s` may bind that is defined for sure now (what a block keeps of it binds no other name)."""
        return self.scope.certain(_bound_by(s))

    def conditional(self, node: ast.stmt, before: set[str]) -> None:
        """Names that kept code binds inside an if or a try may be missing afterwards."""
        self.scope.may_be_missing(_bound_by(node) - before)

    def skip(self, cell: int, s: ast.stmt, kind: str | None = None, example: str = "") -> None:
        if kind is None:
            if isinstance(s, (ast.For, ast.AsyncFor)):
                kind = "for"
            elif isinstance(s, ast.While):
                kind = "while"
            elif isinstance(s, ast.Expr) and _is_plot(s.value):
                kind = "plot"
            elif isinstance(s, ast.Expr) and isinstance(s.value, (ast.Call, ast.Await)):
                kind, example = "call", _short(s)
            elif isinstance(s, ast.Expr):
                kind = "expr"
            else:
                kind = "other"
        self.skipped.add(kind, cell, example)
        for name in _bound_by(s):
            self.set_by_skipped.setdefault(name, []).append(cell)
        if kind in ("for", "while", "other"):
            inside = _definitions_in([s])
            if inside:
                self.loop_definitions.append((kind, cell, inside))

    def magic_cell(self, cell: int, magic: CellMagic) -> None:
        """A cell whose cell magic does not run its body as the notebook's Python: it defines nothing."""
        try:
            body = ast.parse(_without_magics(magic.body)[0] or "").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            body = []   # not Python (a shell script, HTML ...): nothing it could define
        for s in body:
            for name in _bound_by(s):
                self.set_by_skipped.setdefault(name, []).append(cell)
        self.magic_cells.setdefault((magic.name, magic.why_not), []).append((cell, _definitions_in(body)))

    # ------------------------------------------------------------ statements

    def statement(self, cell: int, s: ast.stmt, guarded: bool = False) -> list[ast.stmt]:
        """What is kept of one statement (nothing, itself, or a filtered or wrapped version)."""
        if isinstance(s, ast.ImportFrom) and s.module == "__future__":
            self.future.append(s)
            return []
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            return self.import_(cell, s, guarded)
        if isinstance(s, _DEFINITIONS):
            return self.definition(cell, s)
        if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self.assignment(cell, s)
        if isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            return []  # a docstring or a `pass` left by a magic: nothing to run, nothing to say
        if isinstance(s, ast.If):
            return self.if_block(cell, s, guarded)
        if isinstance(s, _TRY_TYPES):
            return self.try_block(cell, s, guarded)
        if isinstance(s, (ast.With, ast.AsyncWith)):
            return self.unwrap("with", cell, s, s.body, guarded, "a with-block in cell {cell} (the with statement "
                                                                  "itself was not run)")
        self.skip(cell, s)
        return []

    def block(self, cell: int, stmts: list[ast.stmt], guarded: bool) -> list[ast.stmt]:
        kept: list[ast.stmt] = []
        for s in stmts:
            kept += self.statement(cell, s, guarded)
        return kept

    def import_(self, cell: int, s: ast.Import | ast.ImportFrom, guarded: bool) -> list[ast.stmt]:
        if isinstance(s, ast.ImportFrom) and s.level:
            self.skip(cell, s, "other")
            return []
        # the submission's own modules are guarded even when a same-named package is installed:
        # which one the child finds is the child's business, and a failed import skips only this line
        missing = [t for t in _import_top(s) if self.local(t) or not self.installed(t)]
        for t in missing:
            if not self.local(t):
                self.missing_packages.setdefault(t, []).append(_short(s, 60))
        self.bind_import(s, available=not missing)
        # inside a try that catches ImportError, the notebook's own handler decides what happens
        return [_guarded(s, "ImportError") if missing and not guarded else s]

    def definition(self, cell: int, s: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[ast.stmt]:
        reads = _definition_reads(s, lazy=self.lazy())
        needed = {n for n in reads if not self.scope.has(n)}
        if needed:
            self.skipped.add("def-needs", cell, f"{s.name} needs {', '.join(sorted(needed))}")
            self.set_by_skipped.setdefault(s.name, []).append(cell)
            return []
        runs = self.runs_when_defined(s)
        self.definition_time += [f"{what} in cell {cell}" for what in runs]
        # what runs when it is defined, or a name that may be missing, may make the definition raise
        certain = not runs and not reads & self.scope.uncertain
        self.scope.bind({s.name}, "class" if isinstance(s, ast.ClassDef) else "function", certain=certain)
        self.kept_definitions.append(s)
        return [s] if certain else [_guarded(s, "Exception")]

    def harmless(self, decorator: ast.expr) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(decorator, ast.Call) and not _is_cheap(ast.Tuple([*decorator.args, *(
                k.value for k in decorator.keywords)], ast.Load()), self.scope):
            return False
        if isinstance(target, ast.Attribute) and target.attr in ("setter", "getter", "deleter"):
            return True
        dotted = _dotted(target)
        return dotted is not None and self.scope.canonical(dotted) in _HARMLESS_DECORATORS

    def runs_when_defined(self, s: ast.stmt, owner: str = "") -> list[str]:
        """What a def/class statement runs when it is defined, beyond cheap values (for the notes)."""
        name = owner + s.name
        found = [f"the decorator @{_short(d, 30)} of {name}" for d in s.decorator_list if not self.harmless(d)]
        if isinstance(s, ast.ClassDef):
            if not all(_is_cheap(b, self.scope) for b in [*s.bases, *(k.value for k in s.keywords)]):
                found.append(f"the bases of class {name}")
            for st in s.body:
                if isinstance(st, _DEFINITIONS):
                    found += self.runs_when_defined(st, owner=f"{name}.")
                elif not (isinstance(st, (ast.Pass, ast.Import, ast.ImportFrom))
                          or (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))
                          or (isinstance(st, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                              and _is_cheap(st.value, self.scope))):
                    found.append(f"the body of class {name} ({_short(st, 30)})")
                    break
            return found
        a = s.args
        found += [f"a default argument of {name} ({_short(d, 30)})"
                  for d in [*a.defaults, *(x for x in a.kw_defaults if x is not None)] if not _is_cheap(d, self.scope)]
        if not self.lazy():
            annotations = [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                           if x is not None and x.annotation is not None] + [s.returns]
            if not all(_is_cheap(x, self.scope) for x in annotations):
                found.append(f"an annotation of {name}")
        return found

    def assignment(self, cell: int, s: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[ast.stmt]:
        scope, value = self.scope, s.value
        if isinstance(s, ast.AnnAssign) and value is None:
            return []  # `x: int` binds nothing
        bound, needed = _assigned(s)
        wanted = bound & self.needs.names
        level = FOR_ANSWERS if bound & self.needs.answers else FOR_DEFINITIONS if wanted else CHEAP
        cheap = _is_cheap(value, scope)
        if not cheap and not (level and _is_cheap(value, scope, level)):
            self.skip(cell, s, "assign-call", _short(s))
            return []
        needed |= _global_reads(value, deferred=False)
        if isinstance(s, ast.AugAssign):
            needed |= bound
        if isinstance(s, ast.AnnAssign) and not self.lazy():
            needed |= _loaded_names(s.annotation)
        if any(not scope.has(n) for n in needed):
            self.skip(cell, s, "assign-needs", _short(s))
            return []
        # one that calls code, or reads a name that may be missing, may raise when the notebook is imported:
        # wrapped, so that it leaves its own names undefined instead of stopping the import
        certain = cheap and not needed & scope.uncertain
        scope.bind(bound, certain=certain)
        if not cheap:
            self.ran.append((cell, _short(s), wanted))
        return [s] if certain else [_guarded(s, "Exception")]

    def if_block(self, cell: int, s: ast.If, guarded: bool) -> list[ast.stmt]:
        if _is_main_guard(s):   # in a notebook __name__ is "__main__": the body runs, the else never does
            return self.unwrap("main", cell, s, s.body, guarded, 'an `if __name__ == "__main__":` block in cell {cell}')
        if self.evaluable(s.test):   # kept as an if, holding what its branches keep
            before, risky, certain = self.skipped.mark(), self.risky(s.test), self.certain(s)
            body, orelse = self.block(cell, s.body, guarded), self.block(cell, s.orelse, guarded)
            if body or orelse:
                node = ast.If(test=s.test, body=body or [ast.Pass()], orelse=orelse)
                self.conditional(node, certain)
                return [_guarded(node, "Exception")] if risky else [node]
            if not _definitions_in([s]):
                self.skipped.restore(before)
            self.skip(cell, s, "if")
            return []
        # the test needs skipped results: the first branch stands in for the block
        others = _definitions_in(s.orelse)
        text = (f"the if-block in cell {{cell}} (its test `{_short(s.test, 30)}` needs results of code that is "
                "skipped or may fail, so its first branch was kept as if the test held"
                + (f"; its else branch, which defines {_and(others)}, was not)" if others else ")"))
        kept = self.unwrap("if", cell, s, s.body, guarded, text)
        if kept:
            for name in {n for st in s.orelse for n in _bound_by(st)}:
                self.set_by_skipped.setdefault(name, []).append(cell)
        return kept

    def unwrap(self, kind: str, cell: int, s: ast.stmt, body: list[ast.stmt], guarded: bool,
               text: str) -> list[ast.stmt]:
        """A block that is not kept as such: what its body keeps takes its place."""
        before = self.skipped.mark()
        kept = self.block(cell, body, guarded)
        if kept:
            self.unwrapped.append(text.format(cell=cell))
            return kept
        if not _definitions_in(body):   # only experiments inside: said as one block
            self.skipped.restore(before)
        self.skip(cell, s, kind)
        return []

    def try_block(self, cell: int, s: ast.Try, guarded: bool) -> list[ast.stmt]:
        before, certain = self.skipped.mark(), self.certain(s)
        catches = any(_catches_import_error(h.type) for h in s.handlers)
        body = self.block(cell, s.body, guarded or catches)
        handlers, kept_handler = [], False
        for h in s.handlers:
            if h.type is not None and (not self.evaluable(h.type) or self.risky(h.type)):
                self.skipped.add("try", cell)   # an except clause naming what kept code may not have
                for name in {n for st in h.body for n in _bound_by(st)}:
                    self.set_by_skipped.setdefault(name, []).append(cell)
                continue
            kept = self.block(cell, h.body, guarded)
            kept_handler = kept_handler or bool(kept)
            handlers.append(ast.ExceptHandler(type=h.type, name=h.name, body=kept or [ast.Pass()]))
        orelse, final = self.block(cell, s.orelse, guarded), self.block(cell, s.finalbody, guarded)
        if not (body or kept_handler or orelse or final):
            if not _definitions_in([s]):
                self.skipped.restore(before)
            self.skip(cell, s, "try")
            return []
        if not handlers:   # every handler needed skipped results
            if not final:
                return body + orelse
            node = ast.Try(body=body + orelse, handlers=[], orelse=[], finalbody=final)
        else:
            node = type(s)(body=body or [ast.Pass()], handlers=handlers, orelse=orelse, finalbody=final)
        self.conditional(node, certain)
        return [node]

    # ------------------------------------------------------------ notes and output

    def readers_of(self, names: set[str]) -> list[str]:
        """What kept code reads these names (for the notes)."""
        return sorted({r for n in names for r in self.needs.readers.get(n, ())
                       if r not in names and self.scope.has(r)})

    def summary_notes(self) -> list[str]:
        notes = []
        if self.ran:
            groups: list[tuple[int, str, list[str]]] = []   # (cell, why, names), in order
            for cell, _, wanted in self.ran:
                readers = self.readers_of(wanted)
                why = ("an answer the grader reads" if wanted & self.constants
                       else f"read by {_and(readers, 2)}" if readers else "read by kept code")
                if groups and groups[-1][:2] == (cell, why):
                    groups[-1][2].extend(sorted(wanted))
                else:
                    groups.append((cell, why, sorted(wanted)))
            shown = [f"{_and(names, 3)} (cell {cell}, {why})" for cell, why, names in groups]
            notes.append("Also kept, although they call functions, the assignments of names that kept code needs: "
                         f"{_and(shown, 4)}. They run when the notebook is imported; one that raises leaves its "
                         "name undefined.")
        if self.definition_time:
            notes.append("Kept definitions run some code as soon as the notebook is imported (Python runs it when "
                         f"it defines them, so it is not skipped): {_and(self.definition_time, 4)}.")
        if self.unwrapped:
            notes.append("From blocks that are not run as such, only their definitions, imports and constants were "
                         f"kept: {_and(self.unwrapped, 4)}.")
        if self.loop_definitions:
            parts = [f"{_and(names, 3)} in cell {cell} ({_KINDS[kind][0] if kind != 'other' else 'a block'})"
                     for kind, cell, names in self.loop_definitions]
            notes.append("Definitions inside loops and other blocks that are not run are not kept: "
                         f"{_and(parts, 4)}. Define them at the top level of a cell.")
        return notes

    def magic_cells_notes(self) -> list[str]:
        """Which cells define nothing because of their cell magic, and why (IPython's reason): a note a magic."""
        parts = []
        for (name, why), cells in self.magic_cells.items():
            numbers = [c for c, _ in cells]
            one = len(numbers) == 1
            text = (f"{_cells_text(numbers).capitalize()} start{'s' if one else ''} with %%{name}: {why}, "
                    f"so {'it defines' if one else 'they define'} nothing")
            defined = [d for _, names in cells for d in names]
            if defined:
                text += (f" ({_and(defined, 4)} there {'is' if len(defined) == 1 else 'are'} not graded: define "
                         f"{'it' if len(defined) == 1 else 'them'} in a cell without %%{name})")
            parts.append(text + ".")
        return parts

    def dropped_names_note(self) -> str | None:
        """Which kept functions (and answers) read a name that only skipped code sets."""
        scope = self.scope
        readers: list[str] = []
        for d in self.kept_definitions:
            dropped = sorted(n for n in _global_reads(d, deferred=True) - {d.name}
                             if not scope.has(n) and n in self.set_by_skipped)
            if dropped:
                cells = sorted({c for n in dropped for c in self.set_by_skipped[n]})
                readers.append(f"{d.name} reads {_and(dropped, 3)} ({_cells_text(cells)})")
        answers = sorted(c for c in self.constants if c in self.set_by_skipped and not scope.has(c))
        parts = []
        if readers:
            parts.append("Kept code reads names that only skipped code sets, so it raises NameError when the grader "
                         f"calls it: {_and(readers, 4)}.")
        if answers:
            cells = sorted({c for n in answers for c in self.set_by_skipped[n]})
            parts.append(f"{_and(answers)} {'is' if len(answers) == 1 else 'are'} set only by skipped code "
                         f"({_cells_text(cells)}), so the grader does not find "
                         f"{'it' if len(answers) == 1 else 'them'}.")
        return " ".join(parts) or None

    def render(self, name: str) -> str:
        safe = "".join(ch if ch.isprintable() else "?" for ch in name)
        lines = [
            f"# Generated by hw3grade from the notebook {safe!r}: its imports, definitions and the",
            "# constants they need are kept; other top-level code was left out (what a definition runs",
            "# when it is defined, such as a class body or a default argument, runs as written).",
            "# `# cell N` is the N-th code cell of the notebook.",
        ]
        lines += [ast.unparse(f) for f in self.future]
        previous = None
        for cell, text in self.kept:
            if cell != previous:
                lines += ["", f"# cell {cell}"]
                previous = cell
            lines.append(text)
        return "\n".join(lines) + "\n"


def notebook_to_module(ipynb: Path, out: Path, modules: tuple[str, ...] = (),
                       constants: frozenset[str] = frozenset()) -> list[str]:
    """Write the graded part of `ipynb` to `out` as a module; return notes for the student.
    `modules` and `constants`: the contract's module names and module constants (answers a student fills in).

    Raises :class:`NotebookError` when the file is not a readable notebook.
    """
    text, notes = module_text(ipynb, modules, constants)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return notes


def module_text(ipynb: Path, modules: tuple[str, ...] = (),
                constants: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """The graded part of `ipynb` as a module's text, and notes for the student (see
    :func:`notebook_to_module`). A MemoryError is the notebook's size, never its nesting: it
    propagates (grader/confined_notebook.py converts under a memory limit and says so)."""
    ipynb = Path(ipynb)
    cells, notes = read_code_cells(ipynb)
    not_run: list[tuple[int, CellMagic]] = []
    parsed: list[tuple[int, ast.Module]] = []
    for number, source in cells:
        python, magics = _cell_python(source)
        if python is None:
            not_run.append((number, magics[-1]))
            continue
        try:
            parsed.append((number, _parse(source)))
        except SyntaxError as exc:
            line = (exc.text or "").strip()
            shown = f": {line[:60]}" if line else ""
            notes.append(f"Code cell {number} has a syntax error ({exc.msg}, line {exc.lineno}{shown}), "
                         "so the whole cell was skipped.")
        except (ValueError, RecursionError) as exc:
            notes.append(f"Code cell {number} is nested too deeply to read ({type(exc).__name__}), "
                         "so it was skipped.")
    constants = frozenset(constants)
    conv = _Converter(ipynb.parent, _analyse([tree for _, tree in parsed], constants), constants, tuple(modules))
    for number, magic in not_run:
        conv.magic_cell(number, magic)
    for number, tree in parsed:
        for stmt in tree.body:
            conv.scope.begin()
            try:
                texts = [ast.unparse(node) for node in conv.statement(number, stmt)]
            except RecursionError:
                conv.scope.rollback()
                notes.append(f"A statement of code cell {number} (line {getattr(stmt, 'lineno', '?')}) is "
                             "nested too deeply to convert, so it was skipped.")
                continue
            conv.kept += [(number, text) for text in texts]
    if conv.missing_packages:
        names = " and ".join(sorted(conv.missing_packages))
        lines = "; ".join(dict.fromkeys(x for v in conv.missing_packages.values() for x in v))
        notes.append(f"{names} {'is' if len(conv.missing_packages) == 1 else 'are'} not installed on the grader, "
                     f"so `{lines}` is skipped when your notebook is imported; "
                     "graded functions should need only torch, numpy and matplotlib.")
    notes += conv.summary_notes()
    notes += conv.magic_cells_notes()
    summary = conv.skipped.note()
    if summary:
        notes.append(summary)
    dropped = conv.dropped_names_note()
    if dropped:
        notes.append(dropped)
    return conv.render(ipynb.name), notes
