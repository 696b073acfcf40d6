"""Hidden inputs stay hidden, and a leak helps no one else (issue 10, class 6).

Non-visible checks are probed after every visible one, in a child of their own, so no
visible output can carry a hidden input; and they draw their inputs per submission
(identity + optional course secret), so one student's leak is not everyone's.
"""
from __future__ import annotations

import re

import pytest

from grader.draws import identity_key, rng_for
from grader.outcome import Status
from grader.runner import grade

from tests.hw3testing import write_submission
from tests.hw3testing import HW3

P3_CE = ["P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.cross_entropy.large_logits"]


def _probe_params(rubric, check_id: str, key: str) -> str:
    entry = rubric.entry(check_id)
    return repr([p.params for p in HW3.catalog[check_id].probes(rng_for(entry, key))])


def test_hidden_inputs_depend_on_the_submission_and_the_secret(rubric):
    hidden = [e.id for e in rubric.checks if e.secret]
    visible = [e.id for e in rubric.checks if not e.secret]
    alice, bob = identity_key("alice", secret=""), identity_key("bob", secret="")
    salted = identity_key("alice", secret="course-secret")
    changed = [i for i in hidden if _probe_params(rubric, i, alice) != _probe_params(rubric, i, bob)]
    assert len(changed) >= len(hidden) - 2, set(hidden) - set(changed)      # a few may have fixed inputs only
    assert all(_probe_params(rubric, i, alice) == _probe_params(rubric, i, identity_key("alice", secret=""))
               for i in hidden)                                              # the same submission, the same inputs
    assert any(_probe_params(rubric, i, alice) != _probe_params(rubric, i, salted) for i in hidden)
    assert all(_probe_params(rubric, i, alice) == _probe_params(rubric, i, bob) for i in visible)


@pytest.mark.parametrize("identity", ["student-17", "ada@example.edu", "Submission 9 (two students)"])
def test_judges_are_exact_for_any_draw(reference_submission, rubric, identity):
    """The reference passes every hidden check whatever the identity (the K = 1000 fits are visible)."""
    entries = [e for e in rubric.checks if e.secret]
    result = grade(reference_submission, HW3, rubric=rubric, entries=entries, identity=identity)
    failed = {o.check_id: o.detail for o in result.outcomes if o.status is not Status.PASSED}
    assert not failed


SPY = '''
import os, tempfile
_reference_ce = cross_entropy
_CALLS = []


def cross_entropy(f, y):
    size = float(abs(torch.as_tensor(f)).max())
    _CALLS.append(size)
    if size < 50:           # the visible checks: try to leak whatever this process has seen before
        raise ValueError("seen so far: " + ", ".join(f"{v:.1f}" for v in _CALLS))
    if len(_CALLS) > 1 and min(_CALLS) < 50:
        return _reference_ce(f, y) + 1.0      # the same process as the visible checks: be wrong
    return _reference_ce(f, y)
'''


def test_hidden_checks_run_after_the_visible_ones_in_a_child_of_their_own(tmp_path, rubric):
    folder = write_submission(tmp_path / "spy", patch={"losses": SPY})
    hidden_first = [rubric.entry(i) for i in reversed(P3_CE)]      # the order asked for changes nothing
    outcomes = {o.check_id: o for o in grade(folder, HW3, rubric=rubric, entries=hidden_first).outcomes}
    for check_id in P3_CE[:2]:
        message = outcomes[check_id].message
        assert outcomes[check_id].status is Status.ERROR and "seen so far" in message
        assert not any(float(v) >= 50 for v in re.findall(r"\d+\.\d", message.split("seen so far:")[1])), message
    hidden = outcomes["P3.cross_entropy.large_logits"]
    assert hidden.status is Status.PASSED, hidden.detail      # no visible call happened in its process


def test_identity_is_the_students_emails_on_gradescope_and_in_its_export(tmp_path):
    import json

    from grader.build.gradescope_entry import read_metadata
    from grader.draws import identity_of

    meta = tmp_path / "submission_metadata.json"
    meta.write_text(json.dumps({"id": 99, "users": [{"name": "B", "email": "Bob@x.edu", "id": 2},
                                                    {"name": "A", "email": "ada@x.edu", "id": 1}]}))
    assert read_metadata(meta).identity == "ada@x.edu,bob@x.edu"            # resubmissions keep it
    assert identity_of([{"name": "A", "email": "ada@x.edu", "sid": "7"}, {"email": "BOB@x.edu"}], "s1") \
        == "ada@x.edu,bob@x.edu"                                               # the export's students
    assert identity_of([], "submission_42") == "submission_42"
    assert identity_of([{"name": "Ada"}], "s") == "ada"
