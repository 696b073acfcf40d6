"""Problem 1 checks: f_true, MLP, initialize, make_data, train (judged by replay), plot_fit, the fit.

End to end (grade_checks starts a child: ~4 s a call), so every submission below carries
several bugs that hit different checks. The judges' statistics and the replay are also
run in this process on many seeds (`run_inprocess`: the runner's steps without the sandbox).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from tests.hw3testing import grade_checks
from grader.checks import p1
from grader.checks.base import CHECKS, JudgeContext, Observation
from grader.compare import Tolerance
from grader.outcome import Status
from grader.probes import child, wire
from grader.probes.student import Student
from grader.runner import rng_for

P1_IDS = ["P1.f_true", "P1.mlp", "P1.initialize", "P1.make_data", "P1.train.epochs", "P1.train.replay",
          "P1.train.no_reinit", "P1.plot_fit", "P1.fit"]
FAST_IDS = [i for i in P1_IDS if i != "P1.fit"]
TRAIN_IDS = ["P1.train.epochs", "P1.train.replay", "P1.train.no_reinit"]


def failed_with(outcome, text: str, status: Status = Status.FAILED) -> None:
    """The check failed and its message (unredacted: `detail`, for hidden checks too) says `text`."""
    assert outcome.status is status, (outcome.status, outcome.detail)
    assert re.search(re.escape(text), outcome.detail), outcome.detail


def passed(outcomes, ids) -> None:
    bad = {i: (outcomes[i].status.value, outcomes[i].detail) for i in ids if outcomes[i].status is not Status.PASSED}
    assert not bad, bad


# ---- running a check in this process (no child), for sweeps over seeds ------------------------

def run_inprocess(folder, check_id: str, rubric, seed: int | None = None):
    """Probe with the student's module loaded here, through the wire as the runner does; then judge."""
    entry = rubric.entry(check_id)
    if seed is not None:
        from dataclasses import replace
        entry = replace(entry, seed=seed)
    student = Student({"threelayerSGD": str(folder / "threelayerSGD.py")}, None)
    check = CHECKS[check_id]
    kinds = child._load_probe_kinds()
    observations = []
    for probe in check.probes(rng_for(entry)):
        params = child.to_student_args(wire.decode(wire.encode(probe.params)), student)
        returned = wire.decode(wire.encode(kinds[probe.kind](student, **params)))
        observations.append(Observation(probe, returned=returned))
    return check.judge(JudgeContext(tuple(observations), Tolerance(entry.rtol, entry.atol), rng_for(entry)))


# ---- the reference ------------------------------------------------------------------------------

@pytest.mark.slow
def test_reference_passes_every_p1_check(reference_submission, rubric):
    outcomes = grade_checks(reference_submission, rubric, ids=P1_IDS)
    passed(outcomes, P1_IDS)
    assert outcomes["P1.mlp"].score == 2 and sum(o.score for o in outcomes.values()) == 20
    assert re.search(r"learned function is [0-9.]+ from f_true on \[-2, 2\]", outcomes["P1.fit"].message)
    assert re.search(r"wrote a \d+ x \d+ PNG", outcomes["P1.plot_fit"].message)


@pytest.mark.parametrize("seed", range(8))
def test_reference_passes_the_judges_on_other_seeds(reference_submission, rubric, seed):
    for check_id in ("P1.mlp", "P1.initialize", "P1.make_data") + tuple(TRAIN_IDS):
        verdict = run_inprocess(reference_submission, check_id, rubric, seed=1000 + seed)
        assert verdict.fraction == 1.0, (check_id, verdict.message)


# ---- correct alternatives in other styles ---------------------------------------------------------

DATALOADER_STYLE = '''
from torch.utils.data import DataLoader, TensorDataset


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    """A DataLoader (its own shuffling, no generator), an extra evaluation with gradients on (never
    backpropagated), and the per-sample mean of the epoch's loss: all fine."""
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    history = []
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        history.append(total / len(X))
        full_loss = criterion(model(X), Y)          # evaluated with gradients on, never backpropagated
    return history


def initialize(model):
    for layer in (model.l1, model.l2, model.l3):
        nn.init.normal_(layer.weight, mean=0.0, std=1.0)
        nn.init.constant_(layer.bias, 0.03)


def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.normal(0.0, 1.0, size=(n, 1), generator=generator)
    noise = torch.normal(0.0, 1.0, size=(n, 1), generator=generator)
    return X, f_true(X) + noise_std * noise


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(1, 64)
        self.l2 = nn.Linear(64, 64)
        self.l3 = nn.Linear(64, 1)

    def forward(self, x):
        return self.l3(nn.functional.sigmoid(self.l2(nn.functional.sigmoid(self.l1(x)))))
'''

