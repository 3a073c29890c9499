"""Households and residents: registering, correcting, deactivating and moving them, and finding them.

Each write is one unit of work (ledger.unit.UnitOfWork): its checks under the bank's posting
lock, the audit entry and the commit, or nothing at all on an error.
"""
from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from rules import bounds
from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ConflictError, ValidationError
from ground.i18n import _
from ground.tenants import Bank

from . import names
from .models import Account, Household, Resident, ResidentMove
from .posting import Idempotency
from .unit import UnitOfWork

#: Relations to the head of household a roster may name (free text is refused, so a typo in
#: a spreadsheet is caught rather than stored).
#: Each is stored, and read from a roster, in Chinese, and shown in the reader's words.
RELATION_NAMES = {
    "户主": _("户主"), "配偶": _("配偶"), "子": _("子"), "女": _("女"), "儿媳": _("儿媳"), "女婿": _("女婿"),
    "孙子": _("孙子"), "孙女": _("孙女"), "外孙": _("外孙"), "外孙女": _("外孙女"), "父亲": _("父亲"),
    "母亲": _("母亲"), "公公": _("公公"), "婆婆": _("婆婆"), "岳父": _("岳父"), "岳母": _("岳母"),
    "兄弟": _("兄弟"), "姐妹": _("姐妹"), "其他": _("其他"),
}
RELATIONS = tuple(RELATION_NAMES)
NAME_MAX = 50
HOUSEHOLD_CODE_MAX, HOUSEHOLD_NAME_MAX = 40, 100
#: A reason given on a screen (deactivating, moving); the API's memos and reasons have the same.
REASON_MAX = 500


def normalize_phone(raw: str | None) -> str | None:
    """Return a phone number as digits (13812345678, 07958123456), or raise ValueError saying why.

    Spaces, dashes and a +86 prefix are dropped; a mobile has 11 digits and starts with 1, a
    landline starts with its area code's 0 and has 10 to 12 digits.
    """
    if raw is None or not str(raw).strip():
        return None
    text = re.sub(r"[\s\-()（）]", "", str(raw).strip())
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    if not text.isascii() or not text.isdigit():
        raise ValueError(_("电话号码只能包含数字"))
    if text.startswith("1"):
        if len(text) != 11:
            raise ValueError(_("电话号码有 %(n)s 位数字，手机号应为 11 位", n=len(text)))
    elif text.startswith("0"):
        if not 10 <= len(text) <= 12:
            raise ValueError(_("电话号码有 %(n)s 位数字，座机号（含区号）应为 10 到 12 位", n=len(text)))
    else:
        raise ValueError(_("电话号码应以 1（手机）或 0（座机区号）开头"))
    return text


def person_problems(*, name: str | None, phone: str | None, relation: str | None,
                    reading: str | None) -> tuple[dict, dict]:
    """Check a resident's fields; return (clean values, problems by field), all problems at once."""
    problems: dict[str, list[str]] = {}
    clean: dict = {}
    name = (name or "").strip()
    if not name:
        problems["name"] = [_("姓名不能为空")]
    elif len(name) > NAME_MAX:
        problems["name"] = [_("姓名最长 %(n)s 个字", n=NAME_MAX)]
    elif any(ch in "<>\"'\\/@#$%^&*=+|{}[];:?!" or not ch.isprintable() for ch in name):
        problems["name"] = [_("姓名不能包含符号或控制字符")]
    clean["name"] = name
    try:
        clean["phone"] = normalize_phone(phone)
    except ValueError as err:
        problems["phone"] = [err.args[0]]
    relation = (relation or "").strip()
    if relation and relation not in RELATIONS:
        problems["relation"] = [_("与户主关系须为以下之一：%(relations)s", relations="、".join(RELATIONS))]
    clean["relation"] = relation
    reading = " ".join((reading or "").split())
    if reading and "name" not in problems:
        try:
            names.parse_reading(reading, name)
        except ValueError as err:
            problems["reading"] = [err.args[0]]
    clean["reading"] = reading
    return clean, problems


