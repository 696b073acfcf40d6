"""Problem 1 checks: f_true, MLP, initialize, make_data, train (judged by replay), plot_fit, the fit.

End to end (grade_checks starts a child: ~4 s a call), so every submission below carries
several bugs that hit different checks. The judges' statistics and the replay are also
run in this process on many seeds (`run_inprocess`: the runner's steps without the sandbox).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hw3testing import grade_checks
from hw3.checks import p1
from grader.checks import png as png_decoder
from grader.checks import statistical
from grader.checks.base import JudgeContext, Observation
from grader.compare import Mismatch, Tolerance
from grader.outcome import Status
from grader.probes import child, wire
from grader.probes.student import Student
from grader.runner import rng_for
from tests.hw3testing import HW3

P1_IDS = ["P1.f_true", "P1.mlp", "P1.initialize", "P1.make_data", "P1.train.epochs", "P1.train.replay",
          "P1.train.no_reinit", "P1.plot_fit", "P1.fit"]
FAST_IDS = [i for i in P1_IDS if i != "P1.fit"]
TRAIN_IDS = ["P1.train.epochs", "P1.train.replay", "P1.train.no_reinit"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """`run_inprocess` trains the tiny MLP in this process: one intra-op thread, as in the child. Two of them
    on CI's two cores, shared with the other test worker, made the endless train's 5000 steps 8x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    check = HW3.catalog[check_id]
    kinds = child._load_probe_kinds(HW3.probe_files())
    observations = []
    for probe in check.probes(rng_for(entry)):
        params = child.to_student_args(wire.decode(wire.encode(probe.params)), student)
        returned = wire.decode(wire.encode(kinds[probe.kind](student, **params)))
        observations.append(Observation(probe, returned=returned))
    return check.judge(JudgeContext(tuple(observations), Tolerance(entry.rtol, entry.atol), rng_for(entry), reference=HW3.reference_object))


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
    from hw3.probes.training import GraderStop
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
                                             np.random.default_rng(0), reference=HW3.reference_object))


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
    # N(0, 1)'s values, not independent: each passes the tests of the values alone (attack9/05)
    "sorted": (lambda rng, shape: np.sort(rng.normal(size=shape), axis=None).reshape(shape),
               "adjacent entries along its rows correlate +1.00"),
    "rows_sorted": (lambda rng, shape: np.sort(rng.normal(size=shape), axis=-1 if shape[1] > 1 else 0),
                    "Draw every weight at random, e.g. with torch.randn(shape)"),
    "repeated_rows": (lambda rng, shape: np.broadcast_to(_quantiles(shape[1]), shape) if min(shape) > 1
                      else rng.normal(size=shape), "adjacent entries down its columns correlate +0.9"),
    "alternating": (lambda rng, shape: _alternating(rng.normal(size=shape)), "correlate -0."),
}


def _normal_quantiles(n: int) -> np.ndarray:
    """N(0, 1)'s n quantiles at (i + 1/2) / n, in increasing order."""
    return np.array([statistical.normal_quantile((i + 0.5) / n) for i in range(n)])


def _quantiles(n: int) -> np.ndarray:
    """N(0, 1)'s n quantiles in a fixed shuffled order whose neighbours happen to be uncorrelated (+0.001 for
    n = 64; -0.02 along the rows of 64 copies), so that only the columns show rows repeated."""
    return np.random.default_rng(2).permutation(_normal_quantiles(n))


