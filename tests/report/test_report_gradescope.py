"""results.json: exact dicts, every Status, hostile numbers and text, fallback, atomic writes."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.outcome import GradingResult, Outcome, Status
from grader.report.gradescope import (
    fallback_results,
    to_results_json,
    validate_results,
    write_results,
)


def test_small_result_gives_exactly_this_dict(make_outcome, tmp_path, gradescope_validate):
    result = GradingResult(
        outcomes=(make_outcome("P1", "loss", Status.PASSED, max_score=2),
                  make_outcome("P2", "grad", Status.FAILED, 0.5, 1, message="expected 3, got 4")),
        execution_time=1.234, notes=("note",))
    assert to_results_json(result) == {
        "score": 2.5,
        "execution_time": 1.23,
        "output": "Total: 2.5 / 3\nP1 2/2 | P2 0.5/1\n\nNotes:\n- note",
        "output_format": "simple_format",
        "test_output_format": "text",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        "tests": [
            {"name": "P1 loss", "score": 2.0, "max_score": 2.0, "status": "passed",
             "visibility": "visible", "output": "", "output_format": "text", "tags": ["P1"], "number": "1"},
            {"name": "P2 grad", "score": 0.5, "max_score": 1.0, "status": "failed",
             "visibility": "visible", "output": "Failed: expected 3, got 4", "output_format": "text",
             "tags": ["P2"], "number": "2"},
        ],
    }
    gradescope_validate(write_results(to_results_json(result), tmp_path / "results.json"))


def test_every_status_and_hostile_input(full_result, tmp_path, gradescope_validate):
    data = to_results_json(full_result)
    tests = data["tests"]
    assert [t["status"] for t in tests] == ["passed"] + ["failed"] * 6
    assert [t["output"].split(":")[0] for t in tests[1:]] == [
        "Failed", "Not attempted", "Missing", "Error", "Timed out",
        "Autograder error (not your fault, please tell the instructor)"]
    assert [t["number"] for t in tests] == [str(i) for i in range(1, 8)]
    assert [t["tags"] for t in tests] == [["P1"], ["P1"], ["P2"], ["P2"], ["P3"], ["P3"], ["Q1"]]
    assert all(t["name"].startswith(t["tags"][0] + " ") for t in tests)
    assert tests[2]["name"] == "P2 init" and tests[3]["name"] == "P2 init (2)"
    assert tests[1]["output"] == ("Failed: Tensors are not close!\n"
                                  "Mismatched elements: 3 / 40 (7.5%) — ü")
    assert tests[4]["score"] == 0.0  # the NaN
    assert [t["visibility"] for t in tests[2:6]] == [
        "visible", "hidden", "visible", "after_due_date"]
    assert data["score"] == 3 + 1.5 == sum(t["score"] for t in tests)
    assert data["execution_time"] == 12.35
    text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    assert "secret detail" not in text and "\\r" not in text and "null" not in text
    assert validate_results(data) == []
    path = write_results(data, tmp_path / "results.json")
    assert "ü" in path.read_text("utf-8")  # ensure_ascii=False
    gradescope_validate(path)


def test_a_students_html_is_shown_as_text_never_rendered(make_outcome):
    """Exception text is the student's: "<h1>100/100</h1><a href=...>" must reach Gradescope as plain text."""
    forged = '<h1>Autograder: 100/100</h1><a href="https://example.org">regrade here</a><img src=x>'
    data = to_results_json(GradingResult((make_outcome("P3", forged, Status.ERROR, message=forged),)))
    assert data["test_output_format"] == "text" and data["test_name_format"] == "text"
    assert all(t["output_format"] == "text" for t in data["tests"])
    assert forged in data["tests"][0]["output"]          # shown literally, as the student wrote it


