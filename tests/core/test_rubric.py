"""rubric.yaml: the packaged one is valid and complete; a bad one is named precisely."""
import copy
import re

import pytest
import yaml

from grader import rubric as rubric_module
from grader.cli import main
from tests.hw3testing import HW3

GOOD = {
    "problems": {"P3": "Problem 3"},
    "defaults": {"visibility": "visible", "rtol": 1e-6, "atol": 1e-8, "timeout": 10, "seed": 1},
    "limits": {"total_points": 3},
    "checks": [
        {"id": "P3.a", "problem": "P3", "title": "a", "points": 1},
        {"id": "P3.b", "problem": "P3", "title": "b", "points": 2, "visibility": "hidden"},
    ],
    "manual": [{"id": "P3.proof", "problem": "P3", "title": "proof", "points": 10}],
}


def test_problem_keys_come_from_the_rubric_in_its_order():
    rubric = rubric_module.parse(copy.deepcopy(GOOD))
    assert rubric.problem_keys == ("P3",) and rubric.problem_name("P3") == "Problem 3"
    assert rubric.parse_problem_keys("p3") is None           # every problem: the same run as none
    with pytest.raises(rubric_module.RubricError, match="unknown problem key.*P4; use P3"):
        rubric.parse_problem_keys(["P3", "P4"])
    without = copy.deepcopy(GOOD)
    del without["problems"]
    assert rubric_module.parse(without).problem_keys == ("P3",)   # then: the keys the checks use


def test_problem_keys_given_as_one_word_with_commas_are_split(rubric):
    """`--problems P2,P3` reaches the rubric as ["P2,P3"]: the same keys as `--problems P2 P3`."""
    assert rubric.parse_problem_keys(["P2,P3"]) == rubric.parse_problem_keys(["P2", "P3"]) == {"P2", "P3"}
    assert rubric.parse_problem_keys(["p2, q8", "P3"]) == {"P2", "P3", "Q8"}


def test_packaged_rubric_has_100_points_and_every_problem():
    rubric = HW3.load_rubric()
    assert sum(e.points for e in rubric.checks) == 100
    assert {e.problem for e in rubric.checks} == set(rubric.problem_keys)
    assert rubric.manual, "the hand-graded parts are listed too"


def test_every_rubric_entry_has_a_declaration_and_back():
    declared = set(HW3.catalog)
    listed = {e.id for e in HW3.load_rubric().checks}
    assert listed == declared


def test_check_rubric_command_agrees(capsys):
    assert main(["check-rubric"]) == 0
    assert "100 points" in capsys.readouterr().out


def test_good_rubric_parses_with_defaults():
    rubric = rubric_module.parse(copy.deepcopy(GOOD))
    assert rubric.checks[0].timeout == 10 and rubric.checks[1].secret


def _broken(path, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, message", [
    (("checks", 0, "points"), "2a", "checks[0] (id 'P3.a'): 'points' must be a number > 0, got '2a' (str)"),
    (("checks", 0, "problem"), "P9", "checks[0] (id 'P3.a'): 'problem' must be one of"),
    (("checks", 0, "visibilty"), "hidden", "checks[0] (id 'P3.a'): unknown field(s) 'visibilty'"),
    (("checks", 1, "visibility"), "secret", "checks[1] (id 'P3.b'): 'visibility' must be one of"),
    (("checks", 0, "title"), KeyError, "checks[0] (id 'P3.a'): missing field 'title'"),
    (("checks", 1, "id"), "P3.a", "duplicate id 'P3.a'"),
    (("limits", "total_points"), 4, "the autograded points sum to 3, but limits.total_points says 4"),
    (("defaults", "timeout"), -1, "checks[0] (id 'P3.a'): 'timeout' must be a number > 0, got -1"),
    (("checks", 0, "seed"), 1.5, "'seed' must be an integer >= 0"),
    (("extra",), 1, "unknown field(s) 'extra'"),
    (("problems",), ["P3"], "problems: must be a mapping of problem keys to names"),
    (("problems", "P3"), "", "problems: 'P3': '' must map a key to a non-empty name"),
])
def test_bad_rubric_names_file_entry_and_field(path, value, message):
    with pytest.raises(rubric_module.RubricError, match=re.escape(message)):
        rubric_module.parse(_broken(path, value), source="rubric.yaml")


def test_yaml_syntax_error_names_the_file(tmp_path):
    bad = tmp_path / "rubric.yaml"
    bad.write_text("checks: [\n")
    with pytest.raises(rubric_module.RubricError, match=r"rubric\.yaml: not valid YAML"):
        rubric_module.load(bad)


def test_cli_reports_rubric_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "rubric.yaml"
    bad.write_text(yaml.safe_dump(_broken(("checks", 0, "points"), "x")))
    assert main(["check-rubric", "--rubric", str(bad)]) == 2
    assert main(["check-rubric", str(bad)]) == 2      # the older positional form still works
    err = capsys.readouterr().err
    assert "rubric error" in err and "Traceback" not in err


@pytest.mark.parametrize("field, value, message", [
    ("builds_on", ["P3.nope"], "'builds_on' names 'P3.nope', which is not another check of this rubric"),
    ("builds_on", ["P3.a"], "'builds_on' names 'P3.a', which is not another check of this rubric"),   # itself
    ("builds_on", "P3.b", "'builds_on' must be a list of check ids"),
    ("float64_only", "yes", "'float64_only' must be true or false"),
    ("float32_rtol", 0, "'float32_rtol' must be a number > 0"),
])
def test_precision_and_causes_are_validated(field, value, message):
    data = copy.deepcopy(GOOD)
    data["checks"][0][field] = value
    with pytest.raises(rubric_module.RubricError, match=re.escape(message)):
        rubric_module.parse(data)


def test_precision_and_causes_are_read():
    data = copy.deepcopy(GOOD)
    data["checks"][1].update(builds_on=["P3.a"], float64_only=True, float32_rtol=1e-3)
    a, b = rubric_module.parse(data).checks
    assert (a.builds_on, a.float64_only, a.float32_rtol) == ((), False, 1e-4)
    assert (b.builds_on, b.float64_only, b.float32_rtol) == (("P3.a",), True, 1e-3)