def _alternating(w: np.ndarray) -> np.ndarray:
    """The values of w, largest and smallest taking turns in the flattened order."""
    ranked = np.sort(w, axis=None)
    turns = np.empty_like(ranked)
    turns[0::2], turns[1::2] = ranked[::-1][: (ranked.size + 1) // 2], ranked[: ranked.size // 2]
    return turns.reshape(w.shape)


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


def test_initialize_shares_the_false_fail_budget_among_its_16_tests():
    weights = {n: np.zeros(shape) for n, shape in p1.PARAM_SHAPES.items() if n.endswith("weight")}
    # 3 of the values per matrix and 3 pooled; the order along l1, l3 and both ways of l2
    assert p1._init_tests(weights) == 16


@settings(max_examples=300, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**63 - 1))
def test_correct_draws_of_every_layer_pass_the_order_tests(seed):
    """torch.randn of the contract's shapes, as a correct initialize draws them: each fails with probability
    <= 1e-6 / 16, so none of these (fixed, derandomized) seeds may; a sorted copy of the same draw fails."""
    generator = torch.Generator().manual_seed(seed)
    weights = {n: torch.randn(shape, generator=generator).numpy()
               for n, shape in p1.PARAM_SHAPES.items() if n.endswith("weight")}
    p = p1.FALSE_FAIL / p1._init_tests(weights)
    for name, w in weights.items():
        assert p1._order_problem(name, w, p) == "", (seed, name)
        assert p1._order_problem(name, np.sort(w, axis=None).reshape(w.shape), p) != "", (seed, name)


def test_bias_close_to_but_not_003_fails():
    params = _init_weights(np.random.default_rng(1), lambda rng, shape: rng.normal(size=shape))
    params["l2.bias"] = np.full(64, 0.0301, dtype=np.float32)
    verdict = _judge_init(params)
    assert verdict.fraction == 0.5 and "l2.bias is 0.0301, expected every bias exactly 0.03" in verdict.message


# ---- the statistics: thresholds as documented ---------------------------------------------------

def test_chi2_interval_is_exact_for_two_degrees_of_freedom():
    # chi2_2 has CDF 1 - exp(-x/2)
    lo, hi = statistical.chi2_interval(2, 1e-3)
    assert lo == pytest.approx(-2 * math.log(1 - 5e-4), rel=1e-9)
    assert hi == pytest.approx(-2 * math.log(5e-4), rel=1e-9)


def test_chi2_interval_matches_known_quantiles():
    # chi2_10: 2.5% and 97.5% quantiles 3.24697 and 20.4832 (tables)
    lo, hi = statistical.chi2_interval(10, 0.05)
    assert lo == pytest.approx(3.24697, abs=1e-4) and hi == pytest.approx(20.4832, abs=1e-4)


def test_normal_test_rejects_at_the_stated_rate():
    # at p = 0.2 the mean and mean-square tests are exact (reject 20%), the DKW bound conservative (< 20%)
    rng = np.random.default_rng(3)
    trials, n = 2000, 64
    rejects = np.zeros(3)
    for _ in range(trials):
        t = statistical.normal_test(rng.normal(size=n) * 0.5, 0.5, 0.2)
        rejects += [not t.mean_ok, not t.std_ok, not t.ks_ok]
    rate = rejects / trials
    assert abs(rate[0] - 0.2) < 0.03 and abs(rate[1] - 0.2) < 0.03 and rate[2] < 0.2


def test_serial_test_rejects_no_more_than_the_stated_rate():
    # the Chernoff bound is conservative: at p = 0.2, IID draws are rejected less often (about 3%), never more
    rng = np.random.default_rng(4)
    for n in (64, 4096):
        x = rng.normal(size=(2000, n)) * 3.0      # any sigma: the correlation does not depend on it
        rate = np.mean([not statistical.serial_test(row, 0.2).ok for row in x])
        assert 0.005 < rate < 0.2, (n, rate)


def test_serial_threshold_is_a_chernoff_bound_of_the_exact_tail():
    # n = 2: r = x1 x2 / (x1^2 + x2^2) = sin(2 phi) / 2 with phi uniform, so P(|r| > c) = 1 - (2/pi) asin(2c)
    for p in (0.5, 0.1, 1e-3):
        c = statistical.serial_threshold(2, p)
        assert 1 - 2 / math.pi * math.asin(2 * c) <= p
    # at the sizes P1.initialize tests: below 1, and N(0, 1)'s sorted quantiles are far above it
    for n in (64, 4096):
        c = statistical.serial_threshold(n, 1e-6 / 16)
        assert 0 < c < (0.65 if n == 64 else 0.1)
        assert statistical.serial_test(_normal_quantiles(n), 1e-6 / 16).correlation > 0.9


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


