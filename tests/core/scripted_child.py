"""A stand-in for `grader.probes.child`: the same wire, no torch, a behaviour per probe.

`sandbox.Child` starts it through a wrapper script given as `SandboxConfig.python`
(`wrapper()`), so the real process boundary is exercised (spawn, pipes, deadlines,
kills) in a fraction of a second per child. The probe's target names the behaviour
(``"losses.echo"``, ``"losses.hang"``, ...); the wrapper's environment says how the
start goes (``SCRIPTED_START``: ready, exit, exit_first, hang, not_ready, garbage) and where each start and probe is logged (``SCRIPTED_LOG``:
lines ``start PID`` and ``probe PID FUNCTION FIRST-ARGUMENT``).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from grader.probes import wire
from grader.supervision.prctl import become_subreaper

FORGED = "0" * 16


def wrapper(folder: Path, start: str = "ready") -> tuple[str, Path]:
    """(an executable to give as `SandboxConfig.python`, the log of what the children did)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "children.log"
    log.touch()
    path = folder / f"python-{start}"
    path.write_text(f"#!/bin/sh\nexport SCRIPTED_START={start} SCRIPTED_LOG={log}\n"
                    f"exec {sys.executable} {Path(__file__).resolve()} \"$@\"\n")
    path.chmod(0o755)
    return str(path), log


def read_log(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()]


def _log(*words) -> None:
    with open(os.environ["SCRIPTED_LOG"], "a") as out:
        out.write(" ".join(str(w) for w in words) + "\n")


def _spawn(hide: bool = False) -> list[int]:
    """A grandchild out of this process's session (setsid, double fork) that sleeps: its pid, and its
    parent's. `hide`: the grandchild closes every descriptor first (no pipe of the grader leads to it)."""
    r, w = os.pipe()
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            if hide:
                os.closerange(0, 65536)
            time.sleep(600)
        os._exit(0)
    os.waitpid(first, 0)
    pid = int(os.read(r, 32))
    if hide:
        os.close(w)
        os.read(r, 1)   # EOF once the grandchild has closed its copy of the pipe, with everything else
    return [first, pid]


def _sibling() -> int:
    """A process made with clone(CLONE_PARENT): a child of this process's parent, not of this process,
    so outside its tree; it closes every descriptor and sleeps. Its pid."""
    import ctypes

    r, w = os.pipe()
    pid = ctypes.CDLL(None, use_errno=True).syscall(56, 0x00008000 | signal.SIGCHLD, 0, 0, 0, 0)  # x86-64 clone
    if pid == 0:
        os.closerange(0, 65536)
        time.sleep(600)
        os._exit(0)
    os.close(w)
    os.read(r, 1)   # EOF once the sibling has closed everything
    return pid


def _answer(fd: int, request: dict, args: list) -> dict | None:
    """What one probe does; None when it has already written its answer (or never will)."""
    behaviour = request["params"]["target"].partition(".")[2]
    token = request.get("token")
    if behaviour == "echo":
        return {"ok": True, "value": args[0]}
    if behaviour == "raise":
        return {"raised": {"type": "ValueError", "message": "scripted failure"}}
    if behaviour == "flood":
        os.write(1, b"x" * args[0])
        return {"ok": True, "value": args[0]}
    if behaviour == "environ":
        return {"ok": True, "value": dict(os.environ)}
    if behaviour == "spawn":
        return {"ok": True, "value": _spawn()}
    if behaviour == "forged_then_echo":   # a stale/forged token first, then the real answer
        wire.send_answer(fd, {"token": FORGED, "ok": True, "value": wire.encode_value(666, 2**20)})
        return {"ok": True, "value": args[0]}
    if behaviour == "forged_only":
        wire.send_answer(fd, {"token": FORGED, "ok": True, "value": wire.encode_value(args[0], 2**20)})
        time.sleep(600)
    if behaviour == "garbage":
        os.write(fd, b"this is not a frame of the protocol")
        time.sleep(600)
    if behaviour == "two_kinds":
        wire.send(fd, {"token": token, "ok": True, "raised": {"type": "X", "message": ""}, "value": 1})
        time.sleep(600)
    if behaviour == "hang":
        time.sleep(600)
    if behaviour == "exit":
        os._exit(3)
    if behaviour in ("spawn_then_exit", "hide_then_exit"):
        _log("spawned", *_spawn(hide=behaviour == "hide_then_exit"))
        os._exit(3)
    if behaviour == "sibling_then_exit":
        _log("spawned", os.getpid(), _sibling())
        os._exit(3)
    if behaviour in ("sigterm", "sigkill"):
        os.kill(os.getpid(), signal.SIGTERM if behaviour == "sigterm" else signal.SIGKILL)
        time.sleep(600)
    return {"grader_error": f"the scripted child has no behaviour {behaviour!r}"}


def main() -> int:
    request_fd, answer_fd = int(sys.argv[-2]), int(sys.argv[-1])
    become_subreaper()   # as the real child: what its code starts stays in its tree
    _log("start", os.getpid())
    start = os.environ["SCRIPTED_START"]
    setup = wire.receive(request_fd)
    first_start = sum(line[0] == "start" for line in read_log(Path(os.environ["SCRIPTED_LOG"]))) == 1
    if start == "exit" or (start == "exit_first" and first_start):
        print("scripted start failure", flush=True)
        os._exit(7)
    if start == "hang":
        time.sleep(600)
    if start == "not_ready":   # a well-formed answer of the wrong kind
        wire.send(answer_fd, {"token": setup["token"], "ok": True, "value": None})
        time.sleep(600)
    if start == "garbage":
        os.write(answer_fd, b"this is not a frame of the protocol")
        time.sleep(600)
    wire.send(answer_fd, {"token": setup["token"], "ready": True, "confined": ""})
    while True:
        try:
            request = wire.receive(request_fd)
        except EOFError:
            return 0
        answer: dict | None = {"ok": True, "value": None}
        if request.get("op") == "probe":
            args = list(wire.decode(request["params"]).get("args", ()))
            _log("probe", os.getpid(), request["params"]["target"].partition(".")[2], args[0] if args else "-")
            answer = _answer(answer_fd, request, args)
            if answer and "value" in answer:
                answer["value"] = wire.encode_value(answer["value"], request["max_answer"])
        wire.send_answer(answer_fd, {**answer, "token": request.get("token")}, request["max_answer"])


if __name__ == "__main__":
    sys.exit(main())
