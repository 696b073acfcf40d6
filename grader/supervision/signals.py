"""The one signal policy: what each of the grader's processes does with a signal, and which
endings of a child are suspect (someone else's doing).

    the batch (`StopOnSignals`)   Ctrl-C, SIGTERM, SIGHUP ask it to stop (a second one interrupts);
                                  the other HARMLESS_SIGNALS are ignored: grades.csv is always written
    a batch worker (`as_worker`)  SIGINT ignored (the batch's to handle), SIGTERM obeyed only when the
                                  batch asked (its handler), HARMLESS_SIGNALS ignored
    a zygote (`as_zygote`)        obeys its socket only: SIGINT, SIGTERM and HARMLESS_SIGNALS ignored;
                                  a child's SIGCHLD wakes its loop (`wake_on_child_exit`)
    a forked child (`as_fresh_child`)  every disposition as a freshly started interpreter has it
    the child (`survive_file_limit`)   SIGXFSZ ignored: a write past the file-size cap fails instead

Nothing of the grader sends a signal but SIGKILL (through a kill request, or to a tree it
ends: grader/supervision/processes.py) and the batch's SIGTERM to its own workers; SIGKILL
and SIGSTOP cannot be caught. Standard library only (the zygote and the child import it).
"""
from __future__ import annotations

import signal
import threading

#: Signals whose default action ends a process and that nothing of the grader sends to a zygote
#: or a worker: there they are caught and ignored (a handler, not SIG_IGN, so an exec resets them).
#: SIGINT and SIGTERM are handled by each process itself; SIGKILL and SIGSTOP cannot be caught.
HARMLESS_SIGNALS = tuple(sorted({getattr(signal, name) for name in (
    "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR",
    "SIGSTKFLT", "SIGXCPU") if hasattr(signal, name)} | set(
    range(signal.SIGRTMIN, signal.SIGRTMAX + 1) if hasattr(signal, "SIGRTMIN") else ())))

#: Signals that end a child from outside: nothing of the student's own limits sends them (the
#: memory limit raises MemoryError or aborts; the file-size limit's SIGXFSZ is ignored), and the
#: grader sends only SIGKILL, through a kill request. SIGKILL is also the out-of-memory killer's.
SUSPECT_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT} | (
    set(HARMLESS_SIGNALS) - {getattr(signal, "SIGXCPU", None)}))


def name_of(signum: int) -> str | None:
    """"SIGKILL" and the like; None for a number no signal of this system has."""
    return signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else None


def signal_name(signum: int) -> str:
    """The signal's name, else "signal N"."""
    return name_of(signum) or f"signal {signum}"


def ignored(signum, frame) -> None:
    """A signal sent by someone we do not obey."""


def ignore_signals(signals=HARMLESS_SIGNALS) -> None:
    for signum in signals:
        try:
            signal.signal(signum, ignored)
        except (OSError, ValueError, RuntimeError):
            pass


def as_worker(on_sigterm) -> None:
    """A batch worker's policy; `on_sigterm` decides whether the SIGTERM is the batch's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle, not each worker's
    signal.signal(signal.SIGTERM, on_sigterm)
    ignore_signals()                              # SIGHUP, SIGUSR1, ...: nothing of the grader sends them


def as_zygote() -> None:
    """A zygote's policy: it obeys its socket only."""
    ignore_signals(HARMLESS_SIGNALS + (signal.SIGINT, signal.SIGTERM))


def wake_on_child_exit(fd: int) -> None:
    """In the zygote: a child's exit (SIGCHLD, handled, so that it is delivered) writes to `fd`,
    which its loop waits on with its socket."""
    signal.set_wakeup_fd(fd)
    signal.signal(signal.SIGCHLD, lambda *_: None)


def as_fresh_child() -> None:
    """In a child just forked by a zygote: no wakeup descriptor, every signal the zygote handles
    back to its default, Ctrl-C a KeyboardInterrupt, as in a freshly started interpreter."""
    signal.set_wakeup_fd(-1)
    for signum in HARMLESS_SIGNALS + (signal.SIGCHLD, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.signal(signal.SIGINT, signal.default_int_handler)


def survive_file_limit() -> None:
    """In the child, before its file-size limit: writes past the cap fail instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class StopOnSignals:
    """While the batch grades: the first Ctrl-C (or SIGTERM, SIGHUP) asks it to stop, a second one
    interrupts; the other catchable signals that would end the process (SIGUSR1, SIGALRM, ...:
    nothing of the grader sends them) are ignored, so that grades.csv is always written."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    IGNORED = tuple(s for s in HARMLESS_SIGNALS if s != signal.SIGHUP)

    def __init__(self, stop: threading.Event, *, second_interrupts: bool = True) -> None:
        self.stop = stop
        self.second_interrupts = second_interrupts
        self.previous: dict = {}

    def _handler(self, signum, frame) -> None:
        if self.stop.is_set() and self.second_interrupts:
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handler)
            for sig in self.IGNORED:
                try:
                    self.previous[sig] = signal.signal(sig, ignored)
                except (OSError, ValueError):
                    pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            if handler is not None:   # None: installed by C code, which Python cannot put back
                signal.signal(sig, handler)