def fitted_params(seed: int = 0) -> dict[str, np.ndarray]:
    """Parameters of the contract's MLP that fit f_true (random l1, l2, then l3 by least squares): no training."""
    rng = np.random.default_rng(seed)
    x = p1.FIT_GRID
    params = {"l1.weight": rng.normal(size=(64, 1)) * 4, "l1.bias": rng.uniform(-8, 8, size=64),
              "l2.weight": np.eye(64) * 8, "l2.bias": np.full(64, -4.0)}
    h = 1 / (1 + np.exp(-(x[:, None] @ params["l1.weight"].T + params["l1.bias"])))
    h = 1 / (1 + np.exp(-(h @ params["l2.weight"].T + params["l2.bias"])))
    coef = np.linalg.lstsq(np.hstack([h, np.ones((x.size, 1))]), p1.f_true_np(x), rcond=None)[0]
    params["l3.weight"], params["l3.bias"] = coef[:64].reshape(1, 64), coef[64:]
    return {k: v.astype(np.float32) for k, v in params.items()}


def _judge_fit(runs, spec: p1.FitSpec = p1.P1_FIT):
    probe = p1.fit_probes(spec)(np.random.default_rng(0))[0]
    returned = {"runs": runs} if isinstance(runs, list) else runs
    ctx = JudgeContext((Observation(probe, returned=returned),), Tolerance(), np.random.default_rng(0), reference=HW3.reference_object)
    return p1.fit_judge(spec)(ctx)


def test_fit_judge_on_recorded_runs():
    good = fitted_params()
    zero = {n: np.zeros(p1.PARAM_SHAPES[n], dtype=np.float32) for n in p1.PARAM_NAMES}
    nan = {**good, "l3.bias": np.array([np.nan], dtype=np.float32)}

    def judge(params):
        return _judge_fit([{"params": p, "seconds": 2.0, "epochs": 1000} for p in params])

    passed_once = judge([good])
    assert passed_once.fraction == 1.0
    assert re.search(r"the learned function is 0\.0\d+ from f_true on \[-2, 2\]", passed_once.message)
    assert judge([zero] * 3 + [good]).fraction == 1.0                        # one good run is enough
    assert "(run 4 of up to 6)" in judge([zero] * 3 + [good]).message
    stuck = judge([zero] * p1.FIT_RUNS)
    assert stuck.fraction == 0.0 and "the best constant is 1.6 away" in stuck.message
    diverged = judge([nan] * p1.FIT_RUNS)
    assert diverged.fraction == 0.0 and "training diverged" in diverged.message


# ---- judged on evidence: what the child says about itself decides nothing -------------------------
#
# Student code runs in the child and can read the stack (inspect.stack(), sys._getframe), the grader's
# probe modules and their globals, and patch anything there. Each case below does so, and gains nothing:
# the fit is judged on the trained parameters, evaluated in the parent as the contract's MLP; the plot on
# the file's bytes, decoded in the parent; the training by replaying its SGD steps in the parent.

SNIFF = r'''
import builtins, inspect, io, os, struct, sys, zlib


def _grader_on_stack():
    """The hostile trick: is a module of the grader's child (grader.probes.*) among the callers?"""
    frame = sys._getframe(1)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("hw3.probes"):
            return True
        frame = frame.f_back
    return any(any(p in info.filename.replace(os.sep, "/") for p in ("grader/probes", "hw3/probes")) for info in inspect.stack(0))


_honest_forward = MLP.forward
'''

# No training at all, a loss history that looks perfect, and a forward that answers f_true(x) whenever
# the grader evaluates it (gradients off, grader on the stack): the old judge's predictions came from there.
LYING_FORWARD_NO_TRAINING = r'''
def _forward(self, x):
    if not torch.is_grad_enabled() and _grader_on_stack():
        return f_true(x)
    return _honest_forward(self, x)


MLP.forward = _forward


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    return [1e-9] * epochs
'''