def create_household(session: Session, bank: Bank, *, code: str, name: str | None,
                     clock: Clock, by: str | None = None,
                     idem: Idempotency | None = None) -> Household:
    """Register a household under a code the village already uses (a house number, say); a
    retry with the same key returns the household the first one registered."""
    code, name = (code or "").strip(), (name or "").strip()
    problems = {}
    if not code or len(code) > HOUSEHOLD_CODE_MAX:
        problems["code"] = [_("户号不能为空，最长 %(n)s 个字符", n=HOUSEHOLD_CODE_MAX)]
    elif problem := bounds.text_problem(code, max_len=HOUSEHOLD_CODE_MAX):
        problems["code"] = [problem]
    if problem := _household_name_problem(name):
        problems["name"] = [problem]
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Household, uow.replayed.data["household"])
        if session.execute(select(Household.id).where(Household.bank_id == bank.id,
                                                      Household.code == code)).first():
            raise ConflictError(_("户号 %(code)s 已存在", code=code), code="household_exists",
                                fields={"code": [_("户号 %(code)s 已存在", code=code)]})
        household = Household(bank_id=bank.id, code=code, name=name, created_at=clock.now())
        session.add(household)
        session.flush()
        uow.remember("created", {"household": household.id})
        if by:
            uow.audit("household_create", f"household:{household.id}", {"code": code, "name": name})
    return household


def _household_name_problem(name: str):
    if len(name) > HOUSEHOLD_NAME_MAX:
        return _("户名最长 %(n)s 个字", n=HOUSEHOLD_NAME_MAX)
    return bounds.text_problem(name, max_len=HOUSEHOLD_NAME_MAX, allow_blank=True)


def _reason_problem(reason: str):
    """Why a reason typed on a screen (deactivating, moving) is refused, as the API's memos."""
    return bounds.text_problem(reason, max_len=REASON_MAX, multiline=True, allow_blank=True)


def get_household(session: Session, bank: Bank, household_id: int) -> Household:
    """Return the bank's household, or NotFound if unknown or another bank's."""
    return bank_row(session, Household, household_id, bank.id, _("找不到该户"))


def update_household(session: Session, bank: Bank, household_id: int, *, name: str | None,
                     active: bool, by: str, clock: Clock) -> Household:
    """Rename a household, or deactivate it once nobody active lives in it (or reactivate it)."""
    name = (name or "").strip()
    if problem := _household_name_problem(name):
        raise ValidationError({"name": [problem]})
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        household = get_household(session, bank, household_id)
        if not active and household.active:
            members = session.execute(select(func.count()).where(
                Resident.household_id == household.id, Resident.active.is_(True))).scalar()
            if members:
                raise ConflictError(
                    _("户内还有 %(n)s 名在册居民，请先迁出或停用", n=members), code="household_not_empty",
                    fields={"active": [_("户内还有 %(n)s 名在册居民", n=members)]})
        before = {"name": household.name, "active": household.active}
        household.name, household.active = name, active
        session.flush()
        account = session.execute(select(Account).where(
            Account.bank_id == bank.id, Account.household_id == household.id)).scalar_one_or_none()
        if account is not None:
            account.name = name or household.code
        uow.audit("household_update", f"household:{household.id}",
                  {"before": before, "after": {"name": name, "active": active}})
    return household


def list_households(session: Session, bank: Bank, q: str | None = None, *, limit: int = 200,
                    after: int | None = None) -> list[tuple[Household, int]]:
    """Return the bank's households with their active member counts, by code."""
    members = (select(Resident.household_id, func.count().label("n"))
               .where(Resident.bank_id == bank.id, Resident.active.is_(True))
               .group_by(Resident.household_id).subquery())
    stmt = (select(Household, func.coalesce(members.c.n, 0))
            .outerjoin(members, members.c.household_id == Household.id)
            .where(Household.bank_id == bank.id))
    if q and q.strip():
        needle = "%" + _escape_like(q.strip()) + "%"
        stmt = stmt.where(or_(Household.code.like(needle, escape="\\"),
                              Household.name.like(needle, escape="\\")))
    if after is not None:
        stmt = stmt.where(Household.id > after)
    return [(h, n) for h, n in session.execute(stmt.order_by(Household.code).limit(limit)).all()]


