"""The probe kind ``class_report``: construct a class of the submission (an ``nn.Module``) and
report on it as plain data, for the declarations of `grader/checks/classes.py`.

The class is constructed with the request's arguments right after ``torch.manual_seed(seed)``,
so that the reference, constructed the same way in the parent, starts from the same draw when
its layers are the same. What it reports, as asked by ``report``:

- ``"shapes"``: the output's shape for each of ``inputs`` (``model.eval()``, autograd off);
- ``"outputs"``: the outputs themselves;
- ``"parameters"``: the number of trainable parameters (``requires_grad``);
- ``"training"``: the named training function called with ``(model, X, y, **kwargs)``
  (after ``torch.manual_seed(seed)`` again), with the loss of the model on (X, y) measured here
  before and after it, and the values it returned (an array of floats, or None).

Floating inputs are cast to the dtype of the model's parameters (float32 for an ordinary
module), integer inputs (class labels) are kept. The same function builds the reference's
report in the parent (grader/checks/classes.py). Child side: the standard library, numpy, torch and this
package only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .registry import probe

REPORTS = ("shapes", "outputs", "parameters", "training")
#: The loss functions a training can be measured with (torch.nn.functional's names).
LOSSES = ("cross_entropy", "mse_loss", "nll_loss", "l1_loss", "binary_cross_entropy_with_logits")


@probe("class_report")
def class_report(student, target: str, init_args: Any = (), init_kwargs: dict | None = None, seed: int = 0,
                 inputs: Any = (), report: Any = REPORTS, training: dict | None = None) -> dict[str, Any]:
    """Construct ``module.Class`` of the student and answer what `report` asks (see the module)."""
    import torch   # torch on first use: the parent imports this module (reference_report) without it

    cls = student.resolve(target)
    torch.manual_seed(seed)
    model = cls(*init_args, **(init_kwargs or {}))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{target.partition('.')[2]}(...) made a {type(model).__name__}, not a torch.nn.Module")
    found: dict[str, Any] = {}
    if "parameters" in report:
        found["parameters"] = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    if "shapes" in report or "outputs" in report:
        outputs = [_forward(model, x) for x in inputs]
        if "shapes" in report:
            found["shapes"] = [list(out.shape) for out in outputs]
        if "outputs" in report:
            found["outputs"] = [out.detach().cpu().numpy() for out in outputs]
    if "training" in report and training:
        found["training"] = _train(student, model, seed, **training)
    return found


def _forward(model, x) -> Any:
    import torch

    model.eval()
    with torch.no_grad():
        out = model(_as_input(model, x))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"forward returned a {type(out).__name__}, not a tensor")
    return out


def _as_input(model, x) -> Any:
    """A tensor of the model's floating dtype (integers, such as labels, keep theirs)."""
    import torch

    tensor = torch.as_tensor(np.asarray(x) if isinstance(x, np.ndarray) else x)
    if tensor.is_floating_point():
        dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.get_default_dtype())
        tensor = tensor.to(dtype)
    return tensor


def _train(student, model, seed: int, target: str, X: Any, y: Any, kwargs: dict | None = None,
           loss: str = "cross_entropy") -> dict[str, Any]:
    import torch

    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is not one of {', '.join(LOSSES)}")
    fit = student.resolve(target)
    X, y = _as_input(model, X), _as_input(model, y)
    before = _loss(model, X, y, loss)
    model.train()
    torch.manual_seed(seed)
    returned = fit(model, X, y, **(kwargs or {}))
    after = _loss(model, X, y, loss)
    return {"loss_before": before, "loss_after": after, "returned": _floats(returned)}


def _loss(model, X, y, loss: str) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float(getattr(torch.nn.functional, loss)(model(X), y))


def _floats(returned: Any) -> np.ndarray | None:
    """What the training function returned as an array of floats (a list of numbers or 0-d tensors,
    a tensor), or None."""
    import torch

    if returned is None:
        return None
    if isinstance(returned, torch.Tensor):
        return returned.detach().cpu().double().reshape(-1).numpy()
    return np.array([float(v) for v in returned], dtype=np.float64)
