"""What a class folder holds cannot stop the batch: OUT's own names are taken by no submission,
and a FIFO or a device is fingerprinted by its kind, never read."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from grader import batch


@pytest.mark.parametrize("name", ["checks.csv", "regrade.csv", "previous.json", "regrade-dry-run.csv",
                                  "report.html", "GRADES.CSV", "feedback.html", "anything.json"])
def test_no_submission_takes_the_name_of_a_file_out_holds(name):
    chosen = batch.discovery._unique_id(name, set())
    assert chosen.lower() != name.lower() and chosen.startswith(name)
    assert not chosen.lower().endswith((".csv", ".html", ".json"))


def test_ordinary_names_are_kept():
    names = ["alice", "bob.smith", "carol_3"]
    assert [batch.discovery._unique_id(n, set()) for n in names] == names


def test_a_fifo_in_a_submission_is_fingerprinted_without_being_opened(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "losses.py").write_text("x = 1\n")
    os.mkfifo(folder / "notes.txt")          # opening it for reading would wait for a writer forever
    found: list[str] = []
    worker = threading.Thread(target=lambda: found.append(batch.content_digest(folder)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert found, "content_digest blocked on a FIFO"
    (folder / "notes.txt").unlink()
    (folder / "notes.txt").write_text("")
    assert batch.content_digest(folder) != found[0]     # a FIFO and an empty file are told apart
