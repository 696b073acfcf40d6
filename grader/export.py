"""`hw3grade export`: the batch's gradebook (OUT/grades.csv) as an LMS upload.

- `export canvas OUT --gradebook export.csv -o upload.csv [--column NAME]`: Canvas's exported
  gradebook with one assignment's column filled for every graded student found in it (by
  email = SIS Login ID, SIS Login ID, or student id = SIS User ID); every other cell as it was.
- `export csv OUT -o grades_for_lms.csv`: `student,score`, one row per student (email, else
  student id, else the submission id), for any other LMS.

Canvas's import (Grades > Import): a UTF-8 CSV with the export's header; the first five
columns (Student, ID, SIS User ID, SIS Login ID, Section) identify each student; an
assignment column is named "Name (assignment id)" as exported (a name Canvas does not know
makes a new assignment); the "Points Possible" row and the read-only columns (totals,
assignment groups) are ignored on import; an uploaded score replaces the one in Canvas.
So the upload keeps the export's header, rows and other cells, and only fills one column.
"""
from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .report._common import atomic_write

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"
_CANVAS_ID = re.compile(r"\s*\(\d+\)\s*$")      # "Homework 3 (123456)" -> "Homework 3"
MAX_BYTES = 64 * 2**20


class ExportError(ValueError):
    """The gradebook or Canvas's export cannot be used (message for the instructor)."""


@dataclass(frozen=True)
class Graded:
    """One graded submission of OUT/grades.csv: its students' emails and ids, and its score."""

    submission_id: str
    emails: tuple[str, ...]
    sids: tuple[str, ...]
    total: str
    status: str
    missing: str      # hand-graded parts without a score


def graded(out: Path) -> list[Graded]:
    """The rows of OUT/grades.csv (written by `hw3grade batch`)."""
    header, rows = _read_csv(Path(out) / "grades.csv", "the gradebook")
    if not {"submission_id", "emails", "sids", "total"} <= set(header):
        raise ExportError(f"{Path(out) / 'grades.csv'} is not a gradebook of hw3grade batch")
    return [Graded(_plain(r["submission_id"]), _split(r["emails"]), _split(r["sids"]), r["total"],
                   r.get("status", "graded"), r.get("manual_missing", "")) for r in _records(header, rows)]


def _plain(cell: str) -> str:
    """A cell as the student wrote it: the gradebook quotes a leading = + - @ with a '."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p for p in (_plain(x.strip()) for x in cell.split(";")) if p)


def _read_csv(path: Path, what: str) -> tuple[list[str], list[list[str]]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ExportError(f"{path} is larger than {MAX_BYTES // 2**20} MB: not {what}")
        text = path.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except OSError as exc:
        raise ExportError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ExportError(f"{path} is not UTF-8 text: export it again as CSV") from None
    except csv.Error as exc:
        raise ExportError(f"{path} is not a CSV file ({exc})") from None
    if not rows:
        raise ExportError(f"{path} is empty: not {what}")
    return rows[0], rows[1:]


def _records(header: list[str], rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(header, r + [""] * (len(header) - len(r)))) for r in rows if any(c.strip() for c in r)]


# ---------------------------------------------------------------- Canvas
@dataclass(frozen=True)
class CanvasUpload:
    text: str
    column: str
    filled: tuple[str, ...]            # Canvas students given a score (their Student cell)
    ungraded: tuple[str, ...]          # in Canvas, no grade in OUT
    unmatched: tuple[str, ...]         # graded in OUT, in no row of Canvas's export
    not_uploaded: tuple[str, ...]      # in both, but left as they were: the grader failed on them
    incomplete: tuple[str, ...]        # filled, but some hand-graded parts are missing


def canvas(out: Path, gradebook: Path, column: str | None, assignment_name: str) -> CanvasUpload:
    """Canvas's export with `column` (or the column of `assignment_name`) filled from OUT."""
    header, rows = _read_csv(Path(gradebook), "Canvas's exported gradebook")
    missing = [c for c in ("Student", "SIS User ID", "SIS Login ID") if c not in header]
    if missing:
        raise ExportError(f"{gradebook}: no column {', '.join(missing)}: not a gradebook exported from Canvas "
                          f"(its first columns are {', '.join(CANVAS_IDENTITY)})")
    target = _target_column(header, column, assignment_name, gradebook)
    where = header.index(target)
    people = graded(out)
    by_key = _keys(people)
    used: set[str] = set()
    filled, ungraded, skipped, incomplete = [], [], [], []
    new_rows = []
    for row in rows:
        record = dict(zip(header, row + [""] * (len(header) - len(row))))
        name = record["Student"].strip()
        if name == POINTS_POSSIBLE or not any(c.strip() for c in row):
            new_rows.append(row)
            continue
        match = _match(record, by_key)
        if match is None:
            ungraded.append(name)
        elif match.status == "grader_error":
            skipped.append(name)
            used.add(match.submission_id)
        else:
            row = row + [""] * (len(header) - len(row))
            row[where] = match.total
            filled.append(name)
            used.add(match.submission_id)
            if match.missing:
                incomplete.append(name)
        new_rows.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(new_rows)
    unmatched = tuple(p.submission_id for p in people if p.submission_id not in used)
    return CanvasUpload(buffer.getvalue(), target, tuple(filled), tuple(ungraded), unmatched, tuple(skipped),
                        tuple(incomplete))


