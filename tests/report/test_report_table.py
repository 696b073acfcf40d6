"""The terminal table: contents, grouping, totals, and no escape codes unless asked."""
from __future__ import annotations

import io

from grader.outcome import GradingResult, Status
from grader.report.table import print_table, render_table


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_plain_text_has_every_row_and_no_ansi(full_result):
    text = render_table(full_result, color=False)
    assert "\x1b" not in text
    lines = _lines(text)
    assert lines[0] == "Note: skipped notebook cell <lambda>"
    assert lines[1] == "Note: module p4.py not found"
    for title, word, points in [("epochs are permutations", "passed", "3.0/3.0"),
                                ("fit quality", "FAILED", "1.5/3.0"),
                                ("init", "not started", "0.0/2.0"),
                                ("init", "missing", "0.0/2.0"),
                                ("forward", "error", "0.0/2.0"),
                                ("backward", "timeout", "0.0/2.0"),
                                ("answer", "grader error", "0.0/1.0")]:
        assert any(title in line and f" {word} " in line and line.endswith(points)
                   for line in lines), (title, word)
    assert lines[-1].split() == ["TOTAL", "4.5/15.0"]


def test_messages_under_failed_rows_only(make_outcome):
    result = GradingResult(outcomes=(
        make_outcome("P1", "ok", Status.PASSED, message="well done"),
        make_outcome("P1", "bad", Status.FAILED, message="expected 3\r\ngot 4"),
    ))
    lines = _lines(render_table(result, color=False))
    bad = next(i for i, line in enumerate(lines) if "bad" in line)
    assert lines[bad + 1].strip() == "expected 3" and lines[bad + 2].strip() == "got 4"
    assert not any("well done" in line for line in lines)


def test_subtotals_per_problem(full_result):
    lines = _lines(render_table(full_result, color=False))
    subtotals = [line.split() for line in lines if "subtotal" in line]
    assert subtotals == [["P1", "subtotal", "4.5/6.0"], ["P2", "subtotal", "0.0/4.0"],
                         ["P3", "subtotal", "0.0/4.0"], ["Q1", "subtotal", "0.0/1.0"]]


def test_rows_grouped_by_problem(make_outcome):
    result = GradingResult(outcomes=(make_outcome("P1", "a"), make_outcome("P2", "b"),
                                     make_outcome("P1", "c")))
    lines = _lines(render_table(result, color=False))
    order = [line.split()[1] for line in lines if line.startswith(("P1 ", "P2 "))]
    assert order == ["a", "c", "b"]


def test_markup_in_student_text_is_printed_as_written(full_result):
    text = render_table(full_result, color=True)
    assert "RuntimeError: shape mismatch [red] :smile:" in text


def test_colour_only_when_asked_or_on_a_terminal(full_result, capsys):
    assert "\x1b[" in render_table(full_result, color=True)
    assert "\x1b" not in render_table(full_result)  # captured stdout is no terminal
    buf = io.StringIO()
    print_table(full_result, buf, hidden_note="Hidden checks run only on Gradescope.")
    assert "\x1b" not in buf.getvalue()
    assert _lines(buf.getvalue())[-1] == "Hidden checks run only on Gradescope."
    print_table(full_result)
    assert "TOTAL" in capsys.readouterr().out


def test_details_only_on_request(full_result):
    assert "secret detail" not in render_table(full_result, color=False)
    assert "secret detail" in render_table(full_result, color=False, show_details=True)


def test_grader_failure_and_empty_result():
    text = render_table(GradingResult(outcomes=(), grader_failure="judge crashed"), color=False)
    assert "Autograder error (not the student's fault): judge crashed" in text
    assert _lines(text)[-1].split() == ["TOTAL", "0.0/0.0"]


def test_points_keep_precision_when_needed(make_outcome):
    result = GradingResult(outcomes=(make_outcome(status=Status.FAILED, score=1 / 3, max_score=1),))
    assert "0.3333/1" in render_table(result, color=False)


def test_details_say_each_message_once(make_outcome):
    missing = "`softmax` is not defined in softmax.py (softmax(x, dim=-1): ...)."
    result = GradingResult(outcomes=(
        make_outcome("Q2", "softmax", Status.MISSING, message=missing, detail=missing),
        make_outcome("Q2", "vjp", Status.FAILED, message="wrong\nHint: J^T g", detail="wrong"),
        make_outcome("Q2", "crash", Status.GRADER_ERROR, message="The grader failed.", detail="Traceback: boom"),
        make_outcome("Q2", "str", Status.FAILED, message="returned a str", detail="returned a str\nTraceback: x"),
    ))
    text = render_table(result, color=False, show_details=True, width=200)
    for once in ("is not defined in softmax.py", "wrong", "returned a str", "Traceback: x", "Traceback: boom"):
        assert text.count(once) == 1, (once, text)