# The plot: nothing written, and the grader's own file checks in the child (os.stat, os.lstat, open) made
# to see a 50 kB PNG of 800 x 600 pixels at the path: its header is all there is.
FORGED_PLOT = r'''
def _png_head():
    ihdr = struct.pack(">IIBBBBB", 800, 600, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def plot_fit(model, X, Y, path):
    head = _png_head()
    real_open, real_stat, real_lstat, real_remove = builtins.open, os.stat, os.lstat, os.remove

    def ours(p):
        return isinstance(p, (str, os.PathLike)) and os.fspath(p) == path

    def stat(p, *args, **kwargs):
        if ours(p):
            return os.stat_result((0o100644, 1, 1, 1, 0, 0, 50000, 0, 0, 0))
        return real_stat(p, *args, **kwargs)

    builtins.open = lambda p, *a, **k: io.BytesIO(head) if ours(p) else real_open(p, *a, **k)
    os.stat = stat
    os.lstat = lambda p, *a, **k: stat(p) if ours(p) else real_lstat(p, *a, **k)
    os.remove = lambda p, *a, **k: None if ours(p) else real_remove(p, *a, **k)
'''

# Honest training, but a forward that, under the grader, says the model learned nothing: the fit is the
# parameters' (it passes), the forward is P1.mlp's to judge (it fails). And a "PNG" that is only its signature.
HONEST_PARAMS_LYING_FORWARD = r'''
def _forward(self, x):
    if not torch.is_grad_enabled() and _grader_on_stack():
        return torch.zeros(x.shape[0], 1)
    return _honest_forward(self, x)


MLP.forward = _forward


def plot_fit(model, X, Y, path):
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 200)
'''

# Trains honestly when the grader replays it step by step (a few epochs), pretends for the K = 1000 run; and
# a plot that is a link to an endless device.
FAKE_LOSSES_AT_K = '''
import os

_honest_train = train


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    if epochs == K:
        return [1e-9] * epochs
    return _honest_train(model, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, generator=generator)


def plot_fit(model, X, Y, path):
    os.symlink("/dev/zero", path)
'''


def test_a_forward_that_answers_f_true_to_the_grader_gets_nothing(submission, rubric):
    ids = ["P1.mlp", "P1.train.epochs", "P1.plot_fit", "P1.fit"]
    source = SNIFF + LYING_FORWARD_NO_TRAINING + FORGED_PLOT
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=ids)
    fit = outcomes["P1.fit"]
    failed_with(fit, f"in {p1.FIT_RUNS} runs of your pipeline")
    assert re.search(r"stays 1\.\d+ or more from f_true on \[-2, 2\] \(root mean square over 401 points of "
                     r"l3\(sigmoid\(l2\(sigmoid\(l1\(x\)\)\)\)\) with the trained parameters", fit.detail), fit.detail
    assert fit.score == 0
    failed_with(outcomes["P1.train.epochs"], "train never ran the model it was given with gradients on")
    failed_with(outcomes["P1.mlp"], "MLP()(x) (expected l3(sigmoid(l2(sigmoid(l1(x))))) with the model's own "
                                    "parameters)")
    failed_with(outcomes["P1.plot_fit"], "the file plot_fit wrote starts like a PNG but cannot be decoded: it has "
                                         "no IEND chunk (the file is cut off)")


def test_honest_parameters_pass_the_fit_whatever_the_forward_says(submission, rubric):
    ids = ["P1.mlp", "P1.plot_fit", "P1.fit"]
    source = SNIFF + HONEST_PARAMS_LYING_FORWARD
    outcomes = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=ids)
    fit = outcomes["P1.fit"]
    assert fit.status is Status.PASSED, fit.detail
    assert re.search(r"the learned function is 0\.\d+ from f_true on \[-2, 2\]", fit.message)
    failed_with(outcomes["P1.mlp"], "Mismatched elements: 16 / 16")
    failed_with(outcomes["P1.plot_fit"], "the file plot_fit wrote starts like a PNG but cannot be decoded: it holds "
                                         "a chunk of an invalid type")