MANUAL_HALF_MSE_STYLE = '''
def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    """Half-MSE as the handout writes it, manual updates, argsort of uniforms as the permutation."""
    n = len(X)
    losses = []
    for epoch in range(epochs):
        order = torch.argsort(torch.rand(n, generator=generator))
        batch_losses = []
        for i in range(0, n, batch_size):
            sel = order[i:i + batch_size]
            loss = 0.5 * ((model(X[sel]) - Y[sel]) ** 2).mean()
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
            batch_losses.append(float(loss))
        losses.append(sum(batch_losses) / len(batch_losses))
    return losses


def initialize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) if "weight" in name else torch.full_like(p, 0.03))
'''


def test_other_styles_pass(submission, rubric):
    ids = ["P1.mlp", "P1.initialize", "P1.make_data"] + TRAIN_IDS
    for patch in (DATALOADER_STYLE, MANUAL_HALF_MSE_STYLE):
        outcomes = grade_checks(submission(patch={"threelayerSGD": patch}), rubric, ids=ids)
        passed(outcomes, ids)


# ---- seed 001: layers linear1.., an extra loop around the batches, the last batch's loss ---------

SEED_001 = '''
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(1, 64, bias=True)
        self.linear2 = nn.Linear(64, 64, bias=True)
        self.linear3 = nn.Linear(64, 1, bias=True)

    def forward(self, x):
        x = torch.sigmoid(self.linear1(x))
        x = torch.sigmoid(self.linear2(x))
        x = self.linear3(x)
        return x


def initialize(model):
    for layer in [model.linear1, model.linear2, model.linear3]:
        layer.weight.data = torch.normal(0, 1, layer.weight.shape)
        layer.bias.data = torch.full(layer.bias.shape, 0.03)


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    loss_function = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_dataloader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=True)
    f_val = []
    for epoch in range(epochs):
        for _ in range(N // B):
            for x_data, y_data in train_dataloader:
                y_pred = model(x_data)
                loss = loss_function(y_pred, y_data.float())
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
        f_val.append(loss)
    return f_val
'''


def test_seed_001_bugs(submission, rubric):
    ids = ["P1.mlp", "P1.initialize"] + TRAIN_IDS
    outcomes = grade_checks(submission(patch={"threelayerSGD": SEED_001}), rubric, ids=ids)
    mlp = outcomes["P1.mlp"]
    failed_with(mlp, "MLP has no attribute l1 (its nn.Linear layers: linear1 (1->64), linear2 (64->64), "
                     "linear3 (64->1)): the contract names the layers l1, l2, l3")
    assert mlp.score == 1.0                                  # the forward pass itself is right
    epochs = outcomes["P1.train.epochs"]
    failed_with(epochs, "each epoch took 12 steps, expected 3 = ceil(300 / 128): is there an extra loop "
                        "around your batches?")
    failed_with(epochs, "each epoch's number is the loss of its last batch: return the mean")
    assert epochs.score == 0
    passed(outcomes, ["P1.initialize", "P1.train.replay", "P1.train.no_reinit"])   # each step is right


# ---- train: each bug class fails the right check ----------------------------------------------------

def _train_variant(*, perm="torch.randperm(n, generator=generator)", step_lr="lr", zero_grad=True,
                   record="epoch", before="") -> str:
    """The reference's loop with one or more bugs put in."""
    return f'''
def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr={step_lr})
    n = X.shape[0]
    history = []
    {before}
    perm = {perm}
    for _ in range(epochs):
        {"perm = " + perm if "randperm" in perm else "pass"}
        batch_losses = []
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            {"optimizer.zero_grad()" if zero_grad else "pass"}
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
            {"history.append(loss.item())" if record == "batch" else ""}
        {"history.append(sum(batch_losses) / len(batch_losses))" if record == "epoch" else ""}
    return history
'''


