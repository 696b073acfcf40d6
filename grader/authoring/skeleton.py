"""The files `hw3grade new PATH` writes: a small assignment that works end to end.

One module (`basics.py`) with a function and a constant; a visible, a hidden and a value check;
a hand-graded part; a correct and a buggy sample submission whose scores the manifest declares,
so that `hw3grade --assignment PATH self-test` passes on the fresh skeleton. `{pkg}` is the
assignment's package prefix (import packages must be unique across assignments), `{name}` its title.
"""
from __future__ import annotations

MANIFEST = """\
# {name}: an assignment of the hw3grade engine (every field: docs/REFERENCE.md).
name: {name}
reference: {pkg}_reference        # import package of the correct solution (never shipped to students)
template: {pkg}_template          # import package of the stubs: its modules are the contract
rubric: rubric.yaml
checks: {pkg}_checks              # every module in it declares checks
smoke_checks: [E1]                # what Gradescope's setup.sh grades on the reference
samples:                          # what `hw3grade self-test` expects each sample to score
  submissions/correct: 6
  submissions/buggy: 3
"""

RUBRIC = """\
# {name}: every autograded check and every hand-graded part (every field: docs/REFERENCE.md).
problems:
  E1: Exercise 1

defaults:
  visibility: visible
  rtol: 1.0e-9
  atol: 1.0e-12
  timeout: 10
  seed: 1

limits:
  total_points: 6
  budget_seconds: 120

checks:
  - {{id: E1.relu, problem: E1, title: "relu(x) on a few tensors", points: 2}}
  - {{id: E1.relu.hidden, problem: E1, title: "relu(x) on tensors you have not seen", points: 1, visibility: hidden}}
  - {{id: E1.answer, problem: E1, title: "ANSWER: the parameters of nn.Linear(3, 2)", points: 3}}

manual:
  - {{id: E1.explain, problem: E1, title: "Explain why relu is not differentiable at 0", points: 4}}
"""

TEMPLATE_INIT = '''\
"""{name}: the stubs students start from. Their modules, in this order, are the contract."""
__all__ = ["basics"]
'''

TEMPLATE_README = """\
# {name}

Fill in the functions of `basics.py` (each still raises `NotImplementedError`) and the answer
`ANSWER`. Check your work with `python check.py` before you hand in `basics.py`.
"""

TEMPLATE_BASICS = '''\
"""Exercise 1."""
import torch


def relu(x):
    """max(x, 0) elementwise: a tensor of any shape in, a tensor of the same shape out."""
    raise NotImplementedError


# The number of trainable parameters of torch.nn.Linear(3, 2).
ANSWER = None
'''

REFERENCE_INIT = '''\
"""{name}: the correct solution."""
'''

REFERENCE_BASICS = '''\
import torch


def relu(x):
    return torch.clamp(x, min=0)


ANSWER = 8
'''

CHECKS_INIT = '''\
"""{name}'s checks, one module per exercise (discovered: a new file adds its checks)."""
'''

CHECKS_E1 = '''\
"""Exercise 1: relu against the reference; ANSWER against the reference's value."""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, judge_each, same_as_reference, value_of

CHECKS = CheckList(__name__)   # this module's checks: the engine reads them from here


def _tensors(rng: np.random.Generator):
    """The calls of a check: numpy inputs, drawn from the check's own seed."""
    return [(rng.normal(size=shape),) for shape in ((5,), (3, 4), (2, 2, 2))]


CHECKS.add(same_as_reference("E1.relu", "basics.relu", _tensors, hint="relu(x) = max(x, 0), entry by entry."))

CHECKS.add(Check("E1.answer", lambda rng: [value_of("basics.ANSWER")],
                 lambda ctx: judge_each(ctx, lambda obs: np.float64(ctx.reference("basics.ANSWER"))),
                 hint="A weight matrix of 3 x 2 and a bias of 2."))
'''

CHECKS_E1_HIDDEN = '''\
"""Exercise 1's hidden checks: the autograder runs them; the student kit ships e1.py, never this file."""
from __future__ import annotations

from grader.checks.base import CheckList, same_as_reference

from .e1 import _tensors

CHECKS = CheckList(__name__)

CHECKS.add(same_as_reference("E1.relu.hidden", "basics.relu", _tensors, hint="relu(x) = max(x, 0), entry by entry."))
'''

CORRECT_BASICS = '''\
import torch


def relu(x):
    return torch.where(x > 0, x, torch.zeros_like(x))


ANSWER = 8
'''

BUGGY_BASICS = '''\
import torch


def relu(x):
    return torch.abs(x)      # the bug: negative entries come out positive


ANSWER = 8
'''


def files(name: str, pkg: str) -> dict[str, str]:
    """{relative path: text} of a fresh assignment titled `name` with packages `{pkg}_*`."""
    fill = {"name": name, "pkg": pkg}
    return {
        "assignment.yaml": MANIFEST.format(**fill),
        "rubric.yaml": RUBRIC.format(**fill),
        f"{pkg}_template/__init__.py": TEMPLATE_INIT.format(**fill),
        f"{pkg}_template/README.md": TEMPLATE_README.format(**fill),
        f"{pkg}_template/basics.py": TEMPLATE_BASICS,
        f"{pkg}_reference/__init__.py": REFERENCE_INIT.format(**fill),
        f"{pkg}_reference/basics.py": REFERENCE_BASICS,
        f"{pkg}_checks/__init__.py": CHECKS_INIT.format(**fill),
        f"{pkg}_checks/e1.py": CHECKS_E1,
        f"{pkg}_checks/e1_hidden.py": CHECKS_E1_HIDDEN,
        "submissions/correct/basics.py": CORRECT_BASICS,
        "submissions/buggy/basics.py": BUGGY_BASICS,
    }
