"""The residents a request names: each named once, each the bank's own, each still active.

One check for every service that takes resident ids (a deed's team, an applicant's members, a
wish's donors, the holders of a card sheet, the desk's customer). Another bank's resident reads
exactly like an unknown one, so nothing leaks across banks.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.errors import ValidationError
from ground.i18n import _
from ground.tenants import Bank

from .models import Resident


def resident_problems(ids: Sequence[int], found: Mapping[int, object], *, repeats: bool = False,
                      say_which: bool = True) -> list:
    """Return what is wrong with the residents `ids` name, `found` being the bank's among them.

    A repeated id is refused on its own, unless `repeats` lets it stand for one resident. With
    `say_which=False` an unknown and an inactive resident read alike ("不存在或已停用").
    """
    if not repeats and len(set(ids)) != len(ids):
        return [_("同一居民不能重复出现")]
    if not say_which:
        return [_("居民 %(id)s 不存在或已停用", id=i) for i in ids if i not in found or not found[i].active]
    return ([_("居民 %(id)s 不存在", id=i) for i in ids if i not in found]
            + [_("居民 %(id)s 已停用", id=i) for i in ids if i in found and not found[i].active])


def check_residents(ids: Sequence[int], found: Mapping[int, object], *, field: str = "residents",
                    **how) -> list:
    """Return the residents `ids` name, in that order and each once, or refuse them (422 naming
    `field`); `how` as for `resident_problems`."""
    problems = resident_problems(ids, found, **how)
    if problems:
        raise ValidationError({field: problems})
    return [found[i] for i in dict.fromkeys(ids)]


def named_residents(session: Session, bank: Bank, ids: Sequence[int], *, field: str = "residents",
                    **how) -> list[Resident]:
    """Read the bank's residents with these ids and check them as `check_residents` does."""
    found = {r.id: r for r in session.execute(select(Resident).where(
        Resident.bank_id == bank.id, Resident.id.in_(set(ids)))).scalars()} if ids else {}
    return check_residents(ids, found, field=field, **how)
