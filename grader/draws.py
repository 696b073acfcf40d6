"""Which random inputs a check draws.

A visible check draws from (rubric seed, check id): the same inputs for every student, so
that messages can show them and the student kit can freeze the reference's answers.

A hidden (or after-due-date) check also mixes in the submission's identity (Gradescope's
student ids, locally the submission's name) and an optional course secret (the
environment variable HW3GRADE_COURSE_SECRET): student code must be given the inputs to
call the student's function, so it can always see and leak them, but a leak then helps
no one else, and without the secret nobody can compute another student's inputs. The
same submission still always gets the same inputs, hence the same score, and the judges
stay exact for any draw (they recompute what they expect from the inputs).
"""
from __future__ import annotations

import hashlib
import os
import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .rubric import CheckEntry

SECRET_ENV = "HW3GRADE_COURSE_SECRET"


def identity_key(identity: str, secret: str | None = None) -> str:
    """What a submission adds to the seeds of its non-visible checks ("" without an identity)."""
    if not identity:
        return ""
    secret = os.environ.get(SECRET_ENV, "") if secret is None else secret
    return hashlib.sha256(f"{secret}\0{identity}".encode("utf-8")).hexdigest()


def rng_for(entry: "CheckEntry", identity_key: str = "") -> np.random.Generator:
    """The check's inputs: the rubric's seed mixed with its id, and for a non-visible check the identity key."""
    material = [entry.seed, zlib.crc32(entry.id.encode("utf-8"))]
    if entry.secret and identity_key:
        material += [int(identity_key[i:i + 8], 16) for i in range(0, 32, 8)]
    return np.random.default_rng(material)


def identity_of(people: "list[dict] | tuple[dict, ...]", fallback: str) -> str:
    """A submission's stable identity: its students' e-mails (Gradescope's metadata and its export
    both have them; a resubmission keeps them), else their names, else `fallback` (the submission's name)."""
    for field in ("email", "name"):
        found = sorted({str(p.get(field, "")).strip().lower() for p in people if isinstance(p, dict)} - {""})
        if found:
            return ",".join(found)
    return fallback
