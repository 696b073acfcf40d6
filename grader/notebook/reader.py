"""A notebook's code cells, read as a stream: the bounded JSON reader of the trust boundary.

Only the cells' types and sources are kept: the notebook is parsed one chunk at a time, and
outputs and attachments are skipped unread (checked only for their brackets and strings), so a
400 MB plot or log costs a few MB. Files above :data:`MAX_NOTEBOOK_BYTES`, sources above
:data:`MAX_SOURCE_BYTES`, more than :data:`MAX_CELLS` cells or :data:`MAX_FIELDS` fields in an
object are refused with a message; bytes that are not UTF-8 are read as U+FFFD with a note naming
the cell and line. The work is linear in the file, whatever its shape.

Standard library only: nothing of the notebook runs here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator


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

_CodeCell = dict[str, tuple[bytes, int]]   # a code cell's "source" and/or "input": (raw JSON bytes, line)


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
        assert self.parts is not None   # called while a value is captured
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
            spaces = _WS.match(self.buf, self.pos)
            assert spaces is not None   # the pattern matches the empty string
            self.pos = spaces.end()
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
            assert m is not None   # the pattern matches the empty string
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
            run = _RUN.match(self.buf, self.pos, min(len(self.buf), self.pos + _RUN_WINDOW))
            assert run is not None   # the pattern matches the empty string
            self.pos = run.end()
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


def _read_cell(r: _Reader) -> _CodeCell | None:
    """A code cell as {key: (raw bytes, line)} for source and input, else None: everything else is
    skipped, and nothing of another cell is kept (a cell that is no object is only noted)."""
    r.cells += 1
    if r.cells > MAX_CELLS:
        raise _TooMany("cells", MAX_CELLS)
    if r.peek() != 0x7B:
        r.skip()
        r.not_object = True
        return None
    cell: _CodeCell = {}
    cell_type: bytes | None = None   # its raw bytes; None when not met yet, or too long to be "code"
    typed = False                    # whether cell_type was met
    too_long = False
    for key in r.members():
        if key == "cell_type":
            cell_type, typed = r.capture(_CELL_TYPE_BYTES), True
        elif key in ("source", "input"):
            if typed and not _is_code(cell_type):
                r.skip()              # a markdown or raw cell's text is not needed
                continue
            line = r.line()
            raw = r.capture(r.source_budget)
            too_long = too_long or raw is None
            if raw is not None:
                cell[key] = (raw, line)
        else:
            r.skip()                  # outputs, attachments, metadata ...
    if not _is_code(cell_type):   # only code counts (keys come in any order)
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


def _read_cell_list(r: _Reader) -> list[_CodeCell] | None:
    if r.peek() != 0x5B:
        r.skip()
        return None
    cells: list[_CodeCell] = []
    for _ in r.items():
        cell = _read_cell(r)
        if cell is not None:
            cells.append(cell)
    return cells


def _read_worksheets(r: _Reader) -> list[_CodeCell] | None:
    if r.peek() != 0x5B:
        r.skip()
        return None
    cells: list[_CodeCell] = []
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


def _scan(fh, name: str) -> tuple[list[_CodeCell] | None, list[_CodeCell] | None, bool]:
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
