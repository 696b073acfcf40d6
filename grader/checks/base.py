"""How a check is declared: what to call in the child (probes), how to judge it (parent).

A check is one `Check` under the id of its rubric.yaml entry, added to the `CheckList` of the
module that declares it (``CHECKS = CheckList(__name__)``; grader/checks/catalog.py reads each
module's own list). Its `probes(rng)` builds the calls from the rubric's seed (numpy only: the parent does
not import torch while the child runs), and its `judge(ctx)` turns what came back
into a `Verdict`; the judge reaches the assignment's reference through its context
(`ctx.reference("module.name")`). For the common case, "same as the reference on these inputs",
`same_as_reference` makes the whole check.

Only what the student's code *returned* reaches a judge. Not attempted, missing,
import errors, crashes and timeouts are turned into outcomes by the runner first;
an unexpected exception surfaces when a judge reads `Observation.value`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .. import messages
from . import forms
from ..compare import Mismatch, Tolerance, assert_close, describe

#: How array arguments reach student and reference code (`arrays:` of the manifest, `arrays=` of a check).
ARRAY_TYPES = ("torch", "numpy")


@dataclass(frozen=True)
class Probe:
    """One request for the child: a probe kind and its plain-data parameters."""

    kind: str
    params: dict
    module: str                    # the student module it needs, imported first
    label: str = ""                # how messages name this call, e.g. "norm(u)"
    arrays: str | None = None      # "numpy" or "torch": its array arguments (None: the check's, else the manifest's)
    # A probe kind that answers a summary of the run (a dict): the keys its code always sends, each with its
    # form (grader/checks/forms.py: {"elapsed": "number", ...}; a frozenset of keys: any form), or for
    # the engine's kinds `ENGINE_SUMMARIES`'s. Any other answer, or a field of another form (student code
    # that replaced the probe kind), fails the check (`Observation.value`). A summary's "returned" is the
    # student's own value.
    summary: frozenset[str] | Mapping[str, forms.Form] = frozenset()

    @property
    def is_summary(self) -> bool:
        return bool(self.summary) or self.kind in ENGINE_SUMMARIES

    @property
    def summary_forms(self) -> tuple[Mapping[str, forms.Form], ...]:
        """Each form the answer may take: key -> the form of its value."""
        if self.kind in ENGINE_SUMMARIES:
            return ENGINE_SUMMARIES[self.kind]
        if isinstance(self.summary, Mapping):
            return (self.summary,)
        return ({key: "any" for key in self.summary},)

    def summary_problem(self, answer: Any) -> str:
        """Why `answer` is not of the form this probe kind answers ("" when it is, and always for kinds
        that answer the student's value): the one place a summary is checked."""
        if not self.is_summary:
            return ""
        candidates = [form for form in self.summary_forms if isinstance(answer, dict) and form.keys() <= answer.keys()]
        if not candidates:
            return messages.probe_answered_else(self.label, describe(answer), self.summary_text)
        wrongs = [forms.wrong_field(form, answer) for form in candidates]
        if not all(wrongs):
            return ""
        where, value, expected = next(w for w in wrongs if w)
        return messages.probe_field_else(self.label, where, describe(value), expected)

    def answers_summary(self, answer: Any) -> bool:
        """Whether `answer` has the form this probe kind answers (always, for kinds that answer the student's value)."""
        return not self.summary_problem(answer)

    @property
    def summary_text(self) -> str:
        return " or ".join(f"a dict of {', '.join(sorted(keys))}" for keys in self.summary_forms)

    def __post_init__(self) -> None:
        _known_arrays(self.arrays)
        if isinstance(self.summary, Mapping):
            forms.check_declared(self.summary)

    @property
    def function(self) -> str:
        """The student function or constant this probe uses ("norm"), for short messages."""
        target = self.params.get("target")
        return target.partition(".")[2] if isinstance(target, str) else self.label


#: The engine's probe kinds that answer a summary (grader/probes/calls_extra.py), each form it may take.
ENGINE_SUMMARIES: dict[str, tuple[Mapping[str, forms.Form], ...]] = {
    "call_keep_args": ({"returned": "any", "args_after": "list", "kwargs_after": "dict"},),
    "call_catch": ({"returned": "any"}, {"raised": {"type": "str", "mro": ["str"], "message": "str"}}),
}


def call(target: str, *args: Any, label: str = "", arrays: str | None = None, **kwargs: Any) -> Probe:
    """Call ``module.function`` of the student with these arguments (numpy arrays arrive as the
    assignment's `arrays:` says, torch tensors by default; `arrays=` overrides it for this call)."""
    module, _, name = target.partition(".")
    return Probe("call", {"target": target, "args": args, "kwargs": kwargs}, module, label or f"{name}(...)", arrays)


def value_of(target: str) -> Probe:
    """Read a module-level constant of the student (``module.ANSWER``)."""
    module, _, name = target.partition(".")
    return Probe("value", {"target": target}, module, name)


def student_fn(target: str) -> dict:
    """An argument that is the student's own function (for example a callback argument)."""
    return {"__fn__": "student", "target": target}


def torch_fn(name: str) -> dict:
    """An argument that is a torch function from the child's whitelist (``sigmoid``, ``tanh`` ...)."""
    return {"__fn__": "torch", "name": name}


def summarize(args: Sequence[Any]) -> str:
    """Arguments as a message shows them: small values in full, arrays by shape and range."""
    return ", ".join(_summarize_one(a) for a in args)


def _summarize_one(arg: Any) -> str:
    if isinstance(arg, np.ndarray):
        if arg.size <= 6:
            return np.array2string(arg, precision=4, separator=", ")
        lo, hi = (float(arg.min()), float(arg.max())) if arg.size else (0.0, 0.0)
        return f"<{arg.dtype} array of shape {tuple(arg.shape)}, values in [{lo:.3g}, {hi:.3g}]>"
    if isinstance(arg, dict) and "__fn__" in arg:
        return arg.get("target") or arg.get("name") or arg["__fn__"]
    if isinstance(arg, (list, tuple)) and len(arg) > 6:
        return f"<{type(arg).__name__} of {len(arg)} items>"
    return repr(arg)


class StudentRaised(Exception):
    """A judge read the value of a call that raised instead of returning."""

    def __init__(self, label: str, raised: dict) -> None:
        super().__init__(f"{label} raised {raised.get('message') or raised.get('type')}")
        self.label = label
        self.raised = raised


@dataclass(frozen=True)
class Observation:
    """What one probe's call gave back: a value, or the exception it raised."""

    probe: Probe
    returned: Any = None
    raised: dict | None = None     # {"type": "ValueError", "message": "..."}

    @property
    def value(self) -> Any:
        if self.raised is not None:
            raise StudentRaised(self.probe.label, self.raised)
        problem = self.probe.summary_problem(self.returned)
        if problem:
            raise Mismatch(problem)
        return self.returned

    @property
    def students_value(self) -> tuple[bool, Any]:
        """(found, value): what the student's code itself returned, the answer or a summary's "returned"."""
        if not self.probe.is_summary:
            return True, self.returned
        if isinstance(self.returned, dict) and "returned" in self.returned:
            return True, self.returned["returned"]
        return False, None


@dataclass(frozen=True)
class Verdict:
    fraction: float                # of the check's points, in [0, 1]
    message: str = ""
    figure: bytes = b""            # a PNG the student's code drew, decoded by the judge: shown on their feedback page

    @classmethod
    def passed(cls, message: str = "", figure: bytes = b"") -> "Verdict":
        return cls(1.0, message, figure)

    @classmethod
    def failed(cls, message: str) -> "Verdict":
        return cls(0.0, message)


def no_reference(target: str) -> Any:
    """The reference of a context that was given none (a test's judge of plain values)."""
    raise LookupError(f"this judge asked for the reference's {target!r}, but its context was given no reference")


@dataclass(frozen=True)
class JudgeContext:
    observations: Sequence[Observation]
    tol: Tolerance
    rng: np.random.Generator       # for judges that draw their own test points (same seed every run)
    # "module.name" -> the assignment's reference object (the runner passes the assignment's; the kit a frozen one)
    reference: Callable[[str], Any] = no_reference
    arrays: str = "torch"          # array arguments where a probe does not say: the check's, else the manifest's

    @property
    def values(self) -> list[Any]:
        return [o.value for o in self.observations]

    def arrays_of(self, probe: Probe) -> str:
        """What the array arguments of `probe` are in student and reference code."""
        return probe.arrays or self.arrays


@dataclass(frozen=True)
class Check:
    id: str
    probes: Callable[[np.random.Generator], Sequence[Probe]]
    judge: Callable[[JudgeContext], Verdict]
    hint: str = ""                 # shown with every failure, hidden checks included: teach, never reveal
    # Probed in a child of its own, so that the memory limit measures this check alone and not
    # what earlier checks (a training, matplotlib) left mapped in a shared child.
    fresh_child: bool = False
    declared_in: str = ""          # the module that declares it (set by its `CheckList`)
    arrays: str | None = None      # "numpy" or "torch" for the probes that do not say (None: the manifest's)

    def __post_init__(self) -> None:
        _known_arrays(self.arrays)


class CheckList:
    """The checks one module declares: ``CHECKS = CheckList(__name__)`` at its top, then
    ``CHECKS.add(Check(...))``. The catalog reads every check module's own list, so a check belongs
    to the module that declares it, whatever imports what and in which order."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._checks: dict[str, Check] = {}

    def add(self, check: Check) -> Check:
        if check.id in self._checks:
            raise ValueError(f"check {check.id!r} is declared twice in {self.module}")
        check = dataclasses.replace(check, declared_in=self.module)
        self._checks[check.id] = check
        return check

    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)


def _known_arrays(arrays: str | None) -> None:
    if arrays is not None and arrays not in ARRAY_TYPES:
        raise ValueError(f"arrays={arrays!r}: array arguments are one of {', '.join(ARRAY_TYPES)}")


def arrays_of(probe: Probe, check: Check | None, default: str) -> str:
    """What the array arguments of `probe` are in student and reference code: the probe's own
    `arrays`, else its check's, else `default` (the manifest's `arrays:`)."""
    return probe.arrays or (check.arrays if check is not None else None) or default


def as_arguments(value: Any, arrays: str) -> Any:
    """Probe arguments as the child passes them to student code, for the reference: tensors under
    "torch" (`as_torch`), numpy arrays (copies, dtype kept) under "numpy"."""
    if arrays == "torch":
        return as_torch(value)
    if isinstance(value, np.ndarray):
        return np.array(value)
    if isinstance(value, (list, tuple)):
        return type(value)(as_arguments(v, arrays) for v in value)
    if isinstance(value, dict) and "__fn__" not in value:
        return {k: as_arguments(v, arrays) for k, v in value.items()}
    return value


def as_torch(value: Any) -> Any:
    """Probe arguments as the child passed them: arrays to float64/int64 tensors, recursively."""
    import torch   # torch on first use: the parent's first phase (probing) stays without it

    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, (list, tuple)):
        return type(value)(as_torch(v) for v in value)
    if isinstance(value, dict) and "__fn__" not in value:
        return {k: as_torch(v) for k, v in value.items()}
    return value


def to_numpy(value: Any) -> Any:
    """Reference results as plain numpy data (tensors to arrays, recursively)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    return value


