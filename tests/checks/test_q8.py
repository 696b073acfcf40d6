"""Question 8 checks: every setting that gives the asked shape passes; wrong ones are named, with partial credit."""
from __future__ import annotations

import itertools
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hw3testing import grade_checks, write_submission
from grader.checks.base import JudgeContext, Observation, Verdict, value_of
from hw3.checks.q8 import PARTS, judge_2b, judge_part
from grader.compare import Tolerance
from grader.outcome import Status
from tests.hw3testing import HW3

Q8_IDS = ["Q8.layer1", "Q8.layer2", "Q8.layer3"]

SEED_004 = '''
Q8 = {                                        # the answers of seeds/004 (3b and 3c are wrong)
    "1a": {"k": 8, "s": 2, "p": 3, "d": 1},
    "1b": {"k": 1, "s": 2, "p": 0, "d": 7},
    "2a": {"k": 4, "s": 4},
    "2b": (64, 7, 7),
    "3a": {"k": 2, "s": 2, "p": 0, "d": 1},
    "3b": {"k": 1, "s": 1, "p": 2, "d": 2},
    "3c": {"k": 3, "s": 1, "p": 1, "d": 1},
}
'''

OTHER_VALID = '''
import numpy as np

Q8 = {                                        # other valid settings, defaults left out, other types
    "1a": {"k": 8, "s": 2, "p": 3},
    "1b": {"k": 2, "s": 2, "p": 3, "d": 7},
    "2a": {"k": 4},
    "2b": [64, 7, 7],
    "3a": {"k": 5},
    "3b": {"k": np.int64(2), "s": 3, "p": 2, "d": 2},
    "3c": {"k": 7.0, "p": 1},
}
'''

WRONG = '''
Q8 = {
    "1a": {"k": 7, "s": 2, "p": 3},           # the question fixes k = 8
    "1b": {"k": 1, "s": 2, "p": 0, "d": 7},   # right
    "2a": {"k": 4, "s": 2},                   # overlapping
    "2b": (64, 8, 8),                         # 2a's shape
    "3a": {"k": 9},                           # larger than the input: torch refuses
    "3b": {"k": 5, "s": 1, "p": 2, "d": 2},   # right
}
'''

