"""The gradebook CSV, read back with csv.DictReader."""
from __future__ import annotations

import csv

import pytest

from grader.outcome import GradingResult, Status
from grader.report.gradebook import BatchRow, write_grades_csv


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


@pytest.fixture
def rows(make_outcome, full_result):
    alice = {"name": "Alice Ünal", "email": "alice@example.edu", "sid": "111"}
    bob = {"name": "Bob, Jr.", "email": "bob@example.edu", "sid": "222"}
    return [
        BatchRow("sub-3", (alice, bob), GradingResult(outcomes=(
            make_outcome("Q2", "q", Status.PASSED, max_score=1),
            make_outcome("P1", "a", Status.FAILED, 1.25, 2),
            make_outcome("P10", "z", Status.PASSED, max_score=1)))),
        BatchRow("sub-1", ({"name": "=HYPERLINK(\"x\")", "email": "c@example.edu", "sid": "333"},),
                 full_result),
        BatchRow("sub-2", ({"name": "Dee", "email": "d@example.edu"},),
                 GradingResult(outcomes=(), grader_failure="rubric typo")),
    ]


def test_columns_rows_and_values(rows, tmp_path, rubric):
    fields, got = _read(write_grades_csv(rows, tmp_path / "grades.csv", order=rubric.problem_keys))
    assert fields == ["submission_id", "names", "emails", "sids", "total", "max_total",
                      "P1", "P2", "P3", "Q1", "Q2", "P10", "status"]  # the rubric's order, unknown keys last
    assert [r["submission_id"] for r in got] == ["sub-1", "sub-2", "sub-3"]
    one, two, three = got
    assert one["names"] == "'=HYPERLINK(\"x\")"  # never a formula in a spreadsheet
    assert (one["total"], one["max_total"], one["P1"], one["P2"], one["Q1"], one["Q2"]) == \
        ("4.5", "15", "4.5", "0", "0", "")
    assert one["status"] == "grader_error"  # its Q1 check hit a grader error
    assert (two["total"], two["max_total"], two["P1"], two["sids"], two["status"]) == \
        ("0", "0", "", "", "grader_error")
    assert three == {"submission_id": "sub-3", "names": "Alice Ünal; Bob, Jr.",
                     "emails": "alice@example.edu; bob@example.edu", "sids": "111; 222",
                     "total": "3.25", "max_total": "4", "P1": "1.25", "P2": "", "P3": "",
                     "P10": "1", "Q1": "", "Q2": "1", "status": "graded"}


def test_same_file_whatever_the_input_order(rows, tmp_path):
    a = write_grades_csv(rows, tmp_path / "a.csv").read_bytes()
    b = write_grades_csv(rows[::-1], tmp_path / "b.csv").read_bytes()
    assert a == b


def test_write_is_atomic(rows, tmp_path):
    path = tmp_path / "out" / "grades.csv"
    write_grades_csv(rows, path)
    before = path.read_bytes()
    bad = rows + [BatchRow("sub-4", ({"name": object()},), None)]  # fails while building the CSV
    with pytest.raises(AttributeError):
        write_grades_csv(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["grades.csv"]


def test_interrupted_write_keeps_old_file(rows, tmp_path, monkeypatch):
    path = write_grades_csv(rows[:1], tmp_path / "grades.csv")
    before = path.read_bytes()

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr("grader.report._common.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_grades_csv(rows, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # temp file removed


def test_empty_batch(tmp_path):
    fields, got = _read(write_grades_csv([], tmp_path / "grades.csv"))
    assert fields == ["submission_id", "names", "emails", "sids", "total", "max_total", "status"]
    assert got == []
