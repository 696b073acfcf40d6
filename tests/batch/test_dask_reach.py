"""`batch --scheduler` (issue 17.3): a submission that finds the scheduler and connects a
`distributed.Client` (Dask has no authentication by default) gets nowhere: the child reaches no
network, so no worker runs its code; and the batch refuses a plain-TCP scheduler elsewhere."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from grader import batch
from tests.hw3testing import write_submission

ATTACK = '''
_reference_cross_entropy = cross_entropy

def _reach_the_scheduler():
    """The scheduler's address from the batch's command line, as any process can read it."""
    import os
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{{pid}}/cmdline", "rb") as fh:
                words = fh.read().decode(errors="replace").split("\\0")
        except OSError:
            continue
        if "--scheduler" in words:
            address = words[words.index("--scheduler") + 1]
            try:
                from distributed import Client
                client = Client(address, timeout=5)
                client.run(lambda: open({marker!r}, "w").write("ran"))   # on every worker, unsandboxed
                client.close()
            except Exception:
                pass
            return

def cross_entropy(f, y):
    _reach_the_scheduler()
    return _reference_cross_entropy(f, y)
'''


def test_a_submission_cannot_reach_the_scheduler(tmp_path):
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "worker-ran-submitted-code"
    folder = tmp_path / "submissions"
    write_submission(folder / "attacker", patch={"losses": ATTACK.format(marker=str(marker))})
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        run = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-o", str(out), "--problems", "P3",
                              "--no-progress", "--scheduler", cluster.scheduler_address],
                             capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "plain TCP" in run.stderr          # warned: a loopback scheduler without TLS
    assert not marker.exists(), "a worker ran the submission's code"
    with open(out / "grades.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["total"]) == 6.0       # Problem 3 in full: the attempt gains nothing and costs nothing


@pytest.mark.parametrize("address", ["tcp://192.0.2.7:8786", "192.0.2.7:8786", "ws://192.0.2.7:8786"])
def test_a_plain_tcp_scheduler_elsewhere_is_refused(address):
    with pytest.raises(batch.BatchError, match="--allow-insecure-scheduler"):
        batch.check_scheduler(address)
    assert "allow-insecure-scheduler" in batch.check_scheduler(address, allow_insecure=True)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "localhost:8786", "tcp://[::1]:8786"])
def test_a_plain_tcp_scheduler_here_is_a_warning(address):
    assert "plain TCP" in batch.check_scheduler(address)


@pytest.mark.parametrize("address", ["tls://192.0.2.7:8786", "inproc://192.0.2.7/1/1"])
def test_a_secure_scheduler_is_accepted_silently(address):
    assert batch.check_scheduler(address) == ""


def test_the_command_line_refuses_before_connecting(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "batch", str(tmp_path), "-o", str(tmp_path / "out"),
                          "--scheduler", "tcp://192.0.2.7:8786"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "--allow-insecure-scheduler" in run.stderr and "Traceback" not in run.stderr