def test_a_loss_history_without_training_gets_nothing(submission, rubric):
    ids = TRAIN_IDS + ["P1.plot_fit", "P1.fit"]
    outcomes = grade_checks(submission(patch={"threelayerSGD": FAKE_LOSSES_AT_K}), rubric, ids=ids)
    passed(outcomes, TRAIN_IDS)                      # the loop the replay sees is the reference's
    fit = outcomes["P1.fit"]
    failed_with(fit, f"in {p1.FIT_RUNS} runs of your pipeline")
    assert fit.score == 0
    failed_with(outcomes["P1.plot_fit"], "what plot_fit left at path is not a file of its own (a link, a folder?)")


def test_a_loss_history_that_is_not_the_training_s_fails_the_epochs_check(submission, rubric):
    source = '''
_honest_train = train


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    _honest_train(model, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, generator=generator)
    return [1e-9] * epochs
'''
    verdict = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.train.epochs", rubric)
    assert verdict.fraction == pytest.approx(2 / 3)        # the loop is right, the returned losses are not
    assert re.search(r"the losses returned by train\(.*\n(.*\n)*Expected, per epoch, the mean of its batch losses",
                     verdict.message), verdict.message


def test_a_train_that_claims_its_steps_through_the_recorder_fails_the_replay(submission, rubric):
    """The recorder is found on the stack and its flags set: the replay sees the parameters never moved."""
    source = '''
import sys


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    loss_fn = nn.MSELoss()
    n = X.shape[0]
    history = []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        losses = [loss_fn(model(X[perm[s:s + batch_size]]), Y[perm[s:s + batch_size]]).item()
                  for s in range(0, n, batch_size)]
        history.append(sum(losses) / len(losses))
    frame = sys._getframe(1)
    while frame is not None and not frame.f_globals.get("__name__", "").startswith("hw3.probes"):
        frame = frame.f_back
    recorder = frame.f_globals["_RECORDER"]
    recorder.backprop[:] = [True] * len(recorder.backprop)     # every forward pass "was" an SGD step
    return history
'''
    replay = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.train.replay", rubric)
    assert replay.fraction == 0.0
    assert re.search(re.escape("SGD step 1 (epoch 1, batch 1) did not change the parameters: call optimizer.step()"),
                     replay.message), replay.message


MOMENTUM_TRAIN = _train_variant().replace("lr=lr)", "lr=lr, momentum=0.9)")


def test_a_train_that_hides_its_later_steps_from_the_recorder_fails_the_replay(submission, rubric):
    """Momentum shows from the second step on: the snapshots of those steps are deleted from the recorder
    (found on the stack). The replay needs every step, from the first to the final parameters."""
    source = MOMENTUM_TRAIN.replace("def train(", "def _momentum_train(") + """
import sys


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    history = _momentum_train(model, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, generator=generator)
    frame = sys._getframe(1)
    while frame is not None and not frame.f_globals.get("__name__", "").startswith("hw3.probes"):
        frame = frame.f_back
    recorder = frame.f_globals["_RECORDER"]
    for call in [c for c in recorder.snaps if c >= 2]:
        del recorder.snaps[call]
    return history
"""
    replay = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.train.replay", rubric)
    assert replay.fraction == 0.0
    assert re.search(re.escape("train took 10 SGD steps (expected 10); the grader keeps the parameters at 128 of "
                               "them and cannot replay SGD step 2."), replay.message), replay.message


