"""Red-team findings: each class of hostile submission, as a test.

Each class the red team found, now closed, and the attacks that were contained: kept so they stay so.
- forged evidence: student code running while the child encodes the answer (a tuple subclass's
  __iter__, a tensor subclass's __torch_function__) put the inputs back before they were read;
  the arguments are now copied right after the call (grader/probes/calls_extra.py);
- terminal injection: control characters of a student's exception text reached the terminal;
  every text from the child is shown with them escaped (wire.clean_text).
"""
from __future__ import annotations

import re

import pytest

from grader.outcome import Status
from hw3testing import grade_checks, write_submission

SGD_CHECK = "P6.two_layer_sgd.relu"

# two_layer_sgd that updates the caller's a, b, u in place (the bug the check docks half the points for)
SGD_IN_PLACE = '''
def _sgd_in_place(a, b, u, X, Y, lr, epochs, activation, alpha, generator):
    import torch
    X, Y = X.reshape(-1).double(), Y.reshape(-1).double()
    for _ in range(int(epochs)):
        for i in torch.randperm(X.numel(), generator=generator).tolist():
            ga, gb, gu = two_layer_grad(a, b, u, X[i], Y[i], activation, alpha)
            a -= lr * ga; b -= lr * gb; u -= lr * gu
    return a.clone(), b.clone(), u.clone()
'''

HONEST_IN_PLACE = SGD_IN_PLACE + '''
def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    return _sgd_in_place(a, b, u, X, Y, lr, epochs, activation, alpha, generator)
'''

# The returned value runs student code while the child encodes the answer, i.e. after the call and
# before `args_after` is read: it puts the inputs back, and the in-place mutation goes unseen.
RESTORE_ON_ITER = SGD_IN_PLACE + '''
class _Restoring(tuple):
    saved = []
    def __iter__(self):
        for t, s in self.saved:
            t.copy_(s)
        return tuple.__iter__(self)

def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    saved = [(t, t.clone()) for t in (a, b, u)]
    out = _Restoring(_sgd_in_place(a, b, u, X, Y, lr, epochs, activation, alpha, generator))
    out.saved = saved
    return out
'''

RESTORE_ON_DETACH = SGD_IN_PLACE + '''
import torch

class _Sneaky(torch.Tensor):
    saved = []
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.detach:
            for t, s in cls.saved:
                t.copy_(s)
        return super().__torch_function__(func, types, args, kwargs or {})

def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    _Sneaky.saved = [(t, t.clone()) for t in (a, b, u)]
    na, nb, nu = _sgd_in_place(a, b, u, X, Y, lr, epochs, activation, alpha, generator)
    return (na.as_subclass(_Sneaky), nb, nu)
'''


def test_in_place_update_costs_half_the_points(tmp_path, rubric):
    """Contained baseline: an honest in-place update gets 1 of the 2 points, with the message."""
    folder = write_submission(tmp_path / "sub", patch={"gradients": HONEST_IN_PLACE})
    outcome = grade_checks(folder, rubric, [SGD_CHECK])[SGD_CHECK]
    assert outcome.score == 1.0
    assert "changed its input a in place" in outcome.message


@pytest.mark.parametrize("code", [RESTORE_ON_ITER, RESTORE_ON_DETACH], ids=["tuple_iter", "tensor_detach"])
def test_restoring_inputs_during_encoding_does_not_hide_in_place_update(code, tmp_path, rubric):
    folder = write_submission(tmp_path / "sub", patch={"gradients": code})
    outcome = grade_checks(folder, rubric, [SGD_CHECK])[SGD_CHECK]
    assert outcome.score == 1.0
    assert "changed its input a in place" in outcome.message


CONTROL_CHARS = '''
def cross_entropy(f, y):
    raise ValueError("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m<b>red</b>\\r\\x00\\x08 done")
'''


def test_control_characters_in_exception_text_are_neutralised(tmp_path, rubric):
    folder = write_submission(tmp_path / "sub", patch={"losses": CONTROL_CHARS})
    outcome = grade_checks(folder, rubric, ["P3.cross_entropy.single"])["P3.cross_entropy.single"]
    assert outcome.status is Status.ERROR
    assert "raised ValueError" in outcome.message
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", outcome.message), repr(outcome.message)