def test_summary_shows_visible_checks_only(full_result):
    out = to_results_json(full_result)["output"]
    # visible: P1 4.5/6, P2 init 0/2, P3 forward 0/2, Q1 0/1
    assert out.startswith("Score on the checks shown here: 4.5 / 11 (2 more checks worth 4 points")
    assert "P1 4.5/6 | P2 0/2 | P3 0/2 | Q1 0/1" in out
    assert "autograder problem" in out  # the GRADER_ERROR outcome
    assert "- skipped notebook cell &lt;lambda&gt;" in out  # escaped for simple_format
    assert "- module p4.py not found" in out


def test_grader_failure_is_explained(tmp_path, gradescope_validate):
    result = GradingResult(outcomes=(), grader_failure="rubric.yaml: P9 is not a problem\r\nline 2")
    data = to_results_json(result)
    assert data["score"] == 0 and data["tests"] == []
    assert "not a problem with your submission" in data["output"]
    assert "rubric.yaml: P9 is not a problem\nline 2" in data["output"]
    assert validate_results(data) == []
    gradescope_validate(write_results(data, tmp_path / "results.json"))


@pytest.mark.parametrize("score, max_score, expected", [
    (5.0, 2.0, (2.0, 2.0)),                   # extra points are not given
    (-1.0, 2.0, (0.0, 2.0)),
    (float("inf"), 2.0, (0.0, 2.0)),          # a non-finite score earns nothing
    (float("-inf"), 2.0, (0.0, 2.0)),
    (float("nan"), 2.0, (0.0, 2.0)),
    (1.0, float("nan"), (0.0, 0.0)),
    (1.0, -3.0, (0.0, 0.0)),
    (1 / 3, 1.0, (0.3333, 1.0)),
])
def test_points_are_finite_and_clamped(make_outcome, score, max_score, expected):
    o = make_outcome(status=Status.FAILED, score=score, max_score=max_score)
    data = to_results_json(GradingResult(outcomes=(o,)))
    assert (data["tests"][0]["score"], data["tests"][0]["max_score"]) == expected
    assert data["score"] == expected[0]
    assert validate_results(data) == []


def test_names_made_unique_without_new_collisions(make_outcome):
    outs = [make_outcome("P1", t) for t in ("a", "a", "a (2)", "a")]
    names = [t["name"] for t in to_results_json(GradingResult(outcomes=tuple(outs)))["tests"]]
    assert names == ["P1 a", "P1 a (3)", "P1 a (2)", "P1 a (4)"]


def test_unknown_visibility_is_hidden(make_outcome):
    data = to_results_json(GradingResult(outcomes=(make_outcome(visibility="public"),)))
    assert data["tests"][0]["visibility"] == "hidden"


def test_stdout_visibility(make_outcome, tmp_path, gradescope_validate):
    result = GradingResult(outcomes=(make_outcome(),))
    with pytest.raises(ValueError, match="stdout_visibility"):
        to_results_json(result, stdout_visibility="always")
    data = to_results_json(result, stdout_visibility="visible")
    assert data["stdout_visibility"] == "visible"
    # validate.py warns (students see stdout) but accepts it
    gradescope_validate(write_results(data, tmp_path / "r.json"), strict=False)


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -4.0])
def test_bad_execution_time_becomes_zero(make_outcome, seconds):
    data = to_results_json(GradingResult(outcomes=(make_outcome(),), execution_time=seconds))
    assert data["execution_time"] == 0.0


def test_lone_surrogates_cannot_break_the_write(make_outcome, tmp_path, gradescope_validate):
    o = make_outcome(status=Status.ERROR, message="bytes \udcff from stdout", title="t\udc80")
    path = write_results(to_results_json(GradingResult(outcomes=(o,))), tmp_path / "r.json")
    assert "bytes \ufffd from stdout" in path.read_text("utf-8")
    gradescope_validate(path)


def test_long_messages_are_cut(make_outcome):
    o = make_outcome(status=Status.FAILED, message="x" * 50_000)
    output = to_results_json(GradingResult(outcomes=(o,)))["tests"][0]["output"]
    assert len(output) < 20_100 and output.endswith("more characters cut]")