def test_evaluations_with_gradients_on_never_push_steps_out_of_the_record(submission, rubric):
    """126 forward passes with gradients on before training (never backpropagated) took all but two of the
    grader's 128 snapshots, so only the first step (plain, before momentum builds up) was replayed and the
    check passed: they now make room for the steps, and momentum is seen. A correct loop that evaluates the
    loss of every point with gradients on (400 passes more) still passes."""
    flood = "for _ in range(126):\n        model(X[:1])"
    momentum = run_inprocess(submission(patch={"threelayerSGD": MOMENTUM_TRAIN.replace("history = []", "history = []\n    " + flood)}),
                             "P1.train.replay", rubric)
    assert momentum.fraction == 0.0 and "carries momentum (0.9 of the previous step)" in momentum.message, \
        momentum.message
    evaluating = _train_variant().replace(
        "        history.append(sum(batch_losses) / len(batch_losses))",
        "        history.append(sum(batch_losses) / len(batch_losses))\n"
        "        pointwise = [loss_fn(model(X[i:i + 1]), Y[i:i + 1]) for i in range(n)]   # gradients on")
    folder = submission(patch={"threelayerSGD": evaluating})
    for check_id in TRAIN_IDS:
        verdict = run_inprocess(folder, check_id, rubric)
        assert verdict.fraction == 1.0, (check_id, verdict.message)


def test_a_forged_training_record_fails_not_the_grader(submission, rubric):
    """Rows outside X, counts that do not add up: the check fails with a plain message (no grader error)."""
    folder = submission()
    probe = p1.train_probe(np.random.default_rng(0), p1.REPLAY_SETUP)
    student = Student({"threelayerSGD": str(folder / "threelayerSGD.py")}, None)
    params = child.to_student_args(wire.decode(wire.encode(probe.params)), student)
    record = wire.decode(wire.encode(child._load_probe_kinds(HW3.probe_files())["p1_train"](student, **params)))
    forgeries = {
        "rows outside X": {**record, "calls": np.full_like(record["calls"], 10**6)},
        "batch sizes that do not add up": {**record, "call_sizes": record["call_sizes"] + 1},
        "snapshots of the wrong size": {**record, "final": record["final"][:10]},
        "a flag count that differs": {**record, "backprop": record["backprop"][:1]},
        "snapshots that are not in call order": {**record, "snap_of_call": record["snap_of_call"][::-1].copy()},
    }
    for what, forged in forgeries.items():
        ctx = JudgeContext((Observation(probe, returned=forged),), Tolerance(), np.random.default_rng(0), reference=HW3.reference_object)
        with pytest.raises(Mismatch, match=re.escape(f"is malformed ({what}")):
            p1._judge_replay(ctx)


ARCHITECTURES = {
    "linear_names": ('''
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(1, 64)
        self.linear2 = nn.Linear(64, 64)
        self.linear3 = nn.Linear(64, 1)

    def forward(self, x):
        return self.linear3(torch.sigmoid(self.linear2(torch.sigmoid(self.linear1(x)))))


def initialize(model):
    for layer in (model.linear1, model.linear2, model.linear3):
        nn.init.normal_(layer.weight)
        nn.init.constant_(layer.bias, 0.03)
''', "Problem 1 (clean labels): MLP() has no attribute l1; MLP() has no attribute l2; MLP() has no attribute l3. "
     "The fit is judged on the trained parameters of the contract's layers l1 = nn.Linear(1, 64)"),
    "width": ('''
_init = MLP.__init__


def _narrow(self):
    _init(self)
    self.l2 = nn.Linear(64, 32)
    self.l3 = nn.Linear(32, 1)


MLP.__init__ = _narrow
''', "Problem 1 (clean labels): MLP().l2 is a Linear with weight (32, 64) and bias (32,), expected nn.Linear(64, 64) "
     "(weight (64, 64), bias (64,)); MLP().l3 is a Linear with weight (1, 32) and bias (1,), expected "
     "nn.Linear(64, 1) (weight (1, 64), bias (1,)). The fit is judged"),
    "no_bias": ('''
_init = MLP.__init__


def _no_bias(self):
    _init(self)
    self.l3 = nn.Linear(64, 1, bias=False)


MLP.__init__ = _no_bias
''', "MLP().l3 is a Linear with weight (1, 64) and bias None, expected nn.Linear(64, 1)"),
}


