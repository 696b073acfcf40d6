"""Blame the right party (issue 17.6): every check of Homework 3, each probe answered with something
its judge cannot use, is the student's failure naming what came back, never a grader error.

Judged in this process on forged observations (the runner's own `judge_observations`), as if the
child had answered them: values go through the wire's encoding first, so they arrive as the
parent sees them (an object as an opaque text, a tensor as a TorchArray)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from grader.checks.base import ENGINE_SUMMARIES, Observation, Verdict
from grader.checks.callables import reference_answer
from grader.outcome import Status
from grader.probes import wire
from grader.runner import judge_observations
from grader.draws import rng_for
from tests.hw3testing import UNFILLED
from tests.hw3testing import HW3

RUBRIC = HW3.load_rubric()


def tensor(array) -> np.ndarray:
    return np.asarray(array).view(wire.TorchArray)


class Student:                                # a custom object returned instead of numbers
    def __repr__(self) -> str:
        return "<Student object>"


#: what came back -> words of which the message must use one to name it (numbers of the wrong
#: form may be named by their shape)
UNUSABLE = {
    "str": ("0.5", ("str",)),
    "nested str": ([["0.5", "0.25"], ["1", "2"]], ("str",)),
    "dict": ({"a": 1.0}, ("dict",)),
    "object": (Student(), ("Student",)),
    "ragged": ([[1.0, 2.0], [3.0]], ("ragged", "length")),     # a pair of lists, where a pair is expected
    "None": (None, ("None",)),
    "bytes": (b"0.5", ("bytes",)),
    "complex": (tensor(np.array([1 + 2j, 3j])), ("complex",)),
    "wrong shape": (tensor(np.zeros((2, 3, 5))), ("shape",)),
    "nested tuples": (((1.0, (2.0,)), (3.0,)), ("tuple", "shape")),
    "huge int": (10**40, ("1e+40", "10000000000", "shape")),
    "nan": (float("nan"), ("nan", "shape")),
    "plain floats": ((1.0, 2.0, 3.0), ("float", "shape", "not close")),   # two_layer_grad's three numbers (17.6)
    "list of str": (["0.1", "0.2"], ("str",)),                       # cross_entropy's strings (17.6)
}


def as_received(value):
    """The value as the parent decodes it from the child's answer."""
    return wire.decode(wire.encode(value))


def _cases():
    checks = HW3.catalog
    return [(entry, checks[entry.id]) for entry in RUBRIC.checks if entry.id in checks]


CASES = _cases()
CASES_BY_ID = {entry.id: check for entry, check in CASES}


@pytest.mark.parametrize("name", UNUSABLE)
@pytest.mark.parametrize("entry, check", CASES, ids=[e.id for e, _ in CASES])
def test_an_unusable_answer_is_the_students_failure_naming_what_came_back(entry, check, name):
    value, words = UNUSABLE[name]
    probes = check.probes(rng_for(entry))
    observations = [Observation(p, returned=as_received(value)) for p in probes]
    outcome = judge_observations(entry, check, observations, HW3)
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)
    assert any(word.lower() in outcome.message.lower() for word in words), outcome.message
    assert not UNFILLED.findall(outcome.message)


SUMMARY_CASES = [(entry, check) for entry, check in CASES
                 if any(p.is_summary for p in check.probes(rng_for(entry)))]


@pytest.mark.parametrize("name", UNUSABLE)
@pytest.mark.parametrize("entry, check", SUMMARY_CASES, ids=[e.id for e, _ in SUMMARY_CASES])
def test_a_forged_summary_of_the_right_keys_is_the_students_failure(entry, check, name):
    """A probe kind replaced by one that answers a dict of the summary's keys, each holding junk."""
    value = as_received(UNUSABLE[name][0])

    def forged(probe):
        keys = ENGINE_SUMMARIES.get(probe.kind, (probe.summary,))[0]
        return {key: value for key in keys} if probe.is_summary else value

    observations = [Observation(p, returned=forged(p)) for p in check.probes(rng_for(entry))]
    outcome = judge_observations(entry, check, observations, HW3)
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)


