"""Probe kinds of Problems 1 and 2 (`threelayerSGD.py`): the MLP, its initialization, the data,
the training loop (recorded for replay), the plot, the full fit and the parameter count.

Child side: imports only the standard library, numpy, torch and `grader.probes`.
The judges are in `hw3/checks/p1.py` and `p2.py`.

How `train` is recorded (``p1_train``): the student's `train` gets a `ReplayMLP`, a
module of this file with the contract's architecture and layer names (so a broken
student `MLP` does not fail the training checks), loaded with parameters the parent
chose. Every forward pass made with gradients on is recorded: which rows of X it
received (X has distinct float32 values, so each row is found by its value), a
snapshot of all parameters at that moment, and whether a gradient later flowed
back through its output (a hook on the output tensor), which tells an SGD step
from an evaluation the student forgot to put under ``torch.no_grad()``.
Nothing here depends on how the student draws the permutation.

Student code shares this process: it can read the stack and this module's globals and
patch them. So the probes send back evidence the parent judges by itself (hw3/checks/p1.py):
the record of `train` (replayed there), the trained parameters of the fit runs (evaluated
there as the contract's MLP; the student's forward is never asked), the plot's bytes (decoded
there); never a verdict, a prediction or a loss the parent would have to believe.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Any

import numpy as np

from grader.probes.registry import probe

PARAM_NAMES = ("l1.weight", "l1.bias", "l2.weight", "l2.bias", "l3.weight", "l3.bias")
LAYER_SHAPES = {"l1": (1, 64), "l2": (64, 64), "l3": (64, 1)}   # (in_features, out_features)
MAX_RECORDED_CALLS = 5000      # forward passes with gradients before the grader stops `train`


class GraderStop(BaseException):
    """Raised inside the student's `train` to stop a runaway loop (a BaseException: `except Exception` keeps it)."""


@functools.lru_cache(maxsize=None)
def replay_mlp_class():
    """The contract's MLP, defined here (built on first use: torch is imported lazily)."""
    import torch
    from torch import nn

    class ReplayMLP(nn.Module):
        """l3(sigmoid(l2(sigmoid(l1 x)))) with widths (1, 64, 64, 1), forward passes recorded."""

        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(1, 64)
            self.l2 = nn.Linear(64, 64)
            self.l3 = nn.Linear(64, 1)

        def forward(self, x):
            out = self.l3(torch.sigmoid(self.l2(torch.sigmoid(self.l1(x)))))
            if _RECORDER is not None and out.requires_grad:
                _RECORDER.record(self, x, out)
            return out

    return ReplayMLP


_RECORDER = None   # a module global rather than a model attribute: a deepcopy of the model still reports here