def same_as_reference(
    check_id: str,
    target: str,
    make_args: Callable[[np.random.Generator], Sequence[tuple]],
    *,
    hint: str = "",
    kwargs: Callable[[tuple], dict] | None = None,
    arrays: str | None = None,
) -> Check:
    """A check: the student's `target` must match the reference's on every argument tuple.

    `make_args(rng)` returns a list of positional-argument tuples, one call each. Both sides get
    the arrays as `arrays` says ("numpy" or "torch"; default: the manifest's `arrays:`).
    """
    name = target.partition(".")[2]

    def probes(rng: np.random.Generator) -> list[Probe]:
        return [call(target, *args, label=f"{name}({summarize(args)})", arrays=arrays,
                     **(kwargs(args) if kwargs else {}))
                for args in make_args(rng)]

    def judge(ctx: JudgeContext) -> Verdict:
        ref = ctx.reference(target)

        def expected(obs: Observation) -> Any:
            kind = ctx.arrays_of(obs.probe)
            return to_numpy(ref(*as_arguments(obs.probe.params["args"], kind),
                                **as_arguments(obs.probe.params["kwargs"], kind)))

        return judge_each(ctx, expected)

    return Check(check_id, probes, judge, hint, arrays=arrays)


def judge_each(
    ctx: JudgeContext,
    expected: Callable[[Observation], Any],
    *,
    msg: Callable[[str, Observation, Any], str] | None = None,
    compare: Callable[..., None] = assert_close,
) -> Verdict:
    """The judge loop of most checks: every observation against `expected(obs)`, the first
    mismatch fails the check. `msg(message, obs, expected)` may rewrite the mismatch's message
    (add a diagnosis; as torch.testing.assert_close's `msg`); `compare` raises `Mismatch`."""
    for obs in ctx.observations:
        want = expected(obs)
        try:
            compare(obs.value, want, ctx.tol, what=obs.probe.label)
        except Mismatch as exc:
            text = str(exc)
            return Verdict.failed(msg(text, obs, want) if msg else text)
    return Verdict.passed()
