"""Precision follows the student's dtype, and one bug is named in one place (rubric.yaml's builds_on)."""
from __future__ import annotations

from grader.messages import FLOAT32_NOTE, FLOAT64_REQUIRED
from grader.outcome import Status

from tests.hw3testing import grade_checks, write_submission

FLOAT32_HELPERS = {
    "activations": '''
_mlp_forward, _lipschitz_estimate = mlp_forward, lipschitz_estimate


def mlp_forward(As, bs, x, act):
    f32 = lambda t: torch.as_tensor(t).float()
    return _mlp_forward([f32(A) for A in As], [f32(b) for b in bs], f32(x), act)


def lipschitz_estimate(g, xs):
    return float(_lipschitz_estimate(g, torch.as_tensor(xs).float()))
''',
    "losses": '''
def ce_scaled_onehot(lam, k):
    lam = torch.tensor(float(lam), dtype=torch.float32)
    return torch.log1p((k - 1) * torch.exp(-lam)).item()
''',
}


def test_float32_answers_pass_at_float32_precision_and_say_so(tmp_path, rubric):
    folder = write_submission(tmp_path / "f32", patch=FLOAT32_HELPERS)
    outcomes = grade_checks(folder, rubric, ["P5.mlp_forward", "P5.lipschitz_estimate",
                                             "P3.ce_scaled_onehot", "P3.ce_scaled_onehot.large_lam"])
    for check_id in ("P5.mlp_forward", "P5.lipschitz_estimate", "P3.ce_scaled_onehot"):
        assert outcomes[check_id].status is Status.PASSED, outcomes[check_id].message
    assert FLOAT32_NOTE in outcomes["P5.mlp_forward"].message
    # precision is the point of this hidden check: no slack, and the student is told why
    strict = outcomes["P3.ce_scaled_onehot.large_lam"]
    assert strict.status is Status.FAILED
    assert FLOAT64_REQUIRED in strict.message and "ce_scaled_onehot(" not in strict.message


def test_reference_answers_carry_no_float32_note(reference_result):
    assert not any(FLOAT32_NOTE in o.message for o in reference_result.outcomes)


def test_a_later_check_names_the_earlier_failure_it_builds_on(tmp_path, rubric):
    folder = write_submission(tmp_path / "grad", patch={"gradients": '''
_two_layer_grad = two_layer_grad


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    ga, gb, gu = _two_layer_grad(a, b, u, x, y, activation, alpha)
    return ga, gb, 2 * gu       # one bug, used by two_layer_sgd too
'''})
    outcomes = grade_checks(folder, rubric, ["P6.two_layer_grad.relu", "P6.two_layer_sgd.relu", "P6.dead_units"])
    grad, sgd = outcomes["P6.two_layer_grad.relu"], outcomes["P6.two_layer_sgd.relu"]
    assert grad.status is Status.FAILED and sgd.status is Status.FAILED
    assert ('\nThis check builds on code that also failed P6.two_layer_grad.relu ("two_layer_grad with ReLU"): '
            'fix that check first; the same bug may be all that fails here.\nHint: ') in sgd.message
    assert "builds on" not in grad.message
    assert sgd.score == 0 and grad.score == 0                      # the points stay as the rubric says
    assert outcomes["P6.dead_units"].status is Status.PASSED


def test_a_module_that_fails_to_import_is_the_one_place_named(tmp_path, rubric):
    """Both checks fail for the import: the message says fix the import, not "builds on" the other."""
    folder = write_submission(tmp_path / "noimport", patch={"gradients": "\nimport a_module_nobody_has\n"})
    outcomes = grade_checks(folder, rubric, ["P6.two_layer_grad.relu", "P6.two_layer_sgd.relu"])
    for outcome in outcomes.values():
        assert outcome.status is Status.ERROR and "Importing gradients.py failed" in outcome.message
        assert "builds on" not in outcome.message, outcome.message