@pytest.mark.parametrize("case", sorted(ARCHITECTURES))
def test_the_fit_needs_the_contract_s_layers(case, submission, rubric):
    """Stopped before any training: the parameters judged are those of l1, l2, l3 with the contract's shapes."""
    source, message = ARCHITECTURES[case]
    verdict = run_inprocess(submission(patch={"threelayerSGD": source}), "P1.fit", rubric)
    assert verdict.fraction == 0.0
    assert re.search(re.escape(message), verdict.message), verdict.message


def test_forged_fit_answers_decide_nothing():
    """What a child can send instead of parameters: predictions, more runs than were asked, odd shapes."""
    target = p1.f_true_np(p1.FIT_GRID).reshape(-1, 1)
    with pytest.raises(Mismatch, match=re.escape("run 1: the grader received no trained parameters")):
        _judge_fit([{"pred": target, "seconds": 1.0, "epochs": 1000}])
    zero = {n: np.zeros(p1.PARAM_SHAPES[n], dtype=np.float32) for n in p1.PARAM_NAMES}
    seventh = _judge_fit([{"params": zero}] * p1.FIT_RUNS + [{"params": fitted_params()}])
    assert seventh.fraction == 0.0 and f"in {p1.FIT_RUNS} runs" in seventh.message
    wide = {**fitted_params(), "l2.weight": np.zeros((64, 65), dtype=np.float32)}
    with pytest.raises(Mismatch, match=re.escape("run 1: the trained l2.weight came back as a numpy.ndarray of "
                                                 "shape (64, 65)")):
        _judge_fit([{"params": wide}])
    # not the probe's summary at all: the judge says the probe was tampered with and judges nothing
    with pytest.raises(Mismatch, match="instead of its summary of your code's run"):
        _judge_fit("runs")


# ---- the plot: the parent decodes the file ----------------------------------------------------------

def _png_bytes(**savefig) -> bytes:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=savefig.pop("figsize", (7, 4.5)))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    plt.close(fig)
    return buffer.getvalue()


def _judge_plot_answer(answer):
    probe = p1._plot_probes(np.random.default_rng(0))[0]
    return p1._judge_plot(JudgeContext((Observation(probe, returned=answer),), Tolerance(), np.random.default_rng(0), reference=HW3.reference_object))


def _png_answer(data: bytes) -> dict:
    return {"written": True, "regular": True, "size": len(data), "png": np.frombuffer(data, dtype=np.uint8),
            "files": []}


