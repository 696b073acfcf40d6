"""The one result model: every reporter reads `Outcome`s and `GradingResult`s, nothing else."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    """How a check ended, from the student's side of things."""

    PASSED = "passed"
    FAILED = "failed"                # returned something, and it was wrong
    NOT_ATTEMPTED = "not_attempted"  # the stub still raises NotImplementedError
    MISSING = "missing"              # the module or the function is not in the submission
    ERROR = "error"                  # the student's code raised, crashed or could not be imported
    TIMEOUT = "timeout"              # the probe ran past the rubric's time limit
    GRADER_ERROR = "grader_error"    # a bug on our side: never the student's fault

    @property
    def passed(self) -> bool:
        return self is Status.PASSED


@dataclass(frozen=True)
class Outcome:
    """The verdict on one rubric check, ready for every reporter.

    `message` is what the student may see (already redacted for non-visible checks);
    `detail` is for instructors only (never written to results.json for hidden checks).
    """

    check_id: str
    problem: str          # a key of the rubric's `problems`
    title: str
    status: Status
    score: float
    max_score: float
    visibility: str       # visible | hidden | after_due_date | after_published
    message: str = ""
    detail: str = ""
    duration: float = 0.0
    figure: str = ""      # base64 of a PNG the student's code drew (a visible check's only): feedback.html shows it

    @property
    def name(self) -> str:
        """Gradescope test name: starts with the problem key so scores group by problem."""
        return f"{self.problem} {self.title}"

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Outcome":
        return cls(**{**data, "status": Status(data["status"])})


@dataclass(frozen=True)
class GradingResult:
    """Everything one grading of one submission produced."""

    outcomes: tuple[Outcome, ...]
    execution_time: float = 0.0
    notes: tuple[str, ...] = ()       # submission-level messages (skipped notebook cells, missing modules)
    submission_id: str = ""
    grader_failure: str = ""          # set when the grader itself failed: score 0 plus this text
    manual_items: tuple[dict, ...] = field(default=())  # hand-graded parts from the rubric, for reports
    answers: dict[str, str] = field(default_factory=dict)  # check id -> hash of its wrong answers (grader/answers.py)

    @property
    def score(self) -> float:
        return round(sum(o.score for o in self.outcomes), 6)

    @property
    def max_score(self) -> float:
        return round(sum(o.max_score for o in self.outcomes), 6)

    def by_problem(self) -> dict[str, tuple[float, float]]:
        """{problem key: (score, max score)} in rubric order."""
        totals: dict[str, list[float]] = {}
        for o in self.outcomes:
            acc = totals.setdefault(o.problem, [0.0, 0.0])
            acc[0] += o.score
            acc[1] += o.max_score
        return {k: (round(v[0], 6), round(v[1], 6)) for k, v in totals.items()}

    def to_dict(self) -> dict:
        return {
            "outcomes": [o.to_dict() for o in self.outcomes],
            "execution_time": self.execution_time,
            "notes": list(self.notes),
            "submission_id": self.submission_id,
            "grader_failure": self.grader_failure,
            "manual_items": list(self.manual_items),
            **({"answers": dict(self.answers)} if self.answers else {}),   # instructors' files only
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GradingResult":
        return cls(
            outcomes=tuple(Outcome.from_dict(o) for o in data["outcomes"]),
            execution_time=data.get("execution_time", 0.0),
            notes=tuple(data.get("notes", ())),
            submission_id=data.get("submission_id", ""),
            grader_failure=data.get("grader_failure", ""),
            manual_items=tuple(data.get("manual_items", ())),
            answers=dict(data.get("answers") or {}),
        )