def _target_column(header: list[str], column: str | None, assignment_name: str, path: Path) -> str:
    assignments = [h for h in header[len(CANVAS_IDENTITY):] if _CANVAS_ID.search(h)]
    wanted = (column or assignment_name).strip()
    found = [h for h in header if h == wanted] or \
        [h for h in assignments if _CANVAS_ID.sub("", h).strip().casefold() == wanted.casefold()]
    if len(found) != 1:
        how = "is not" if not found else f"names {len(found)} columns,"
        raise ExportError(f"{path}: {wanted!r} {how} an assignment column of this export; name one with "
                          f"--column (its assignments: {', '.join(assignments) or 'none'})")
    if found[0] in CANVAS_IDENTITY:
        raise ExportError(f"{path}: {found[0]!r} identifies the students; name an assignment column with --column")
    return found[0]


def _keys(people: list[Graded]) -> dict[str, Graded]:
    """email:..., sid:... -> the graded submission of that student."""
    keys = {}
    for person in people:
        for email in person.emails:
            keys["email:" + email.casefold()] = person
        for sid in person.sids:
            keys["sid:" + sid] = person
    return keys


def _match(record: dict[str, str], keys: dict[str, Graded]) -> Graded | None:
    """A Canvas row's student in OUT: SIS Login ID as an email or an id, SIS User ID as an id."""
    login, sis = record.get("SIS Login ID", "").strip(), record.get("SIS User ID", "").strip()
    for key in (f"email:{login.casefold()}" if login else "", f"sid:{login}" if login else "",
                f"sid:{sis}" if sis else ""):
        if key and key in keys:
            return keys[key]
    return None


# ---------------------------------------------------------------- plain CSV
def plain_csv(out: Path) -> tuple[str, int, tuple[str, ...]]:
    """`student,score` for every student graded in OUT (grader failures left out, and returned)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score"])
    written, skipped = 0, []
    for person in graded(out):
        if person.status == "grader_error":
            skipped.append(person.submission_id)
            continue
        for who in person.emails or person.sids or (person.submission_id,):
            writer.writerow([_safe(who), person.total])
            written += 1
    return buffer.getvalue(), written, tuple(skipped)


def _safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---------------------------------------------------------------- command line
def add_arguments(commands) -> None:
    export = commands.add_parser("export", help="the batch's gradebook as an LMS upload (Canvas, or plain CSV)")
    kinds = export.add_subparsers(metavar="KIND")
    to_canvas = kinds.add_parser("canvas", help="fill one assignment's column of Canvas's exported gradebook")
    to_canvas.add_argument("out", type=Path, metavar="OUT", help="the batch's output folder (its grades.csv)")
    to_canvas.add_argument("--gradebook", type=Path, required=True, metavar="EXPORT.CSV",
                           help="the gradebook exported from Canvas (Grades > Export)")
    to_canvas.add_argument("-o", "--output", type=Path, required=True, help="the CSV to import into Canvas")
    to_canvas.add_argument("--column", metavar="NAME",
                           help="the assignment's column (default: the one named like the assignment)")
    to_canvas.set_defaults(func=_cmd_canvas)
    to_plain = kinds.add_parser("csv", help="student,score for any other LMS")
    to_plain.add_argument("out", type=Path, metavar="OUT")
    to_plain.add_argument("-o", "--output", type=Path, required=True)
    to_plain.set_defaults(func=_cmd_plain)
    export.set_defaults(func=lambda args: (export.print_help(), 2)[1])


def _cmd_canvas(args) -> int:
    try:
        upload = canvas(args.out, args.gradebook, args.column, args.assignment.name)
        atomic_write(args.output, upload.text.encode("utf-8"))
    except (ExportError, OSError) as exc:
        print(f"hw3grade: {exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {len(upload.filled)} score(s) in column {upload.column!r}; import it in Canvas "
          "(Grades > Import)")
    _list("in Canvas without a grade (their cells left as they were)", upload.ungraded)
    _list("graded but not in Canvas (no row with their email or student id)", upload.unmatched)
    _list("left as they were: the grader failed on their submission (see the report)", upload.not_uploaded)
    _list("uploaded with hand-graded parts missing (their total counts only the parts given)", upload.incomplete)
    return 0


def _cmd_plain(args) -> int:
    try:
        text, written, skipped = plain_csv(args.out)
        atomic_write(args.output, text.encode("utf-8"))
    except (ExportError, OSError) as exc:
        print(f"hw3grade: {exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {written} student(s)")
    _list("left out: the grader failed on their submission (see the report)", skipped)
    return 0


def _list(what: str, names: tuple[str, ...]) -> None:
    if names:
        print(f"{len(names)} {what}: {', '.join(names)}")
