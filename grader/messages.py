"""Every sentence the grader says about a submission, worded for the person who can act on it.

Student-facing texts are kind and concrete; the grader's own failures say so plainly
and never blame the student.
"""
from __future__ import annotations

from .compare import FLOAT64_REQUIRED
from .outcome import Status
from .supervision.cgroups import PIDS_MAX

GRADER_BUG = ("The grader itself failed on this check (not your fault). "
              "Your instructor can see the details; please let them know.")
NO_DECLARATION = "rubric.yaml lists check {id!r}, but the assignment's check package declares no check with that id."
FLOAT32_NOTE = ("Judged at float32 precision: your result is off by about float32's rounding error (7 significant "
                "digits), so some arithmetic on the way ran in float32, whatever dtype it was returned in; "
                "kept in float64, the dtype of the inputs, it would match to about 15 digits.")
BUDGET_EXHAUSTED = ("Not run: the time for the whole grading ran out before this check. "
                    "Look for slow or endless code in the checks that timed out above.")


def missing_module(module: str, problems: str) -> str:
    """`problems`: the problems whose checks need the module, as a sentence names them ("Problems 1 and 2")."""
    return (f"{module}.py was not found in your submission, so the checks of "
            f"{problems or 'this problem'} that need it score 0. "
            f"Upload it next to your other modules, named exactly {module}.py.")


def missing_name(text: str, expected: str) -> str:
    """The child's "`x` is not defined in y.py", with what the contract expects there ("" when it names nothing)."""
    return f"{text} ({expected})." if expected else f"{text}."


def import_failed(module: str, text: str) -> str:
    return (f"Importing {module}.py failed: {text}. Every check that needs {module}.py scores 0 until it imports. "
            "Keep experiments under `if __name__ == \"__main__\":` so that importing does no heavy work.")


def not_attempted(function: str, text: str) -> str:
    if text.endswith("is still None"):  # a constant of the template not filled in
        return f"Not answered yet: {text}."
    return f"Not started yet: {function} still raises NotImplementedError ({text})."


PROCESS_LIMIT = (f"your code kept starting processes past the grader's limit ({PIDS_MAX} at once): start only the "
                 "processes you need, and wait for each to end")

OUT_OF_MEMORY = (" The grader caps the memory one check may use (rubric.yaml, limits.memory_mb): look for an "
                 "n x n matrix where a vector suffices, or for temporaries you can avoid (in-place operations "
                 "such as mul_, or out=).")


def raised(label: str, raised: dict) -> str:
    text = f"{label} raised {raised.get('message') or raised.get('type', 'an exception')}"
    if _out_of_memory(raised):
        text += OUT_OF_MEMORY
    return text


def _out_of_memory(raised: dict) -> bool:
    message = str(raised.get("message", "")).lower()
    return raised.get("type") == "MemoryError" or "alloc" in message and "memory" in message


def probe_answered_else(label: str, returned: str, summary: str) -> str:
    """A grader probe kind that answered something else than its summary: student code replaced it."""
    return (f"{label}: the grader's probe answered {returned} instead of its summary of your code's run "
            f"({summary}). Does your code replace or patch the grader's own code at import? "
            "Define the functions the homework asks for, and leave the grader's modules alone.")


def probe_field_else(label: str, field: str, returned: str, form: str) -> str:
    """A summary with one field of another form than its probe kind sends: student code replaced the kind."""
    return (f"The answer to {label} came back with {field} as {returned}; the grader's probe sends {form} "
            "(was the grader's probe code changed?). Does your code replace or patch the grader's own code at "
            "import? Define the functions the homework asks for, and leave the grader's modules alone.")


def unconfined(why: str) -> str:
    """Said once per grading when the child ran without its sandbox (grader/probes/landlock.py)."""
    return (f"Note for the instructor: the student's code ran without a sandbox ({why}), so it could read and "
            "write whatever your user can. Grade untrusted code "
            "in a container or a VM, or on a Linux kernel with Landlock (5.13 or later).")


def builds_on(causes: list[tuple[str, str]]) -> str:
    """A later check that fails with the earlier ones it builds on: send the student there first."""
    named = "; ".join(f'{check_id} ("{title}")' for check_id, title in causes)
    these = "that check" if len(causes) == 1 else "those checks"
    return (f"This check builds on code that also failed {named}: fix {these} first; "
            "the same bug may be all that fails here.")


def timed_out(label: str, seconds: float, at_process_limit: bool = False) -> str:
    if at_process_limit:   # a fork bomb, bounded by the child's cgroup (grader/supervision/cgroups.py)
        return f"{label} did not finish within {seconds:g} s: {PROCESS_LIMIT}."
    return (f"{label} did not finish within {seconds:g} s. Is there an endless loop, "
            "or a computation far slower than needed (an n x n matrix where O(n) suffices)?")


def crashed(label: str, text: str) -> str:
    return f"While running {label}, {text}."


def too_large(label: str, text: str) -> str:
    return f"What {label} returned is too large for this check to read: {text}."


def out_of_memory(label: str) -> str:
    return (f"While running {label}, the process running your code ran out of memory, and the system "
            f"stopped it.{OUT_OF_MEMORY}")


def unreadable(label: str, text: str) -> str:
    return f"What {label} returned could not be read back: {text}."


def child_start_failed() -> str:
    """The child died before running any student code: the install's fault (details: the outcome's detail)."""
    return ("Not graded: the grader could not start the process that runs your code, so none of your code "
            "ran. This is not your fault: please tell your instructor (they can see the details).")


def for_student(status: Status, message: str, hint: str, *, secret: bool, cause: str = "") -> str:
    """The message as results.json shows it; a hidden check keeps only what reveals no values.
    `cause` (the failed checks this one builds on, named by id and title only) and the hint close it."""
    if secret:
        message = _secret_message(status, message)
    if cause:
        message = f"{message}\n{cause}" if message else cause
    if hint and status not in (Status.PASSED, Status.NOT_ATTEMPTED, Status.MISSING, Status.GRADER_ERROR):
        message = f"{message}\nHint: {hint}" if message else f"Hint: {hint}"
    return message


def _secret_message(status: Status, message: str) -> str:
    # Labels and exception texts can quote the hidden inputs: only the kind of outcome is said,
    # with the grader's own fixed sentences that name a cause without any value.
    if status in (Status.MISSING, Status.GRADER_ERROR):
        return message
    kept = [sentence for sentence in _VALUE_FREE if sentence in message]
    return "\n".join([SECRET_BY_STATUS[status], *kept])


SECRET_BY_STATUS = {
    Status.PASSED: "Passed.",
    Status.FAILED: "This hidden check failed (its inputs and expected values are not shown).",
    Status.ERROR: "This hidden check failed: your code raised an exception or crashed on its inputs.",
    Status.TIMEOUT: "This hidden check did not finish within its time limit (an endless loop, or far too slow?).",
    Status.NOT_ATTEMPTED: "Not started yet: the function still raises NotImplementedError.",
}


# Fixed sentences of the grader that reveal no input or expected value: a hidden check keeps them.
_VALUE_FREE = (FLOAT64_REQUIRED, FLOAT32_NOTE)
