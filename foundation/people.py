"""Picking residents by name on the foundation's forms, with the deed form's pinyin lookup.

A picker is one form field: its checked boxes (or radio, for one person) carry the chosen
residents' ids, and its search box `<field>_q` takes names, full pinyin or initials, several at
once. A search answers the form again with what it found, one clear hit already chosen; the
form is acted on only when no search is pending, so nobody is registered by a guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from sqlalchemy.orm import Session

from ledger.lookup import Lookup, active_residents, look_up
from ledger.models import Resident
from ground.i18n import Message, _
from ground.tenants import Bank
from rules import bounds


@dataclass
class Picked:
    """Who a picker holds: the residents chosen, the searches still to settle, what was refused."""

    field: str
    chosen: list[Resident]
    lookups: list[Lookup] = dc_field(default_factory=list)
    #: A search was typed: answer the form again rather than act on it.
    searching: bool = False
    #: Ids sent that are not whole numbers or not this bank's active residents.
    refused: int = 0

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.chosen]


def pick(session: Session, bank: Bank, form, field: str, *, one: bool = False) -> Picked:
    """Read a picker from a submitted form (or nothing, for a blank form)."""
    sent = [v for v in form.getlist(field) if v.strip()]
    ids = [bounds.parse_whole(v) for v in sent]
    chosen = active_residents(session, bank, [i for i in ids if i is not None])
    refused = len(dict.fromkeys(sent)) - len(chosen)
    typed = (form.get(f"{field}_q") or "")[:200]
    lookups = look_up(session, bank, typed) if typed.strip() else []
    for found in lookups:
        if found.unique and found.unique.id not in {r.id for r in chosen}:
            chosen = [found.unique] if one else chosen + [found.unique]
    return Picked(field, chosen, [lk for lk in lookups if not lk.unique], bool(typed.strip()),
                  refused)


def problems(picked: Picked, *, required: bool = True) -> dict[str, list[Message]]:
    """Return what is wrong with a picker once the form is to be acted on."""
    if picked.refused:
        return {picked.field: [_("所选居民中有 %(n)d 位不是本村在册居民，请重新查找勾选",
                                n=picked.refused)]}
    if required and not picked.chosen:
        return {picked.field: [_("请先按姓名或拼音查找并勾选居民")]}
    return {}
