"""The statistics behind the batch's instructor sections, on constructed results (no grading)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import answers
from grader.analysis import alike, items, regrade
from grader.checks.base import Observation, Probe
from grader.outcome import GradingResult, Outcome, Status

CHECKS = ("A.one", "A.two", "B.three", "B.four")


def result(statuses: dict[str, Status], prints: dict[str, str] | None = None, points: float = 2.0,
           scores: dict[str, float] | None = None) -> GradingResult:
    outcomes = tuple(Outcome(cid, cid.split(".")[0], cid, s,
                             (scores or {}).get(cid, points if s.passed else 0.0), points, "visible",
                             f"got {i + 1.5} not 3" if not s.passed else "")
                     for i, (cid, s) in enumerate(statuses.items()))
    return GradingResult(outcomes, answers=prints or {})


def passing(*failed: str, status: Status = Status.FAILED) -> dict[str, Status]:
    return {c: (status if c in failed else Status.PASSED) for c in CHECKS}


# ---------------------------------------------------------------- item analysis
statuses = st.sampled_from([Status.PASSED, Status.FAILED, Status.ERROR, Status.TIMEOUT, Status.MISSING])
classes = st.lists(st.fixed_dictionaries({c: statuses for c in CHECKS}), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(classes)
def test_counts_sum_and_discrimination_is_a_correlation(cls):
    results = {f"s{i:02d}": result(s) for i, s in enumerate(cls)}
    for s in items.analyse(results):
        assert sum(s.counts.values()) == s.graded == len(cls)
        assert s.counts.get("passed", 0) == len(s.passed)
        assert s.discrimination is None or -1.0 <= s.discrimination <= 1.0
        assert s.upper_lower is None or -1.0 <= s.upper_lower <= 1.0
        assert 0.0 <= s.pass_rate <= 1.0


def test_point_biserial_matches_numpy():
    passed = [True, False, True, True, False, False]
    scores = [5.0, 1.0, 4.0, 2.0, 2.0, 3.0]
    assert items.point_biserial(passed, scores) == pytest.approx(np.corrcoef(passed, scores)[0, 1])
    assert items.point_biserial([True, True], [1.0, 2.0]) is None


def ordinary_class(n: int) -> dict[str, GradingResult]:
    """n submissions: most pass everything, the weak ones fail several checks, a few one-bug ones."""
    results = {}
    for i in range(n):
        if i % 5 == 0:
            failed = CHECKS[: 1 + i % 3 + 1]                      # weak
        elif i % 7 == 0:
            failed = (CHECKS[i % 4],)                             # one bug
        else:
            failed = ()
        results[f"s{i:02d}"] = result(passing(*failed))
    return results


def test_a_sound_class_raises_no_flag():
    results = ordinary_class(40)
    assert items.flags(items.analyse(results), results) == []


def test_a_check_strong_submissions_fail_is_flagged_with_them():
    results = ordinary_class(40)
    for sid in list(results)[1::2]:
        if not any(not o.status.passed for o in results[sid].outcomes):
            results[sid] = result(passing("B.four"))
    found = items.flags(items.analyse(results), results)
    assert {f.check_id for f in found} == {"B.four"}
    strong = next(f for f in found if f.kind == "strong_fail")
    assert strong.submissions and all(not dict((o.check_id, o.status.passed) for o in results[s].outcomes)["B.four"]
                                      for s in strong.submissions)


def test_errors_and_nobody_flags():
    results = ordinary_class(30)
    for sid in list(results)[:8]:
        results[sid] = result({**passing(), "A.two": Status.TIMEOUT})
    stats = items.analyse(results)
    kinds = {(f.check_id, f.kind) for f in items.flags(stats, results)}
    assert ("A.two", "errors") in kinds
    nobody = {f"s{i}": result(passing("B.three")) for i in range(5)}
    assert [f.kind for f in items.flags(items.analyse(nobody), nobody)] == ["nobody"]


def test_a_small_class_gets_no_statistical_flag():
    results = {f"s{i}": result(passing("B.four") if i % 2 else passing()) for i in range(items.MIN_CLASS - 1)}
    assert items.flags(items.analyse(results), results) == []


def test_a_traceback_is_summed_up_by_its_exception_not_its_first_line():
    """A failed unittest's message is a traceback: its most common message must say what failed."""
    failed = ('Traceback (most recent call last):\n  File "test_vectors.py", line 38, in test_mean\n'
              '    self.assertEqual(right, 4)\nAssertionError: 0 != 4 : 0 of 4 means were right')
    assert items.blank_numbers(failed) == "AssertionError: # != # : # of # means were right"
    framed = '    return func(*args, **kwargs)\n  File "test_vectors.py", line 38, in t\nAssertionError: 1 != 2'
    assert items.headline(framed) == "AssertionError: 1 != 2"
    assert items.headline("expected 3, got 4\nHint: read it") == "expected 3, got 4"


def test_messages_have_their_numbers_blanked():
    assert items.blank_numbers("expected 3.25e-4, got -7 (shape (2, 3))\nmore") == \
        "expected #, got # (shape (#, #))"


