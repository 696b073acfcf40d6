"""The child's request handler: every answer is plain data, and our own mistakes are never the student's."""
from __future__ import annotations

from grader.probes import child
from grader.probes.student import Student


def test_an_unknown_probe_kind_is_a_grader_error_not_the_students():
    answer = child.handle({"op": "probe", "kind": "no_such_probe", "params": {}}, Student({}, None), {})
    assert set(answer) == {"grader_error"}
    assert "no_such_probe" in answer["grader_error"]


def test_an_unknown_operation_is_a_grader_error():
    assert "grader_error" in child.handle({"op": "explode"}, Student({}, None), {})


def test_what_the_student_raises_is_reported_with_its_type():
    def kind(student):
        raise KeyError("boom")

    answer = child.handle({"op": "probe", "kind": "k", "params": {}}, Student({}, None), {"k": kind})
    assert answer["raised"]["type"] == "KeyError"


def test_not_implemented_reads_as_not_attempted():
    def kind(student):
        raise NotImplementedError("Problem 3")

    answer = child.handle({"op": "probe", "kind": "k", "params": {}}, Student({}, None), {"k": kind})
    assert answer == {"not_implemented": "Problem 3"}
