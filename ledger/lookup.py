"""Finding the residents a clerk means: what the deed form types (names, full pinyin, initials,
several at once) and the ids a form sends back, for every screen that picks residents.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ground.tenants import Bank

from . import people, reading
from .models import Resident


@dataclass(frozen=True)
class Lookup:
    """One search term of the deed form and who it found."""

    term: str
    found: list[Resident]

    @property
    def unique(self) -> Resident | None:
        """The one resident the term means, if it means one (a single hit, or one exact name)."""
        if len(self.found) == 1:
            return self.found[0]
        exact = [r for r in self.found if r.name == self.term]
        return exact[0] if len(exact) == 1 else None


def look_up(session: Session, bank: Bank, text: str) -> list[Lookup]:
    """Split what the clerk typed into terms (spaces, commas) and find active residents for each."""
    terms = [t for t in re.split(r"[\s,，、;；]+", text or "") if t]
    return [Lookup(t, people.find_residents(session, bank, t, limit=8)) for t in terms[:30]]


def active_residents(session: Session, bank: Bank, ids: list[int]) -> list[Resident]:
    """Return the bank's active residents among these ids, in the order given."""
    found = reading.residents_by_id(session, bank, ids)
    return [found[i] for i in dict.fromkeys(ids) if i in found and found[i].active]
