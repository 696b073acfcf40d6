"""Rebuild the sample submissions from the reference: `python examples/make_examples.py`.

- examples/correct/: the reference's seven modules, as a student would upload them.
- examples/buggy/: the same with the bugs real students make, one per function:
  seed 001's extra loop around the batches, a cross-entropy that overflows, the
  derivative of ReLU taken as 0 at the kink, a softplus that overflows, conv1d as
  cross-correlation, and the two wrong Question 8.3 answers of seed 004.

tests/test_examples.py fails when the committed files drift from what this writes.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "reference"
MODULES = ("threelayerSGD", "losses", "activations", "gradients", "softmax", "interpolation", "convolution")

BUGS = {
    "threelayerSGD": {"train": '''
def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    """Problem 1 (a student's version, as in seed 001: an extra loop around the batches)."""
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    n = X.shape[0]
    history = []
    for _ in range(epochs):
        for _ in range(n // batch_size):
            perm = torch.randperm(n, generator=generator)
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(X[idx]), Y[idx])
                loss.backward()
                optimizer.step()
        history.append(loss.item())
    return history
'''},
    "losses": {"cross_entropy": '''
def cross_entropy(f, y):
    """Problem 3 (a student's version: exp overflows for large logits)."""
    f = torch.as_tensor(f, dtype=torch.float64)
    p = torch.exp(f) / torch.exp(f).sum(dim=-1, keepdim=True)
    if f.dim() == 1:
        return -torch.log(p[y])
    return -torch.log(p[torch.arange(f.shape[0]), torch.as_tensor(y)])
'''},
    "activations": {
        "relu_derivative": '''
def relu_derivative(z):
    """Question 1 (a student's version: 0 at the kink)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    return (z > 0).to(z.dtype)
''',
        "softplus": '''
def softplus(z):
    """Problem 5 (a student's version: overflows for large z)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    return torch.log(1 + torch.exp(z))
'''},
    "convolution": {"conv1d": '''
def conv1d(x, k, mode="full"):
    """Question 6 (a student's version: cross-correlation, the kernel is not flipped)."""
    import numpy as np
    x = np.asarray(x, dtype=float)
    k = np.asarray(k, dtype=float)
    return torch.as_tensor(np.convolve(x, k[::-1], mode=mode))
'''},
}
# Question 8.3 (b) and (c) as seed 004 answered them: both give the wrong shape.
Q8_SEED_004 = {"3b": '{"k": 1, "s": 1, "p": 2, "d": 2}', "3c": '{"k": 3, "s": 1, "p": 1, "d": 1}'}


def student_source(module: str) -> str:
    """A reference module as a student would upload it (top-level imports, no package)."""
    source = (REFERENCE / f"{module}.py").read_text(encoding="utf-8")
    return re.sub(r"from (?:reference)?\.(\w+) import", r"from \1 import", source)


def replace_function(source: str, name: str, new: str) -> str:
    """Swap the top-level function `name` for `new`, keeping everything else byte for byte."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines(keepends=True)
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            return "".join(lines[:start]) + new.strip("\n") + "\n" + "".join(lines[node.end_lineno:])
    raise KeyError(f"{name} is not a top-level function")


def replace_q8_answers(source: str) -> str:
    for key, answer in Q8_SEED_004.items():
        source, count = re.subn(rf'("{key}"\s*:\s*)\{{[^}}]*\}}', lambda m: m.group(1) + answer, source)
        if count != 1:
            raise ValueError(f"Q8[{key!r}] not found exactly once in reference/convolution.py")
    return source


def build(folder: Path, buggy: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for module in MODULES:
        source = student_source(module)
        if buggy:
            for name, new in BUGS.get(module, {}).items():
                source = replace_function(source, name, new)
            if module == "convolution":
                source = replace_q8_answers(source)
        (folder / f"{module}.py").write_text(source, encoding="utf-8")


def main(out: Path = HERE) -> None:
    build(out / "correct", buggy=False)
    build(out / "buggy", buggy=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