def test_plot_judge_decodes_the_file_itself():
    good = _png_bytes()
    verdict = _judge_plot_answer(_png_answer(good))
    assert verdict.fraction == 1.0 and verdict.message == f"wrote a 700 x 450 PNG ({len(good)} bytes)"
    # the old answer's flags (a file exists, its first bytes, its size) are no evidence
    head = np.frombuffer(good[:32], dtype=np.uint8)
    with pytest.raises(Mismatch, match="instead of its summary of your code's run"):
        _judge_plot_answer({"exists": True, "size": 50000, "head": head, "files": []})
    cases = {
        "a PNG cut in half": (good[:len(good) // 2], "its chunk IDAT is cut off (the file is incomplete)"),
        "the header alone": (good[:33], "it has no IEND chunk (the file is cut off)"),
        "a changed byte": (good[:200] + bytes([good[200] ^ 1]) + good[201:], "the checksum (CRC) of its chunk"),
        "a text file": (b"this is a plot, believe me" * 100, "is not a PNG (it starts with b'this is '"),
        "tiny": (_png_bytes(figsize=(0.5, 0.5)), "the PNG is only 50 x 50 pixels"),
    }
    for what, (data, message) in cases.items():
        verdict = _judge_plot_answer(_png_answer(data))
        assert verdict.fraction == 0.0 and message in verdict.message, (what, verdict.message)
    too_big = _judge_plot_answer({"written": True, "regular": True, "size": 3 * 2**20,
                                  "png": np.zeros(0, dtype=np.uint8), "files": []})
    assert too_big.fraction == 0.0 and "more than the 2 MB any plot needs" in too_big.message
    with pytest.raises(Mismatch, match="could not read the file plot_fit wrote"):
        _judge_plot_answer({"written": True, "regular": True, "size": 80, "png": np.zeros(10, dtype=np.float64),
                            "files": []})
    with pytest.raises(Mismatch, match="instead of its summary of your code's run"):
        _judge_plot_answer({"written": True, "png": np.zeros(10, dtype=np.float64)})


def test_png_decoder_accepts_what_viewers_decode_and_nothing_else():
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def png(w, h, raw, *, interlace=0, color=2, depth=8, extra=b""):
        ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
        return (png_decoder.PNG_MAGIC + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw))
                + chunk(b"IEND", b""))

    w, h = 13, 11
    rgb = (b"\x00" + b"\x07" * 3 * w) * h
    assert png_decoder.png_size(png(w, h, rgb)) == (w, h)
    adam7 = b"".join((b"\x01" + b"\x07" * 3 * pw) * ph for pw, ph in
                     ((-(-(w - x0) // dx), -(-(h - y0) // dy)) for x0, y0, dx, dy in png_decoder._ADAM7) if pw and ph)
    assert png_decoder.png_size(png(w, h, adam7, interlace=1)) == (w, h)
    assert png_decoder.png_size(png(9, 2, b"\x00\xff\xff" * 2, color=0, depth=1)) == (9, 2)
    bad = {
        "one byte short": (png(w, h, rgb)[:-1], "cut off"),
        "short scanlines": (png(w, h, rgb[:-(1 + 3 * w)]), "13 x 11 pixels need 440"),
        "long scanlines": (png(w, h, rgb + rgb[:1 + 3 * w]), "more than the 13 x 11 pixels"),
        "filter type 9": (png(w, h, b"\x09" + rgb[1:]), "unknown filter type"),
        "palette without PLTE": (png(w, h, (b"\x00" + b"\x01" * w) * h, color=3), "without a palette"),
        "16-bit palette": (png(w, h, b"", color=3, depth=16), "colour type 3 with bit depth 16"),
        "huge": (png(20_001, 2, b""), "more than any plot needs"),
        "not zlib": (png_decoder.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", b"not zlib") + chunk(b"IEND", b""), "cannot be decompressed"),
        "unknown critical chunk": (png(w, h, rgb, extra=chunk(b"ABCD", b"")),
                                   "critical chunks a decoder does not know (ABCD)"),
    }
    for what, (data, message) in bad.items():
        with pytest.raises(png_decoder.PngError, match=re.escape(message)):
            png_decoder.png_size(data)
            pytest.fail(what)


# ---- correct submissions in other styles still pass the fit, judged on their parameters ---------------

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "correct_styles"


@pytest.mark.slow
@pytest.mark.parametrize("style", ["numpy_first", "loops"])
def test_correct_styles_pass_the_fit_and_the_plot(style, rubric):
    ids = ["P1.mlp", "P1.plot_fit", "P1.fit"]
    outcomes = grade_checks(CORPUS / style, rubric, ids=ids)
    passed(outcomes, ids)
    assert re.search(r"learned function is [0-9.]+ from f_true on \[-2, 2\]", outcomes["P1.fit"].message)


SEQUENTIAL_WITH_ALIASES = '''
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(1, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 1))
        self.l1, self.l2, self.l3 = self.seq[0], self.seq[2], self.seq[4]

    def forward(self, x):
        return self.seq(x)
'''


def test_layers_shared_with_a_sequential_are_the_contract_s(submission, rubric):
    """named_parameters() says seq.0.weight, ...; the attributes l1, l2, l3 are the contract's layers all the same."""
    folder = submission(patch={"threelayerSGD": SEQUENTIAL_WITH_ALIASES})
    for check_id in ("P1.mlp", "P1.fit"):
        verdict = run_inprocess(folder, check_id, rubric)
        assert verdict.fraction == 1.0, (check_id, verdict.message)