def test_fallback_results(tmp_path, gradescope_validate):
    data = fallback_results("Traceback (most recent call last):\r\n  File ...\nKeyError: 'P1'")
    assert data["score"] == 0
    visible, hidden = data["tests"]
    assert visible == {"name": "Autograder error", "score": 0, "max_score": 0, "status": "failed",
                       "visibility": "visible", "output": data["output"], "number": "1"}
    assert "not a problem with your submission" in visible["output"]
    assert "contact the instructor" in visible["output"]
    assert "KeyError" not in data["output"]  # the traceback is for the instructor only
    assert hidden["visibility"] == "hidden"
    assert hidden["output"] == "Traceback (most recent call last):\n  File ...\nKeyError: 'P1'"
    assert validate_results(data) == []
    gradescope_validate(write_results(data, tmp_path / "results.json"))


def test_fallback_survives_odd_error_text(tmp_path, gradescope_validate):
    data = fallback_results("\udcff" + "e" * 100_000)
    assert validate_results(data) == []
    gradescope_validate(write_results(data, tmp_path / "results.json"))


def test_write_results_is_atomic_and_strict(tmp_path):
    path = tmp_path / "deep" / "results" / "results.json"
    write_results(fallback_results("first"), path)  # parent folders are created
    before = path.read_bytes()
    assert before.startswith(b'{\n "score"')  # indent=1
    with pytest.raises(ValueError):  # allow_nan=False
        write_results({"score": math.nan, "tests": []}, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temp file left


def test_validate_results_reports_each_problem():
    good = fallback_results("x")
    assert validate_results(good) == []

    def broken(**changes):
        data = json.loads(json.dumps(good))
        for key, value in changes.items():
            data["tests"][1][key] = value
        return validate_results(data)

    assert any("nan" in p for p in broken(score=math.nan))
    assert any("exceeds max_score" in p for p in broken(score=1, max_score=0.5))
    assert any("sum of the test scores" in p for p in broken(score=1, max_score=1))
    assert any("duplicate name" in p for p in broken(name="Autograder error "))
    assert any("None is not" in p for p in broken(status=None))
    assert any("'ok' is not one of" in p for p in broken(status="ok"))
    assert any("carriage return" in p for p in broken(output="a\r\nb"))
    assert any("'number' is a required" in p for p in validate_results(
        {**good, "tests": [{k: v for k, v in good["tests"][0].items() if k != "number"}]}))
    assert any("Additional properties" in p for p in validate_results({**good, "extra": 1}))


def test_gradescope_validate_is_not_vacuous(tmp_path, gradescope_validate):
    bad = tmp_path / "bad.json"
    bad.write_text('{"score": NaN, "tests": []}')
    gradescope_validate(bad, expect_ok=False)


_text = st.text(st.characters(codec="utf-8") | st.sampled_from("\r\n\t<>&$[]"), max_size=40)
_number = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10)
_outcomes = st.builds(
    Outcome, check_id=_text, problem=st.sampled_from(["P1", "P7", "Q8", "X"]), title=_text,
    status=st.sampled_from(list(Status)), score=_number, max_score=_number,
    visibility=st.sampled_from(["visible", "hidden", "after_due_date", "after_published", "?"]),
    message=_text, detail=_text)


def test_any_result_gives_valid_results_json(tmp_path, gradescope_validate):
    written = []

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(outcomes=st.lists(_outcomes, max_size=8), notes=st.lists(_text, max_size=3),
           seconds=_number, failure=_text)
    def check(outcomes, notes, seconds, failure):
        result = GradingResult(outcomes=tuple(outcomes), execution_time=seconds,
                               notes=tuple(notes), grader_failure=failure)
        data = to_results_json(result)
        assert validate_results(data) == []
        if len(written) < 40:  # Gradescope's own validator on a sample of them
            written.append(write_results(data, tmp_path / f"{len(written)}.json"))

    check()
    gradescope_validate(*written)