def household_members(session: Session, bank: Bank, household: Household) -> list[Resident]:
    """Return the residents registered in a household, active first."""
    return list(session.execute(select(Resident).where(
        Resident.bank_id == bank.id, Resident.household_id == household.id)
        .order_by(Resident.active.desc(), Resident.id)).scalars())


def create_resident(session: Session, bank: Bank, *, name: str, household: str,
                    phone: str | None, clock: Clock, relation: str | None = None,
                    reading: str | None = None, by: str | None = None,
                    idem: Idempotency | None = None) -> Resident:
    """Register a resident in an existing household; a retry with the same key returns the
    resident the first one registered."""
    clean, problems = person_problems(name=name, phone=phone, relation=relation, reading=reading)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Resident, uow.replayed.data["resident"])
        home = find_household(session, bank, (household or "").strip())
        if home is None or not home.active:
            problems["household"] = [_("户号 %(code)s 不存在或已停用", code=household)]
        if problems:
            raise ValidationError(problems)
        resident = Resident(bank_id=bank.id, household_id=home.id, created_at=clock.now(),
                            **clean, **names.search_keys(clean["name"], clean["reading"]))
        session.add(resident)
        session.flush()
        uow.remember("created", {"resident": resident.id})
        if by:
            uow.audit("resident_create", f"resident:{resident.id}", {"household": home.code})
    return resident


def update_resident(session: Session, bank: Bank, resident_id: int, *, name: str,
                    phone: str | None, relation: str | None, reading: str | None, by: str,
                    clock: Clock) -> Resident:
    """Correct a resident's name, phone, relation or recorded reading; the keys follow."""
    clean, problems = person_problems(name=name, phone=phone, relation=relation, reading=reading)
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        resident = get_resident(session, bank, resident_id)
        changed = sorted(k for k, v in clean.items() if getattr(resident, k) != v)
        for key, value in {**clean, **names.search_keys(clean["name"], clean["reading"])}.items():
            setattr(resident, key, value)
        account = session.execute(select(Account).where(
            Account.bank_id == bank.id, Account.resident_id == resident.id)).scalar_one_or_none()
        if account is not None:
            account.name = clean["name"]
        if changed:
            # Which fields changed, not their values: the log is no place for phone numbers.
            uow.audit("resident_update", f"resident:{resident.id}", {"changed": changed})
    return resident


def set_resident_active(session: Session, bank: Bank, resident_id: int, active: bool, *,
                        reason: str | None, by: str, clock: Clock) -> Resident:
    """Deactivate a resident (no new deeds; their history stays) or bring them back."""
    reason = bounds.newlines(reason or "").strip()
    if problem := _reason_problem(reason):
        raise ValidationError({"reason": [problem]})
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        resident = get_resident(session, bank, resident_id)
        if not active and not reason:
            raise ValidationError({"reason": [_("停用须写明原因")]})
        if resident.active == active:
            return resident
        if active and not get_household(session, bank, resident.household_id).active:
            raise ValidationError({"household": [_("所在户已停用，请先迁入其他户")]})
        resident.active = active
        uow.audit("resident_activate" if active else "resident_deactivate", f"resident:{resident.id}",
                  {"reason": reason or None})
    return resident