UNIFORM_INIT = '''
def initialize(model):
    for layer in (model.l1, model.l2, model.l3):
        layer.weight.data = torch.rand(layer.weight.shape)
        layer.bias.data = torch.full(layer.bias.shape, 0.03)
'''
DEFAULT_INIT = '''
def initialize(model):                       # keeps (resets to) nn.Linear's own initialization
    for layer in (model.l1, model.l2, model.l3):
        layer.reset_parameters()
        layer.bias.data.fill_(0.03)
'''
ZERO_BIAS = '''
def initialize(model):
    for layer in (model.l1, model.l2, model.l3):
        nn.init.normal_(layer.weight)
        nn.init.zeros_(layer.bias)
'''
DATA_IGNORES_GENERATOR = '''
def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1)
    return X, f_true(X) + noise_std * torch.randn(n, 1)
'''
DATA_FLOAT64 = '''
def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return X, f_true(X) + noise_std * torch.randn(n, 1, generator=generator, dtype=torch.float64)
'''
NOISE_VARIANCE = '''
def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator)
    return X, f_true(X) + noise_std ** 2 * torch.randn(n, 1, generator=generator)
'''


def test_no_zero_grad_uniform_init_and_data_ignoring_the_generator(submission, rubric):
    source = _train_variant(zero_grad=False) + UNIFORM_INIT + DATA_IGNORES_GENERATOR
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric,
                            ids=["P1.initialize", "P1.make_data"] + TRAIN_IDS)
    failed_with(outcomes["P1.train.replay"], "SGD step 2 (epoch 1, batch 2) moved the parameters along the sum "
                                             "of this batch's gradient and the earlier ones': gradients accumulate. "
                                             "Call optimizer.zero_grad()")
    failed_with(outcomes["P1.initialize"], "the weights look like U(0, 1) (torch.rand), not N(0, 1)")
    assert outcomes["P1.initialize"].score == 1.0            # the biases are right
    failed_with(outcomes["P1.make_data"], "make_data drew from torch's global random state although a generator "
                                          "was given")
    failed_with(outcomes["P1.make_data"], "two generators with the same seed gave different X")
    passed(outcomes, ["P1.train.epochs", "P1.train.no_reinit"])


def test_no_reshuffle_default_init_and_float64_data(submission, rubric):
    source = (_train_variant(perm="torch.randperm(n, generator=generator)", before="", record="epoch")
              .replace("        perm = torch.randperm(n, generator=generator)\n", "", 1)
              + DEFAULT_INIT + DATA_FLOAT64)
    assert source.count("randperm") == 1                     # one permutation, before the epoch loop
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric,
                            ids=["P1.initialize", "P1.make_data"] + TRAIN_IDS)
    epochs = outcomes["P1.train.epochs"]
    failed_with(epochs, "every epoch visits the points in the same order: draw a new permutation "
                        "(torch.randperm) each epoch")
    assert epochs.score == pytest.approx(1.0)               # the returned losses are right: 1 of 3 points
    failed_with(outcomes["P1.initialize"], "Did you keep PyTorch's default initialization?")
    failed_with(outcomes["P1.make_data"], "has dtype float64, expected float32")
    passed(outcomes, ["P1.train.replay", "P1.train.no_reinit"])


def test_no_shuffle_zero_bias_and_noise_variance(submission, rubric):
    source = _train_variant(perm="torch.arange(n)") + ZERO_BIAS + NOISE_VARIANCE
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric,
                            ids=["P1.initialize", "P1.make_data"] + TRAIN_IDS)
    failed_with(outcomes["P1.train.epochs"], "the order never changes from 0, 1, ..., n-1: shuffle.")
    failed_with(outcomes["P1.initialize"], "l1.bias is 0, expected every bias exactly 0.03")
    assert outcomes["P1.initialize"].score == 1.0
    failed_with(outcomes["P1.make_data"], "the noise Y - f_true(X) of make_data(2000, noise_std=0.5, "
                                          "generator=<seeded generator>) has mean")
    passed(outcomes, ["P1.train.replay", "P1.train.no_reinit"])


def test_wrong_lr_and_a_loss_per_batch(submission, rubric):
    source = _train_variant(step_lr="alpha", record="batch")
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=TRAIN_IDS)
    failed_with(outcomes["P1.train.replay"], "SGD step 1 (epoch 1, batch 1) used step size 0.1 (the global "
                                             "alpha), not the lr argument (0.03)")
    epochs = outcomes["P1.train.epochs"]
    failed_with(epochs, "returned 9 numbers, one per batch: return one number per epoch")
    assert epochs.score == pytest.approx(2.0)               # the loop itself is right
    passed(outcomes, ["P1.train.no_reinit"])