def _crashing_judge(ctx):
    ctx.observations[0].value          # read what came back, then fail as a buggy judge would
    raise IndexError("a bug of the judge")


def test_a_judge_that_fails_on_an_answer_of_the_right_form_is_a_grader_error():
    entry = RUBRIC.entry("Q2.sigmoid_vjp")
    check = dataclasses.replace(CASES_BY_ID["Q2.sigmoid_vjp"], judge=_crashing_judge)
    probes = check.probes(rng_for(entry))
    right = [Observation(p, returned=reference_answer(p, HW3.reference_object)) for p in probes]
    wrong = [Observation(p, returned=as_received(tensor(np.zeros((2, 2))))) for p in probes]
    assert judge_observations(entry, check, right, HW3).status is Status.GRADER_ERROR
    outcome = judge_observations(entry, check, wrong, HW3)
    assert outcome.status is Status.FAILED
    assert outcome.message.endswith("returned a torch.Tensor of shape (2, 2) and dtype float64; expected a "
                                    "numpy.ndarray of shape (1,) and dtype float64.")
    assert "IndexError: a bug of the judge" in outcome.detail      # the instructor still sees the judge's bug


#: a summary of the right form, each field as its probe kind sends it (check -> the answer to each probe)
RIGHT_SUMMARIES = {
    "Q2.vjp_large": lambda probe: {"type": "torch.Tensor", "shape": (probe.params["n"],), "dtype": "float64",
                                   "elapsed": 0.05, "rss_before_mb": 300.0, "inputs_mb": 16.0, "peak_mb": None},
    "P4.max_derivative.tie": lambda probe: {"raised": {"type": "ValueError", "mro": ["ValueError", "Exception"],
                                                      "message": "ValueError: a tie"}},
}


@pytest.mark.parametrize("check_id", RIGHT_SUMMARIES)
def test_a_judge_that_fails_on_a_summary_of_the_right_form_is_a_grader_error(check_id):
    """The summary's declared forms decide: a field of the wrong form is the student's (tests/corpus/
    test_attack9.py), a judge failing on a summary of the right form stays the grader's bug."""
    entry = RUBRIC.entry(check_id)
    check = dataclasses.replace(CASES_BY_ID[check_id], judge=_crashing_judge)
    observations = [Observation(p, returned=as_received(RIGHT_SUMMARIES[check_id](p)))
                    for p in check.probes(rng_for(entry))]
    outcome = judge_observations(entry, check, observations, HW3)
    assert outcome.status is Status.GRADER_ERROR, (outcome.status, outcome.detail)
    assert "IndexError: a bug of the judge" in outcome.detail


def _counting_judge(ctx):
    values = np.asarray(ctx.observations[0].value, dtype=np.float64)
    int(values.sum())                 # counts with what it is given: int(nan) raises
    return Verdict.passed()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_judge_that_fails_on_nan_or_inf_blames_the_answer_not_the_grader(bad):
    """Any judge that counts with the numbers (int(nan)) fails on a non-finite answer: the student's failure."""
    entry = RUBRIC.entry("Q2.sigmoid_vjp")
    check = dataclasses.replace(CASES_BY_ID["Q2.sigmoid_vjp"], judge=_counting_judge)
    probes = check.probes(rng_for(entry))
    right = [Observation(p, returned=reference_answer(p, HW3.reference_object)) for p in probes]
    assert judge_observations(entry, check, right, HW3).status is Status.PASSED
    broken = []
    for obs in right:
        value = np.array(obs.returned, dtype=np.float64, copy=True)
        value.flat[0] = bad
        broken.append(Observation(obs.probe, returned=as_received(tensor(value))))
    outcome = judge_observations(entry, check, broken, HW3)
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)
    assert "nan or inf" in outcome.message and "expected finite numbers" in outcome.message