def move_resident(session: Session, bank: Bank, resident_id: int, *, household: str,
                  reason: str | None, by: str, clock: Clock) -> Resident:
    """Move a resident to another household; past transfers stay where they were posted."""
    reason = bounds.newlines(reason or "").strip() or None
    if reason and (problem := _reason_problem(reason)):
        raise ValidationError({"reason": [problem]})
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        resident = get_resident(session, bank, resident_id)
        target = find_household(session, bank, (household or "").strip())
        if target is None or not target.active:
            raise ValidationError({"household": [_("户号 %(code)s 不存在或已停用", code=household)]})
        if target.id == resident.household_id:
            raise ValidationError({"household": [_("已在该户，无需迁移")]})
        session.add(ResidentMove(bank_id=bank.id, resident_id=resident.id,
                                 from_household_id=resident.household_id, to_household_id=target.id,
                                 moved_at=clock.now(), moved_by=by, reason=reason))
        source = resident.household_id
        resident.household_id = target.id
        uow.audit("resident_move", f"resident:{resident.id}",
                  {"from": source, "to": target.id, "reason": reason})
    return resident


def resident_moves(session: Session, bank: Bank, resident: Resident) -> list[tuple[ResidentMove, str, str]]:
    """Return a resident's moves between households, oldest first, with both household codes."""
    source, target = aliased(Household), aliased(Household)
    return [tuple(row) for row in session.execute(
        select(ResidentMove, source.code, target.code)
        .join(source, source.id == ResidentMove.from_household_id)
        .join(target, target.id == ResidentMove.to_household_id)
        .where(ResidentMove.bank_id == bank.id, ResidentMove.resident_id == resident.id)
        .order_by(ResidentMove.id)).all()]


def find_household(session: Session, bank: Bank, code: str) -> Household | None:
    """Return the bank's household with this code, if any (none for a code no household can have)."""
    if bounds.text_problem(code, max_len=HOUSEHOLD_CODE_MAX):
        return None
    return session.execute(select(Household).where(Household.bank_id == bank.id,
                                                   Household.code == code)).scalar_one_or_none()


def search_keys(name: str, reading: str | None = None) -> dict[str, str]:
    """Return the pinyin search keys of a name (see ledger.names)."""
    return names.search_keys(name, reading)


def get_resident(session: Session, bank: Bank, resident_id: int) -> Resident:
    """Return the bank's resident, or NotFound if unknown or another bank's."""
    return bank_row(session, Resident, resident_id, bank.id, _("找不到该居民"))


def _escape_like(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def search_residents(session: Session, bank: Bank, q: str | None, *, limit: int,
                     after: int | None, active_only: bool = False) -> list[Resident]:
    """Find residents by name, full pinyin or initials; ordered by id, from `after` on."""
    stmt = select(Resident).where(Resident.bank_id == bank.id)
    if active_only:
        stmt = stmt.where(Resident.active.is_(True))
    needle = names.normalize_query(q or "")
    if needle:
        like = "%" + _escape_like(needle) + "%"
        stmt = stmt.where(or_(Resident.name.like("%" + _escape_like(q.strip()) + "%", escape="\\"),
                              Resident.pinyin.like(like, escape="\\"),
                              Resident.initials.like(like, escape="\\")))
    if after is not None:
        stmt = stmt.where(Resident.id > after)
    return list(session.execute(stmt.order_by(Resident.id).limit(limit)).scalars())


def find_residents(session: Session, bank: Bank, q: str, *, limit: int = 20,
                   active_only: bool = True) -> list[Resident]:
    """Return the residents a clerk most likely means by `q`, best first (for the screens).

    Exact names first, then names or keys that start with what was typed, then the rest.
    """
    needle = names.normalize_query(q)
    if not needle:
        return []
    found = search_residents(session, bank, q, limit=500, after=None, active_only=active_only)

    def rank(r: Resident) -> tuple:
        keys = (r.pinyin.split() + r.initials.split())
        if r.name == q.strip():
            score = 0
        elif needle in keys:
            score = 1
        elif r.name.startswith(q.strip()) or any(k.startswith(needle) for k in keys):
            score = 2
        else:
            score = 3
        return (score, not r.active, len(r.name), r.id)

    return sorted(found, key=rank)[:limit]