NONE = '''
Q8 = None
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q8")
    subs = {name: write_submission(base / name, patch=None if source is None else {"convolution": source})
            for name, source in (("reference", None), ("seed004", SEED_004), ("other", OTHER_VALID),
                                 ("wrong", WRONG), ("none", NONE))}
    with ThreadPoolExecutor(max_workers=3) as pool:
        graded = {name: pool.submit(grade_checks, folder, rubric, ids=Q8_IDS) for name, folder in subs.items()}
        return {name: future.result() for name, future in graded.items()}


@pytest.mark.parametrize("style", ["reference", "other"])
def test_valid_settings_pass(outcomes, style):
    for check_id in Q8_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (style, check_id, outcome.detail)


def test_seed_004_loses_3b_and_3c(outcomes):
    result = outcomes["seed004"]
    assert result["Q8.layer1"].status is Status.PASSED
    assert result["Q8.layer2"].status is Status.PASSED
    layer3 = result["Q8.layer3"]
    assert layer3.status is Status.FAILED
    assert layer3.score == pytest.approx(2 / 3)                    # 3a right: one part in three
    assert re.search(re.escape("3b: k=1, s=1, p=2, d=2 gives (128, 12, 12), not (128, 4, 4).\n"
                               "3c: k=3, s=1, p=1, d=1 gives (128, 8, 8), not (128, 4, 4)."), layer3.message)
    assert "3a" not in layer3.message


def test_wrong_answers_are_named(outcomes):
    result = outcomes["wrong"]
    layer1 = result["Q8.layer1"]
    assert layer1.score == pytest.approx(1.0)                       # 1b right: half of 2 points
    assert re.search(re.escape("1a must use k = 8 (the question fixes it), not k = 7."), layer1.message)
    layer2 = result["Q8.layer2"]
    assert layer2.score == 0
    assert re.search(re.escape("2a must be non-overlapping: s = k (here k = 4, s = 2)."), layer2.message)
    assert re.search(re.escape("2b: (64, 8, 8) is not the output shape of a k = 8, s = 4 pooling on (64, 32, 32). "
                               "That is 2a's shape: here the windows are 8 wide with stride 4."), layer2.message)
    layer3 = result["Q8.layer3"]
    assert layer3.score == pytest.approx(2 / 3)
    assert re.search(re.escape("3a: k=9, s=1, p=0, d=1 is not a valid setting on (64, 8, 8): torch says ")
                     + r".*Kernel size can't be greater than actual input size", layer3.message)
    assert re.search(re.escape("3c: not answered yet."), layer3.message)


def test_q8_none_is_not_started(outcomes):
    for check_id in Q8_IDS:
        outcome = outcomes["none"][check_id]
        assert outcome.status is Status.NOT_ATTEMPTED and outcome.score == 0
        assert re.search(re.escape("Q8 is still None"), outcome.message)


def _judge(check_id: str, answers) -> Verdict:
    return HW3.catalog[check_id].judge(JudgeContext([Observation(value_of("convolution.Q8"), returned=answers)],
                                               Tolerance(), np.random.default_rng(0), reference=HW3.reference_object))


def test_judge_fallbacks():
    assert _judge("Q8.layer1", None) == Verdict.failed("Not answered yet: Q8 is None")
    assert _judge("Q8.layer2", [1, 2]).message.startswith("Q8 should be a dict with keys '1a', '1b', '2a', '3a'")
    assert judge_part(PARTS["1a"], {"k": "8"}) == "1a: k = '8' is not an integer."
    assert judge_part(PARTS["1a"], {"s": 2}) == "1a: the kernel size k is missing."
    assert judge_part(PARTS["3b"], {"k": 0, "p": 2, "d": 2}) == ("3b: k=0, s=1, p=2, d=2 is not a valid setting: "
                                                                "the kernel size must be at least 1.")
    assert judge_part(PARTS["3c"], {"k": 10**12, "p": 1}).startswith("3c: k=1000000000000, s=1, p=1, d=1 is not "
                                                                     "a valid setting on (64, 8, 8)")
    assert judge_2b(np.array([64, 7, 7])) == "" and judge_2b((64.0, 7.0, 7.0)) == ""
    assert judge_2b("64 x 7 x 7") == "2b should be the output shape as a tuple (C, H, W), but it is a str ('64 x 7 x 7')."
    assert judge_2b((7, 7, 64)).endswith("Give the shape as (C, H, W), channels first.")


# ---- every valid setting, found by brute force with the formula, is accepted; nothing else is ----------

RANGES = {"k": range(1, 13), "s": range(1, 6), "p": range(0, 9), "d": range(1, 9)}


def _formula_shape(part, k, s, p, d):
    C, H, _ = part.in_shape
    size = (H + 2 * p - d * (k - 1) - 1) // s + 1          # conv and pool alike (2a fixes p = 0, d = 1)
    return (part.out_shape[0] if part.kind == "conv" else C, size, size)


def _should_pass(key, k, s, p, d):
    part = PARTS[key]
    if any(part_value != {"k": k, "s": s, "p": p, "d": d}[name] for name, part_value in part.fixed.items()):
        return False
    if part.kind == "pool" and s != k:
        return False
    return _formula_shape(part, k, s, p, d) == part.out_shape


def test_brute_force_valid_settings_are_all_accepted():
    found = {key: [] for key in PARTS}
    for key in PARTS:
        for k, s, p, d in itertools.product(*RANGES.values()):
            if _should_pass(key, k, s, p, d):
                found[key].append((k, s, p, d))
                assert judge_part(PARTS[key], {"k": k, "s": s, "p": p, "d": d}) == "", (key, k, s, p, d)
    # what the question allows, spelled out
    assert found["1a"] == [(8, 2, 3, 1)]
    assert found["2a"] == [(4, 4, 0, 1)]
    assert {(k, s) for k, s, _, _ in found["3a"]} == {(1, 2), (2, 2), (5, 1)}
    assert {(k, s) for k, s, _, _ in found["3b"]} == {(5, 1), (3, 2), (1, 3), (2, 3)}
    assert {(k, s) for k, s, _, _ in found["3c"]} == {(7, 1), (3, 2), (4, 2), (1, 3)}
    assert found["1b"] == [(1, 2, 0, 7), (2, 2, 3, 7), (3, 2, 7, 7)]         # (and k = 4, p = 10 ... beyond p <= 8)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(sorted(PARTS)), k=st.integers(1, 12), s=st.integers(1, 5), p=st.integers(0, 8),
       d=st.integers(1, 8), drop=st.sets(st.sampled_from(["s", "p", "d"])))
def test_judge_accepts_exactly_the_valid_settings(key, k, s, p, d, drop):
    answer = {"k": k, "s": s, "p": p, "d": d}
    for name in drop:                              # a missing key takes its default
        del answer[name]
        default = {"s": k if PARTS[key].kind == "pool" else 1, "p": 0, "d": 1}[name]
        s, p, d = (default if name == "s" else s), (default if name == "p" else p), (default if name == "d" else d)
    verdict = judge_part(PARTS[key], answer)
    assert (verdict == "") == _should_pass(key, k, s, p, d), (key, answer, verdict)
    if verdict:
        assert verdict.startswith(key)