# ---------------------------------------------------------------- answers alike
def test_fingerprints_follow_the_tolerance_and_the_shape():
    probe = Probe("call", {}, "m")

    def fp(value, rtol=1e-6, atol=1e-8):
        return answers.fingerprint([Observation(probe, returned=value)], rtol, atol)

    base = np.array([1.0, 2.0, 3.0])
    assert fp(base) == fp(base * (1 + 1e-9))
    assert fp(base) != fp(base * 1.01)
    assert fp(base) != fp(base.reshape(3, 1))
    assert fp(np.array([1e-12, 1.0])) == fp(np.array([-1e-12, 1.0]))
    raised = answers.fingerprint([Observation(probe, raised={"type": "ValueError", "message": "x=1"})], 1e-6, 0)
    assert raised == answers.fingerprint([Observation(probe, raised={"type": "ValueError", "message": "x=2"})],
                                         1e-6, 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8))
def test_a_fingerprint_is_deterministic_and_short(values):
    probe = Probe("call", {}, "m")
    obs = [Observation(probe, returned=np.array(values)), Observation(probe, returned=(1, {"k": values[0]}))]
    assert answers.fingerprint(obs, 1e-6, 1e-8) == answers.fingerprint(list(obs), 1e-6, 1e-8)
    assert len(answers.fingerprint(obs, 1e-6, 1e-8)) == answers.DIGITS


def test_clusters_need_two_rare_shared_answers():
    results = {f"s{i:02d}": result(passing()) for i in range(30)}
    results["s01"] = result(passing("A.one", "A.two"), {"A.one": "x1", "A.two": "x2"})
    results["s02"] = result(passing("A.one", "A.two"), {"A.one": "x1", "A.two": "x2"})
    results["s03"] = result(passing("A.one"), {"A.one": "x1"})            # one shared answer: not listed
    results["s04"] = result(passing("B.three", "B.four"), {"B.three": "y", "B.four": "z"})
    results["s05"] = result(passing("B.three", "B.four"), {"B.three": "y", "B.four": "w"})
    for i in range(10, 20):                                                # a common answer: not rare
        results[f"s{i}"] = result(passing("B.four", "A.two"), {"B.four": "common", "A.two": "common2"})
    found = alike.clusters(results)
    assert [c.members for c in found] == [("s01", "s02")]
    assert dict(found[0].shared) == {"A.one": 3, "A.two": 2}


def test_normalised_code_ignores_names_comments_and_layout():
    one = 'def f(x, y):\n    """doc"""\n    total = x + y  # add\n    return total * 2\n'
    two = "# mine\ndef g(a,\n      b):\n\n    s = a + b\n    return s*2\n"
    other = "def f(x, y):\n    return (x - y) * 2\n"
    assert alike.normalise(one) == alike.normalise(two) != alike.normalise(other)


def test_identical_code_groups(tmp_path):
    for name, text in (("a", "x = 1\n"), ("b", "y = 1  # same\n"), ("c", "x = 2\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "m.py").write_text(text)
    digests = {n: alike.code_digest(tmp_path / n) for n in "abc"}
    digests["d"] = alike.code_digest(tmp_path / "missing")
    assert alike.identical_code(digests) == [("a", "b")]


# ---------------------------------------------------------------- re-grade
def test_compare_and_summary_lines():
    old = {"s1": result(passing("A.one")), "s2": result(passing("A.one")), "s3": result(passing())}
    new = {"s1": result(passing()), "s2": result(passing()), "s3": result(passing())}
    changes = regrade.compare(old, new)
    assert [(c.submission_id, c.old, c.new, c.flips) for c in changes] == [
        ("s1", 6.0, 8.0, (("A.one", "failed", "passed"),)), ("s2", 6.0, 8.0, (("A.one", "failed", "passed"),))]
    assert regrade.summary_lines(changes) == ["A.one: 2 students gain 2 points"]
    assert regrade.csv_text(changes).splitlines()[1] == "s1,6,8,+2,A.one: failed->passed,A.one: +2"


def test_previous_results_are_kept_until_a_complete_run(tmp_path):
    old = {"result": result(passing("A.one")).to_dict(), "setup": "old", "content": "c1"}
    assert regrade.keep_previous(tmp_path, "new", {"s1": old}) == 1
    current = {"s1": ("c1", result(passing()))}
    partial = regrade.conclude(tmp_path, "new", {}, complete=False)
    assert (partial.state, partial.waiting) == ("partial", 1) and (tmp_path / regrade.PREVIOUS).exists()
    assert regrade.keep_previous(tmp_path, "new", {"s1": {**old, "setup": "new"}}) == 1   # resumed: still kept
    done = regrade.conclude(tmp_path, "new", current, complete=True)
    assert done.state == "complete" and [c.change for c in done.changes] == [2.0]
    assert not (tmp_path / regrade.PREVIOUS).exists()
    assert regrade.conclude(tmp_path, "new", current, complete=True).state == "none"
    assert (tmp_path / regrade.CSV_NAME).read_text().strip() == ",".join(regrade.COLUMNS)


def test_a_changed_submission_is_not_a_regrade():
    old = {"s1": ("c1", result(passing("A.one")))}
    new = {"s1": ("c2", result(passing()))}
    assert regrade.impact_of(old, new, "complete").changes == ()


def test_answers_stay_out_of_results_json():
    from grader.report import gradescope

    data = gradescope.to_results_json(result(passing("A.one"), {"A.one": "abc123"}))
    assert "abc123" not in json.dumps(data)
    assert GradingResult.from_dict(result(passing(), {"A.one": "f"}).to_dict()).answers == {"A.one": "f"}
