"""What the tests of retried writes share: a write of the API to try under an Idempotency-Key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class KeyedWrite:
    """One write to try with a key: its request, another request (under the first user's key a
    mismatch), and what counts the rows it makes. Each suite adds who sends it and how."""

    path: str
    body: dict | bytes | None
    other_path: str
    other_body: dict | bytes | None
    #: Counts the rows the write makes (or the rows it moves to a new state).
    rows: Callable[[], int]