def test_reinitialize_inside_train(submission, rubric):
    source = _train_variant(before="initialize(model)")
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=TRAIN_IDS)
    no_reinit = outcomes["P1.train.no_reinit"]
    failed_with(no_reinit, "when the first batch arrived every bias was 0.03, not the value the model came with: "
                           "train re-initialized the model")
    assert no_reinit.message.startswith("This hidden check failed")      # hidden: no values shown
    assert "Hint: train continues from the parameters" in no_reinit.message
    passed(outcomes, ["P1.train.epochs", "P1.train.replay"])


def test_not_implemented_is_not_attempted(submission, rubric):
    source = '''
def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    raise NotImplementedError("Problem 1: implement train")
'''
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=TRAIN_IDS + ["P1.fit"])
    for check_id in TRAIN_IDS + ["P1.fit"]:
        assert outcomes[check_id].status is Status.NOT_ATTEMPTED, outcomes[check_id]
        assert "Not started yet" in outcomes[check_id].message


# ---- train: bugs checked in this process (no child) -------------------------------------------------

INPROCESS_TRAIN_BUGS = {
    "drop_last": (_train_variant().replace("range(0, n, batch_size)", "range(0, n - batch_size + 1, batch_size)"),
                  "P1.train.epochs", "the last, smaller batch is missing"),
    "ignores_batch_size": (_train_variant().replace("batch_size)", "B)").replace("+ batch_size]", "+ B]"),
                           "P1.train.epochs", "Use the batch_size argument, not the global B."),
    "ignores_epochs": (_train_variant().replace("range(epochs)", "range(1)"),
                       "P1.train.epochs", "use the epochs argument"),
    "with_replacement": (_train_variant(perm="torch.randint(0, n, (n,), generator=generator)")
                         .replace("        pass\n", "        perm = torch.randint(0, n, (n,), generator=generator)\n"),
                         "P1.train.epochs", "do not draw indices with replacement (torch.randint)"),
    "last_batch_loss": (_train_variant(record="none").replace("    return history",
                                                              "        history.append(loss.item())\n    return history"),
                        "P1.train.epochs", "each epoch's number is the loss of its last batch"),
    "summed_loss": (_train_variant().replace("nn.MSELoss()", "nn.MSELoss(reduction='sum')"),
                    "P1.train.replay", "the loss is summed over the batch"),
    "momentum": (_train_variant().replace("lr=lr)", "lr=lr, momentum=0.9)"),
                 "P1.train.replay", "carries momentum (0.9 of the previous step)"),
    "no_step": (_train_variant().replace("optimizer.step()", "pass"),
                "P1.train.replay", "did not change the parameters: call optimizer.step()"),
    "label_shape": (_train_variant().replace("Y[idx])", "Y[idx].reshape(-1))"),
                    "P1.train.replay", "the subtraction broadcasts to (b, b)"),
    "new_model": (_train_variant(before="model = MLP()"),
                  "P1.train.replay", "train never ran the model it was given with gradients on"),
}


@pytest.mark.parametrize("bug", sorted(INPROCESS_TRAIN_BUGS))
def test_train_bug_classes_inprocess(bug, submission, rubric):
    source, check_id, message = INPROCESS_TRAIN_BUGS[bug]
    folder = submission(patch={"threelayerSGD": source})
    verdict = run_inprocess(folder, check_id, rubric)
    assert verdict.fraction < 1.0
    assert re.search(re.escape(message), verdict.message), verdict.message


def test_a_train_that_never_stops_is_stopped(submission, rubric):
    source = _train_variant().replace("range(epochs)", "iter(int, 1)")       # an endless epoch loop
    folder = submission(patch={"threelayerSGD": source})
    from grader.probes.training import GraderStop
    with pytest.raises(GraderStop, match="Does train use its `epochs` and `batch_size` arguments"):
        run_inprocess(folder, "P1.train.epochs", rubric)


# ---- MLP, initialize: more variants, in this process ---------------------------------------------

MLP_BUGS = {
    "relu": ("def _forward(self, x):\n    return self.l3(torch.relu(self.l2(torch.relu(self.l1(x)))))\n"
             "MLP.forward = _forward\n",
             "Your forward computes l3(relu(l2(relu(l1(x))))); the contract is l3(sigmoid(l2(sigmoid(l1(x)))))"),
    "sigmoid_out": ("def _forward(self, x):\n    return torch.sigmoid(self.l3(torch.sigmoid(self.l2(torch.sigmoid("
                    "self.l1(x))))))\nMLP.forward = _forward\n", "Your forward computes sigmoid(l3("),
    "flat_out": ("def _forward(self, x):\n    return self.l3(torch.sigmoid(self.l2(torch.sigmoid(self.l1(x))))).reshape(-1)\n"
                 "MLP.forward = _forward\n", "has shape (16,), expected (16, 1)"),
    "width": ("_init = MLP.__init__\ndef _new_init(self):\n    _init(self)\n    self.l2 = nn.Linear(64, 32)\n"
              "    self.l3 = nn.Linear(32, 1)\nMLP.__init__ = _new_init\n",
              "MLP().l2 is nn.Linear(64, 32), expected nn.Linear(64, 64)"),
}