class _Recorder:
    def __init__(self, X: np.ndarray, max_snapshots: int, limits_text: str) -> None:
        values = X.reshape(-1).astype(np.float32)
        self.order = np.argsort(values, kind="stable")
        self.sorted = values[self.order]
        self.max_snapshots = max_snapshots
        self.limits_text = limits_text
        self.indices: list[np.ndarray] = []
        self.backprop: list[bool] = []
        self.snaps: dict[int, np.ndarray] = {}      # call -> the parameters it saw, in call order

    def record(self, model, x, out) -> None:
        import torch

        if len(self.indices) >= MAX_RECORDED_CALLS:
            raise GraderStop(f"train made more than {MAX_RECORDED_CALLS} forward passes with gradients on "
                             f"({self.limits_text}); the grader stopped it. Does train use its `epochs` and "
                             "`batch_size` arguments?")
        with torch.no_grad():
            xv = x.detach().reshape(-1).to(torch.float32).cpu().numpy()
        pos = np.minimum(np.searchsorted(self.sorted, xv), len(self.sorted) - 1)
        found = self.sorted[pos] == xv
        idx = np.where(found, self.order[pos], -1).astype(np.int64)
        if x.dim() == 0 or x.reshape(x.shape[0], -1).shape[1] != 1:
            idx = np.full(1, -1, dtype=np.int64)
        call = len(self.indices)
        self.indices.append(idx)
        self.backprop.append(False)
        if len(self.snaps) >= self.max_snapshots:
            self._make_room()
        if len(self.snaps) < self.max_snapshots:
            self.snaps[call] = flat_params(model)

        def mark(grad, call=call):
            self.backprop[call] = True

        out.register_hook(mark)

    def _make_room(self) -> None:
        """Drop the snapshot of the oldest forward pass no gradient has gone back through (an evaluation with
        gradients on): the replay needs the parameters at every SGD step, so evaluations, however many,
        never push the steps out of the record."""
        for call in self.snaps:
            if not self.backprop[call]:
                del self.snaps[call]
                return

    def snapshot_arrays(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(snap_of_call, snapshots): per call the row of its snapshot or -1; the rows in call order."""
        kept = sorted(self.snaps)
        snap_of_call = np.full(len(self.indices), -1, dtype=np.int64)
        snap_of_call[kept] = np.arange(len(kept))
        snapshots = (np.stack([self.snaps[c] for c in kept]) if kept else np.zeros((0, size), dtype=np.float32))
        return snap_of_call, snapshots


def flat_params(model) -> np.ndarray:
    """The parameters of a ReplayMLP in PARAM_NAMES order, as one float32 vector."""
    params = dict(model.named_parameters())
    return np.concatenate([params[name].detach().to("cpu").reshape(-1).numpy().astype(np.float32)
                           for name in PARAM_NAMES])


def build_replay_mlp(params: dict):
    """A ReplayMLP holding `params` (name -> tensor), float32."""
    import torch

    model = replay_mlp_class()()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(params[name], dtype=torch.float32).reshape(p.shape))
    return model


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# ---- P1.mlp ---------------------------------------------------------------------------------

@probe("p1_mlp")
def mlp_probe(student, x, seed: int) -> dict:
    """Build the student's MLP() (default init, seeded), describe its layers, run forward on x (n, 1) float32."""
    import torch
    from torch import nn

    MLP = student.resolve("threelayerSGD.MLP")
    torch.manual_seed(int(seed))
    model = MLP()
    linears = [[name, int(m.in_features), int(m.out_features)]
               for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    attributes = {}
    for name in LAYER_SHAPES:
        layer = getattr(model, name, None)
        attributes[name] = ("missing" if layer is None else
                            [int(layer.in_features), int(layer.out_features)] if isinstance(layer, nn.Linear)
                            else type(layer).__name__)
    params = {name: _numpy(p) for name, p in model.named_parameters()}
    contract, _ = contract_layers(model)      # l1, l2, l3 read as attributes (shared with a Sequential, say)
    with torch.no_grad():
        out = model(torch.as_tensor(x, dtype=torch.float32))
    return {"linears": linears, "attributes": attributes, "params": params, "contract": contract, "out": out}


# ---- P1.initialize --------------------------------------------------------------------------

@probe("p1_initialize")
def initialize_probe(student, seed: int, sentinel: float) -> dict:
    """Fill every parameter of the student's MLP() with `sentinel`, call initialize(model), return them all."""
    import torch

    MLP = student.resolve("threelayerSGD.MLP")
    initialize = student.resolve("threelayerSGD.initialize")
    model = MLP()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(sentinel))
    torch.manual_seed(int(seed))
    initialize(model)
    return {"params": {name: _numpy(p) for name, p in model.named_parameters()}}


# ---- P1.make_data ---------------------------------------------------------------------------

@probe("p1_make_data")
def make_data_probe(student, n, noise_std, gen_seed, global_seed: int) -> dict:
    """make_data(n, noise_std=..., generator=Generator().manual_seed(gen_seed)); n None: make_data().

    Also says whether torch's global random state moved during the call.
    """
    import torch

    make_data = student.resolve("threelayerSGD.make_data")
    torch.manual_seed(int(global_seed))
    state = torch.get_rng_state()
    if n is None:
        returned = make_data()
    else:
        generator = None if gen_seed is None else torch.Generator().manual_seed(int(gen_seed))
        returned = make_data(int(n), noise_std=float(noise_std), generator=generator)
    return {"returned": returned, "global_rng_used": not torch.equal(state, torch.get_rng_state())}


# ---- P1.train.* -----------------------------------------------------------------------------

# The record of a long training run: the reference's is 0.26 MB, every other probe's answer below 30 kB.
@probe("p1_train", answer_bytes=32 * 2**20)
def train_probe(student, X, Y, init: dict, epochs: int, lr: float, batch_size: int, gen_seed: int,
                global_seed: int, max_snapshots: int = 128) -> dict:
    """Run the student's train on a recorded ReplayMLP; return the record (see the module docstring).

    Returns ``calls`` (the row indices of every recorded forward pass, concatenated, with
    ``call_sizes``), ``backprop`` (per call), ``snap_of_call`` (index into ``snapshots``
    or -1), ``snapshots`` (m <= max_snapshots, 4353) float32 in call order (when full, an
    evaluation's snapshot makes room for a step's: `_Recorder._make_room`), ``final`` (4353,)
    and ``losses`` as returned.
    """
    import torch

    global _RECORDER
    train = student.resolve("threelayerSGD.train")
    X = torch.as_tensor(X, dtype=torch.float32)
    Y = torch.as_tensor(Y, dtype=torch.float32)
    model = build_replay_mlp(init)
    n = X.shape[0]
    limits = f"epochs={epochs}, batch_size={batch_size}, {n} points"
    recorder = _Recorder(X.numpy(), int(max_snapshots), limits)
    torch.manual_seed(int(global_seed))
    generator = torch.Generator().manual_seed(int(gen_seed))
    _RECORDER = recorder
    started = time.perf_counter()
    try:
        losses = train(model, X.clone(), Y.clone(), epochs=int(epochs), lr=float(lr), batch_size=int(batch_size),
                       generator=generator)
    finally:
        _RECORDER = None
    seconds = time.perf_counter() - started
    sizes = np.array([len(i) for i in recorder.indices], dtype=np.int64)
    calls = np.concatenate(recorder.indices) if recorder.indices else np.zeros(0, dtype=np.int64)
    snap_of_call, snapshots = recorder.snapshot_arrays(sum(p.numel() for p in model.parameters()))
    return {
        "calls": calls.astype(np.int32), "call_sizes": sizes, "backprop": np.array(recorder.backprop, dtype=bool),
        "snap_of_call": snap_of_call, "snapshots": snapshots,
        "final": flat_params(model), "losses": _plain_losses(losses), "seconds": seconds,
    }


def _plain_losses(losses: Any) -> Any:
    """What train returned, as plain data: a list stays a list (tensors in it become floats)."""
    import torch

    if isinstance(losses, (list, tuple)):
        out = []
        for v in losses:
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                out.append(float(v.detach()))
            elif isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
                out.append(float(v))
            else:
                out.append(v)
        return out
    return losses


# ---- P1.plot_fit ----------------------------------------------------------------------------

PNG_MAX_BYTES = 2 * 2**20      # a plot of normal size is 20-300 kB; the parent refuses more (hw3/checks/p1.py)


@probe("p1_plot_fit")
def plot_fit_probe(student, X, Y, params: dict, filename: str) -> dict:
    """plot_fit(model, X, Y, path) with path in the working directory; the file's bytes afterwards.

    The file itself goes back (``png``, at most PNG_MAX_BYTES): the parent decodes it and
    judges what it finds there, not a flag. ``written``, ``regular``, ``size`` and ``files``
    only explain a failure (a child that lies about them can only lose the point).
    """
    import stat
    import torch

    plot_fit = student.resolve("threelayerSGD.plot_fit")
    model = build_replay_mlp(params)
    path = os.path.join(os.getcwd(), os.path.basename(filename))
    if os.path.lexists(path):
        os.remove(path)
    plot_fit(model, torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(Y, dtype=torch.float32), path)
    try:
        import matplotlib.pyplot as plt  # only when the student loaded it: close what they left open

        plt.close("all")
    except Exception:
        pass
    nothing = np.zeros(0, dtype=np.uint8)
    try:
        info = os.lstat(path)
    except OSError:
        return {"written": False, "regular": False, "size": 0, "png": nothing,
                "files": sorted(os.listdir(os.getcwd()))[:20]}
    if not stat.S_ISREG(info.st_mode):   # a symlink (to /dev/zero, to someone else's file), a FIFO, a folder
        return {"written": True, "regular": False, "size": 0, "png": nothing, "files": []}
    with open(path, "rb") as handle:
        data = handle.read(PNG_MAX_BYTES + 1)
    os.remove(path)
    if len(data) > PNG_MAX_BYTES:
        return {"written": True, "regular": True, "size": int(info.st_size), "png": nothing, "files": []}
    return {"written": True, "regular": True, "size": len(data), "png": np.frombuffer(data, dtype=np.uint8).copy(),
            "files": []}


# ---- P1.fit and P2.noisy_fit ----------------------------------------------------------------

def _sample(t, most: int = 2000):
    """At most `most` values of a tensor, as floats: enough to draw, never a flood."""
    try:
        values = t.detach().cpu() if hasattr(t, "detach") else t
        return np.asarray(values, dtype=np.float64).reshape(-1)[:most].copy()
    except Exception:   # not array-like: the plot goes without the data
        return None


def contract_layers(model) -> tuple[dict | None, dict]:
    """The trained parameters of the contract's layers l1, l2, l3, read off the model's attributes.

    Returns (params, layers): params maps PARAM_NAMES to raw float arrays (float32 or float64, as
    trained; 4353 numbers in all), or None when some layer is missing or has other shapes;
    layers describes each layer for the message ("missing", or its type and its weight's and
    bias's shapes). Nothing of another size is ever copied.
    """
    import torch

    params: dict = {}
    layers: dict = {}
    ok = True
    for name, (fan_in, fan_out) in LAYER_SHAPES.items():
        layer = getattr(model, name, None)
        if layer is None:
            layers[name] = "missing"
            ok = False
            continue
        weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
        shapes = [list(t.shape) if isinstance(t, torch.Tensor) else None for t in (weight, bias)]
        layers[name] = {"type": type(layer).__name__, "weight": shapes[0], "bias": shapes[1]}
        if shapes != [[fan_out, fan_in], [fan_out]]:
            ok = False
            continue
        for part, t in (("weight", weight), ("bias", bias)):
            assert isinstance(t, torch.Tensor)   # its shape was checked above
            t = t.detach().to("cpu")
            if t.dtype not in (torch.float32, torch.float64):
                t = t.to(torch.float64)
            params[f"{name}.{part}"] = t.numpy().copy()
    return (params if ok else None), layers


def contract_output(params: dict, x: np.ndarray) -> np.ndarray:
    """l3(sigmoid(l2(sigmoid(l1 x)))) in float64 numpy: the grader's own forward pass (never the student's)."""
    h = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    for name, last in (("l1", False), ("l2", False), ("l3", True)):
        w = np.asarray(params[f"{name}.weight"], dtype=np.float64)
        b = np.asarray(params[f"{name}.bias"], dtype=np.float64)
        h = h @ w.T + b
        if not last:
            h = 0.5 * (1.0 + np.tanh(0.5 * h))    # sigmoid, without overflow
    return h


@probe("p1_fit")
def fit_probe(student, seeds: list, noise_std: float, grid, good_enough: float) -> dict:
    """The student's own pipeline with its defaults (K epochs), once per seed, until a fit is good enough.

    Each run: torch.manual_seed(seed); X, Y = make_data() (or make_data(noise_std=...)); model = MLP();
    initialize(model); train(model, X, Y); then the trained parameters of l1, l2, l3 (`contract_layers`).
    The student's forward is never asked for the result: the parent evaluates the contract's MLP
    with these parameters on its own points (hw3/checks/p1.py). The runs stop at the first
    whose distance to f_true on `grid`, by the same evaluation, is <= good_enough: that only
    saves time, what decides is the judge's. An MLP without the contract's layers stops at once
    (``layers`` says what it has).
    """
    import torch

    make_data = student.resolve("threelayerSGD.make_data")
    MLP = student.resolve("threelayerSGD.MLP")
    initialize = student.resolve("threelayerSGD.initialize")
    train = student.resolve("threelayerSGD.train")
    grid = np.asarray(grid, dtype=np.float64).reshape(-1)
    target = (grid - 2) * np.cos(4 * grid)
    runs: list[dict] = []   # one per seed tried: its trained parameters and what the plot needs
    for seed in seeds:
        torch.manual_seed(int(seed))
        X, Y = make_data() if float(noise_std) == 0.0 else make_data(noise_std=float(noise_std))
        model = MLP()
        params, layers = contract_layers(model)
        if params is None:
            return {"runs": runs, "layers": layers}
        initialize(model)
        started = time.perf_counter()
        losses = train(model, X, Y)
        seconds = time.perf_counter() - started
        params, layers = contract_layers(model)
        if params is None:
            return {"runs": runs, "layers": layers}
        losses = _plain_losses(losses)
        runs.append({"seed": int(seed), "params": params, "seconds": seconds,
                     "X": _sample(X), "Y": _sample(Y),   # for the student kit's plot
                     "epochs": len(losses) if isinstance(losses, list) else None})
        with np.errstate(all="ignore"):
            rmse = float(np.sqrt(np.mean((contract_output(params, grid).reshape(-1) - target) ** 2)))
        if rmse <= float(good_enough):
            break
    return {"runs": runs}


# ---- P2.count_params ------------------------------------------------------------------------

def _count_models():
    from torch import nn

    def frozen():
        model = nn.Sequential(nn.Linear(10, 10), nn.Tanh(), nn.Linear(10, 1))
        for p in model[0].parameters():
            p.requires_grad_(False)
        return model

    def frozen_bias():
        model = nn.Linear(4, 6)
        model.bias.requires_grad_(False)
        return model

    return {
        "linear_3_5": lambda: nn.Linear(3, 5),                                          # 20
        "sequential": lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),  # 58
        "no_bias": lambda: nn.Linear(6, 3, bias=False),                                 # 18
        "frozen_layer": frozen,                                                         # 11
        "frozen_bias": frozen_bias,                                                     # 24
        "conv": lambda: nn.Conv2d(3, 4, 3),                                             # 112
    }


@probe("p2_count_params")
def count_params_probe(student, model: str) -> Any:
    """count_params of the student's MLP() ("mlp") or of a model built here (see `_count_models`)."""
    count_params = student.resolve("threelayerSGD.count_params")
    if model == "mlp":
        built = student.resolve("threelayerSGD.MLP")()
    else:
        built = _count_models()[model]()
    return count_params(built)