@pytest.mark.parametrize("bug", sorted(MLP_BUGS))
def test_mlp_bugs_inprocess(bug, submission, rubric):
    source, message = MLP_BUGS[bug]
    verdict = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.mlp", rubric)
    assert verdict.fraction == 0.0
    assert re.search(re.escape(message), verdict.message), verdict.message


def _init_weights(rng: np.random.Generator, draw) -> dict[str, np.ndarray]:
    return {n: draw(rng, p1.PARAM_SHAPES[n]).astype(np.float32) if n.endswith("weight")
            else np.full(p1.PARAM_SHAPES[n], 0.03, dtype=np.float32) for n in p1.PARAM_NAMES}


def _judge_init(params: dict) -> object:
    probe = p1._initialize_probes(np.random.default_rng(0))[0]
    return p1._judge_initialize(JudgeContext((Observation(probe, returned={"params": params}),), Tolerance(),
                                             np.random.default_rng(0)))


def _xavier(rng, shape):
    return rng.normal(size=shape) * math.sqrt(2.0 / (shape[0] + shape[1]))


def _sym_uniform(rng, shape):
    return rng.uniform(-math.sqrt(3), math.sqrt(3), size=shape)


INIT_BUGS = {
    "xavier": (_xavier, "the weights have std"),
    "uniform_unit_variance": (_sym_uniform, "the weights look uniform, not Gaussian"),
    "std_0.1": (lambda rng, shape: rng.normal(size=shape) * 0.1, "expected 1"),
    "l1_only_small": (lambda rng, shape: rng.normal(size=shape) * (0.1 if shape == (64, 1) else 1.0),
                      "l1.weight has mean"),
    "mean_0.2": (lambda rng, shape: rng.normal(size=shape) + 0.2, "the mean is too far from 0"),
    "std_1.1": (lambda rng, shape: rng.normal(size=shape) * 1.1, "std"),
}


@pytest.mark.parametrize("bug", sorted(INIT_BUGS))
def test_initialize_bug_variants(bug):
    draw, message = INIT_BUGS[bug]
    verdict = _judge_init(_init_weights(np.random.default_rng(7), draw))
    assert verdict.fraction == 0.5, verdict.message           # the biases are right
    assert re.search(re.escape(message), verdict.message), verdict.message


def test_initialize_judge_passes_n01_draws():
    # 300 correct draws: each fails with probability <= 1e-6, so all pass
    for seed in range(300):
        verdict = _judge_init(_init_weights(np.random.default_rng(seed), lambda rng, shape: rng.normal(size=shape)))
        assert verdict.fraction == 1.0, (seed, verdict.message)


def test_bias_close_to_but_not_003_fails():
    params = _init_weights(np.random.default_rng(1), lambda rng, shape: rng.normal(size=shape))
    params["l2.bias"] = np.full(64, 0.0301, dtype=np.float32)
    verdict = _judge_init(params)
    assert verdict.fraction == 0.5 and "l2.bias is 0.0301, expected every bias exactly 0.03" in verdict.message


# ---- the statistics: thresholds as documented ---------------------------------------------------

def test_chi2_interval_is_exact_for_two_degrees_of_freedom():
    # chi2_2 has CDF 1 - exp(-x/2)
    lo, hi = p1.chi2_interval(2, 1e-3)
    assert lo == pytest.approx(-2 * math.log(1 - 5e-4), rel=1e-9)
    assert hi == pytest.approx(-2 * math.log(5e-4), rel=1e-9)


def test_chi2_interval_matches_known_quantiles():
    # chi2_10: 2.5% and 97.5% quantiles 3.24697 and 20.4832 (tables)
    lo, hi = p1.chi2_interval(10, 0.05)
    assert lo == pytest.approx(3.24697, abs=1e-4) and hi == pytest.approx(20.4832, abs=1e-4)


def test_normal_test_rejects_at_the_stated_rate():
    # at p = 0.2 the mean and mean-square tests are exact (reject 20%), the DKW bound conservative (< 20%)
    rng = np.random.default_rng(3)
    trials, n = 2000, 64
    rejects = np.zeros(3)
    for _ in range(trials):
        t = p1.normal_test(rng.normal(size=n) * 0.5, 0.5, 0.2)
        rejects += [not t.mean_ok, not t.std_ok, not t.ks_ok]
    rate = rejects / trials
    assert abs(rate[0] - 0.2) < 0.03 and abs(rate[1] - 0.2) < 0.03 and rate[2] < 0.2


def test_make_data_judge_passes_the_reference_on_many_seeds(reference_submission, rubric):
    for seed in range(40):
        verdict = run_inprocess(reference_submission, "P1.make_data", rubric, seed=seed)
        assert verdict.fraction == 1.0, (seed, verdict.message)


MAKE_DATA_BUGS = {
    "noise_not_from_generator": ('''
def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator)
    return X, f_true(X) + noise_std * torch.randn(n, 1)
''', "two generators with the same seed gave the same X but different noise"),
    "flat": ('''
def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, generator=generator)
    return X, f_true(X) + noise_std * torch.randn(n, generator=generator)
''', "has shape (500,), expected (500, 1)"),
    "uniform_x": ('''
def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.rand(n, 1, generator=generator) * 4 - 2
    return X, f_true(X) + noise_std * torch.randn(n, 1, generator=generator)
''', "X must be IID N(0, 1)"),
    "fixed_seed": ('''
def make_data(n=N, noise_std=0.0, generator=None):
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(n, 1, generator=generator)
    return X, f_true(X) + noise_std * torch.randn(n, 1, generator=generator)
''', "generators with different seeds gave the same X"),
    "wrong_default_n": ('''
def make_data(n=500, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator)
    return X, f_true(X) + noise_std * torch.randn(n, 1, generator=generator)
''', "has shape (500, 1), expected (512, 1)"),
}


@pytest.mark.parametrize("bug", sorted(MAKE_DATA_BUGS))
def test_make_data_bugs_inprocess(bug, submission, rubric):
    source, message = MAKE_DATA_BUGS[bug]
    verdict = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.make_data", rubric)
    assert verdict.fraction == 0.0
    assert re.search(re.escape(message), verdict.message), verdict.message


# ---- plot_fit and the fit -----------------------------------------------------------------------

def test_plot_and_fit_bugs(submission, rubric):
    source = '''
def plot_fit(model, X, Y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.plot(X.reshape(-1).numpy(), Y.reshape(-1).numpy(), "x")
    plt.show()                                   # no file written


_train = train
def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    return _train(model, X, Y, epochs=2, lr=lr, batch_size=batch_size, generator=generator)
'''
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=["P1.plot_fit", "P1.fit"])
    failed_with(outcomes["P1.plot_fit"], "plot_fit(model, X, Y, path) wrote no file at path")
    fit = outcomes["P1.fit"]
    failed_with(fit, f"in {p1.FIT_RUNS} runs of your pipeline")
    failed_with(fit, "train returned 2 losses with its default epochs; the contract's K is 1000.")


def test_plot_in_another_format_fails(submission, rubric):
    source = '''
def plot_fit(model, X, Y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, format="pdf")
    plt.close(fig)
'''
    verdict = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.plot_fit", rubric)
    assert verdict.fraction == 0.0 and "is a PDF" in verdict.message


def test_fit_judge_on_recorded_runs():
    spec = p1.FitSpec(0.0, "Problem 1 (clean labels)")
    probe = p1.fit_probes(spec)(np.random.default_rng(0))[0]
    target = p1.f_true_np(p1.FIT_GRID).reshape(-1, 1)

    def judge(preds):
        runs = [{"pred": p, "seconds": 2.0, "epochs": 1000, "n": 512} for p in preds]
        ctx = JudgeContext((Observation(probe, returned={"runs": runs}),), Tolerance(), np.random.default_rng(0))
        return p1.fit_judge(spec)(ctx)

    assert judge([target + 0.3]).fraction == 1.0
    assert judge([target + 1.5] * 3 + [target + 0.9]).fraction == 1.0        # one good run is enough
    stuck = judge([np.zeros_like(target)] * p1.FIT_RUNS)
    assert stuck.fraction == 0.0 and "the best constant is 1.6 away" in stuck.message
    nan = judge([np.full_like(target, np.nan)] * p1.FIT_RUNS)
    assert nan.fraction == 0.0 and "training diverged" in nan.message
