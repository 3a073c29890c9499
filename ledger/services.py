"""The ledger's services: banks and their rules, households and residents, deeds (reversals: ledger.reversals).

Each service takes the session and what it needs and writes as one unit of work
(ledger.unit.UnitOfWork): its checks under the bank's posting lock, the idempotency key replayed
or its outcome remembered, the audit entry, and the commit, or nothing at all on an error.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

import rules as rulefiles
from rules import bounds

from . import accounts, names, periods
from ground.clock import Clock
from ground.db import bank_row
from ground.store import Prepared
from ground.errors import CapExceeded, ConflictError, NotFound, ValidationError
from ground.i18n import _
from .models import (PTS, Account, Household, PendingDeed, Resident, ResidentMove, RuleVersion, Transfer)
from ground.tenants import Bank
from .posting import Draft, Idempotency, legs, locked_rules, reread_lock, rules_in_force
from .residents import check_residents
from .unit import UnitOfWork

BANK_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


# --- banks and rules -------------------------------------------------------------------------

def get_bank(session: Session, code: str) -> Bank:
    """Return the bank with this code, or raise NotFound."""
    bank = session.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
    if bank is None:
        raise NotFound(_("找不到该银行"))
    return bank


def create_bank(session: Session, code: str, name: str, *, rules_text: str, source_name: str,
                by: str, clock: Clock) -> Bank:
    """Open a bank with its system accounts and its first rule version."""
    problems = {}
    if not BANK_CODE.match(code or ""):
        problems["code"] = [_("只能包含字母、数字、-、_，最长 40 个字符")]
    if not (name or "").strip() or len(name) > 100:
        problems["name"] = [_("名称不能为空，最长 100 个字符")]
    if problems:
        raise ValidationError(problems)
    book = _parse_rules(rules_text, source_name)
    with UnitOfWork(session, None, by=by, clock=clock) as uow:
        if session.execute(select(Bank.id).where(Bank.code == code)).first():
            raise ConflictError(_("银行代码 %(code)s 已存在", code=code), code="bank_exists")
        bank = uow.bank = Bank(code=code, name=name.strip(), created_at=clock.now())
        session.add(bank)
        session.flush()
        accounts.open_system_accounts(session, bank.id)
        version = _add_rule_version(session, bank, book, source_name, by=by, clock=clock)
        uow.audit("bank_create", f"bank:{bank.id}", {"code": code, "rules_version": version.version})
    return bank


def load_rules(session: Session, bank: Bank, text: str, *, source_name: str, by: str,
               clock: Clock) -> RuleVersion:
    """Install a new rule version for the bank; loading the version in force again is a no-op."""
    book = _parse_rules(text, source_name)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        current = _current_version(session, bank.id)
        if current is not None and current.content_hash == book.content_hash:
            return stored_version(session, bank.id, current.version)
        version = _add_rule_version(session, bank, book, source_name, by=by, clock=clock)
        uow.audit("rules_load", f"rules:{version.version}",
                  {"hash": version.content_hash, "source": source_name})
        return version


@dataclass(frozen=True)
class RulesInForce:
    """Which of a bank's rule versions is in force: its number and its content hash."""

    version: int
    content_hash: str


def rulebook(session: Session, bank_id: int,
             current: RulesInForce | None = None) -> tuple[RulesInForce, rulefiles.RuleBook]:
    """Return the bank's rule version in force and its parsed rules.

    A caller that read which version is in force along with something else passes it.
    """
    current = current or _current_version(session, bank_id)
    book = _BOOKS.get(current.content_hash)
    if book is None:
        book = parsed_version(stored_version(session, bank_id, current.version))
    return current, book


def stored_version(session: Session, bank_id: int, version: int) -> RuleVersion:
    """Return one of the bank's stored rule versions, text and all."""
    return session.execute(select(RuleVersion).where(
        RuleVersion.bank_id == bank_id, RuleVersion.version == version)).scalar_one()


def rule_versions(session: Session, bank_id: int) -> list:
    """Return the bank's rule versions newest first: number, hash, source, when and by whom (not the text)."""
    return list(session.execute(
        select(RuleVersion.version, RuleVersion.content_hash, RuleVersion.source_name,
               RuleVersion.loaded_at, RuleVersion.loaded_by)
        .where(RuleVersion.bank_id == bank_id).order_by(RuleVersion.version.desc())).all())


_IN_FORCE = select(*(in_force.scalar_subquery() for in_force in rules_in_force(bindparam("bank"))))


def _current_version(session: Session, bank_id: int) -> RulesInForce | None:
    # Every deed asks this: under the posting lock the lock's own read has the answer, and
    # otherwise it is one small row. The text is read only by a process that has not parsed
    # that version yet.
    row = locked_rules(session, bank_id) or session.connection().execute(
        _IN_FORCE, {"bank": bank_id}).first()
    return RulesInForce(*row) if row and row[0] is not None else None


#: Parsed rule books by content hash: a version never changes, so each is parsed once.
_BOOKS: dict[str, rulefiles.RuleBook] = {}


def parsed_version(version: RuleVersion) -> rulefiles.RuleBook:
    """Return a stored rule version's parsed rules."""
    book = _BOOKS.get(version.content_hash)
    if book is None:
        if len(_BOOKS) > 1024:
            _BOOKS.clear()
        book = _BOOKS[version.content_hash] = rulefiles.parse(
            version.content, f"rules@{version.content_hash[:12]}")
    return book


def _parse_rules(text: str, source_name: str) -> rulefiles.RuleBook:
    try:
        return rulefiles.parse(text, source_name)
    except rulefiles.RuleFileInvalid as invalid:
        raise ValidationError({"rules": [str(p) for p in invalid.problems]}, _("规则文件有误")) from None


def _add_rule_version(session, bank, book, source_name, *, by, clock) -> RuleVersion:
    latest = _current_version(session, bank.id)
    version = RuleVersion(bank_id=bank.id, version=(latest.version + 1) if latest else 1,
                          content_hash=book.content_hash, content=book.source,
                          source_name=source_name[:255], loaded_at=clock.now(), loaded_by=by)
    session.add(version)
    session.flush()
    reread_lock(session, bank.id)
    return version


# --- households and residents ----------------------------------------------------------------

#: Relations to the head of household a roster may name (free text is refused, so a typo in
#: a spreadsheet is caught rather than stored).
RELATIONS = ("户主", "配偶", "子", "女", "儿媳", "女婿", "孙子", "孙女", "外孙", "外孙女", "父亲",
             "母亲", "公公", "婆婆", "岳父", "岳母", "兄弟", "姐妹", "其他")
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
                     clock: Clock, by: str | None = None) -> Household:
    """Register a household under a code the village already uses (a house number, say)."""
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
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        if session.execute(select(Household.id).where(Household.bank_id == bank.id,
                                                      Household.code == code)).first():
            raise ConflictError(_("户号 %(code)s 已存在", code=code), code="household_exists",
                                fields={"code": [_("户号 %(code)s 已存在", code=code)]})
        household = Household(bank_id=bank.id, code=code, name=name, created_at=clock.now())
        session.add(household)
        session.flush()
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
                    reading: str | None = None, by: str | None = None) -> Resident:
    """Register a resident in an existing household."""
    clean, problems = person_problems(name=name, phone=phone, relation=relation, reading=reading)
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        home = find_household(session, bank, (household or "").strip())
        if home is None or not home.active:
            problems["household"] = [_("户号 %(code)s 不存在或已停用", code=household)]
        if problems:
            raise ValidationError(problems)
        resident = Resident(bank_id=bank.id, household_id=home.id, created_at=clock.now(),
                            **clean, **names.search_keys(clean["name"], clean["reading"]))
        session.add(resident)
        session.flush()
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


# --- deeds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeedOutcome:
    """What a deed request produced: transfers posted, or deeds held for a reviewer (or, for a
    decision, the deed decided)."""

    transfers: list[Transfer]
    pending: list[PendingDeed]

    @property
    def posted(self) -> bool:
        """Whether it posted transfers (a deed that stands, or one approved)."""
        return bool(self.transfers)

    @property
    def held(self) -> bool:
        """Whether it holds deeds for a reviewer, none of them posted yet."""
        return not self.transfers and any(p.status == "pending" for p in self.pending)

    @property
    def kind(self) -> str:
        """What happened, in a word: posted, held, or (a decision) rejected."""
        return "posted" if self.posted else "held" if self.held else "rejected"


#: What a deed carries beyond the ledger's own fields (photos as evidence, say), by the name of
#: the request field that holds it. A plug-in point: zongzhi.plugins installs what the wings
#: declare, each under that name; `post_deed` calls
#: hook.attach(session, bank, rule, value, outcome) for every one registered, inside its
#: transaction and under the lock, once the deed is written (value None when the request has
#: none); a hook may refuse the deed by raising a ZongzhiError, and then nothing is written.
#: hook.describe(session, bank_id, transfer_ids, pending_ids) returns ({transfer id: {field:
#: value}}, {pending id: {field: value}}) for the API's answers.
DEED_ATTACHMENTS: dict[str, object] = {}


def post_deed(session: Session, bank: Bank, *, rule_code: str, resident_ids: list[int],
              quantity: int, occurred_on: date, memo: str | None, by: str, clock: Clock,
              idem: Idempotency | None = None, attached: dict | None = None,
              hold: bool = False) -> DeedOutcome:
    """Post one rule's deed for every resident named, or for none of them.

    A rule that needs review (or a deed sent with `hold`, which a resident's own report is)
    holds the deeds as pending instead; nothing reaches a balance until a reviewer approves.
    """
    # The lock, whether the month is sealed and who the residents are: one round trip.
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem, amounts="quantity",
                    reads=(periods.sealed_read(bank.id, occurred_on),
                           _team_read(bank, resident_ids))) as uow:
        if uow.replayed:
            return _outcome(session, uow.replayed.data)
        sealed, team = uow.reads
        version, book = rulebook(session, bank.id)
        periods.check_dated(session, bank.id, occurred_on, today=clock.today(),
                            backdate_days=book.settings.cycle.backdate_days,
                            sealed=sealed.fetchone() is not None)
        rule = _rule_for(book, rule_code, occurred_on)
        points = rulefiles.deed_points(rule, quantity)
        unit = book.settings.account_unit
        residents = check_residents(resident_ids, _team_rows(team, len(resident_ids)))
        if rule.review or hold:
            pending = [PendingDeed(bank_id=bank.id, resident_id=r.id, rule_code=rule.code,
                                   rule_version=version.version, quantity=quantity, points=points,
                                   occurred_on=occurred_on, memo=memo, submitted_by=by,
                                   submitted_at=clock.now()) for r in residents]
            _check_caps(session, bank, residents, rule, points, occurred_on)
            session.add_all(pending)
            session.flush()
            outcome = DeedOutcome([], pending)
        else:
            _check_caps(session, bank, residents, rule, points, occurred_on)
            drafts = _deed_drafts(session, unit, residents, rule, version.version, points,
                                  occurred_on, memo)
            # One entry per resident: each deed is an event of its own, reversed on its own.
            outcome = DeedOutcome(legs(uow.post(*([d] for d in drafts))), [])
        for name, hook in DEED_ATTACHMENTS.items():
            hook.attach(session, bank, rule, (attached or {}).get(name), outcome)
        uow.remember(outcome.kind, _outcome_ids(outcome))
        uow.audit("deed_pending" if outcome.pending else ("penalty" if points < 0 else "deed"),
                  f"rule:{rule.code}", {"residents": resident_ids, "quantity": quantity,
                                        "points": points, "occurred_on": occurred_on,
                                        **_outcome_ids(outcome)})
    return outcome


def list_pending(session: Session, bank: Bank, *, limit: int, after: int | None) -> list[PendingDeed]:
    """Return deeds waiting for a reviewer, oldest first."""
    stmt = select(PendingDeed).where(PendingDeed.bank_id == bank.id, PendingDeed.status == "pending")
    if after is not None:
        stmt = stmt.where(PendingDeed.id > after)
    return list(session.execute(stmt.order_by(PendingDeed.id).limit(limit)).scalars())


def decide_pending(session: Session, bank: Bank, pending_id: int, *, approve: bool,
                   reason: str | None, by: str, clock: Clock,
                   idem: Idempotency | None = None) -> DeedOutcome:
    """Approve a pending deed (posting it, caps checked again) or reject it with a reason."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem, amounts="quantity") as uow:
        if uow.replayed:
            return _outcome(session, uow.replayed.data)
        deed = get_pending(session, bank, pending_id)
        if deed.status != "pending":
            raise ConflictError(f"该记录已处理（{deed.status}）",
                                f"this deed was already decided ({deed.status})", code="already_decided")
        deed.decided_by, deed.decided_at = by, clock.now()
        if not approve:
            deed.status, deed.reason = "rejected", reason
            session.flush()
            outcome = DeedOutcome([], [deed])
        else:
            _, book = rulebook(session, bank.id)
            rule = _rule_at_version(session, bank.id, deed.rule_version, deed.rule_code,
                                    deed.occurred_on)
            unit = book.settings.account_unit
            statement, params = _team_read(bank, [deed.resident_id])
            [resident] = statement.rows(session, params)
            # Its date was typed when it was submitted, and measured against that day; a month
            # sealed since is closed to it all the same.
            periods.check_dated(session, bank.id, deed.occurred_on,
                                today=deed.submitted_at.astimezone(clock.tz).date(),
                                backdate_days=book.settings.cycle.backdate_days)
            if not resident.active:
                raise ValidationError({"resident": ["该居民已停用，不能入账"]})
            # The deed no longer reserves its own allowance once it is decided.
            deed.status = "approved"
            session.flush()
            _check_caps(session, bank, [resident], rule, deed.points, deed.occurred_on)
            drafts = _deed_drafts(session, unit, [resident], rule, deed.rule_version,
                                  deed.points, deed.occurred_on, deed.memo)
            [[transfer]] = uow.post(drafts)
            deed.transfer_id = transfer.id
            outcome = DeedOutcome([transfer], [])
        uow.remember(outcome.kind, {"transfers": [t.id for t in outcome.transfers], "pending": [deed.id]})
        uow.audit("approve" if approve else "reject", f"pending:{deed.id}",
                  {"reason": reason, "transfers": [t.id for t in outcome.transfers]})
    return outcome


def _rule_for(book, code: str, occurred_on: date):
    if not book.knows(code):
        raise ValidationError({"rule": [f"未知规则 {code}"]})
    rule = book.rule_for(code, occurred_on)
    if rule is None:
        raise ValidationError({"rule": [f"规则 {code} 在 {occurred_on.isoformat()} 不适用"]})
    return rule


def _rule_at_version(session, bank_id, version_no, code, occurred_on):
    # A pending deed is posted under the rule version it was submitted under.
    return parsed_version(stored_version(session, bank_id, version_no)).rule_for(code, occurred_on)


def _team_read(bank: Bank, ids: list[int]) -> tuple[Prepared, dict]:
    """The read of the bank's residents with these ids and what a deed of theirs needs.

    Its rows: id, bank_id, household_id, name, active; the ids of their own points account
    and of their household's (None until first opened); the ids of the bank's "issued" and
    "penalties" accounts, which deeds and penalties move points from and to.
    """
    return _team_statement(len(ids)), {"bank": bank.id, **{f"id{i}": r for i, r in enumerate(ids)}}


def _team_rows(cursor, size: int) -> dict:
    return {r.id: r for r in _team_statement(size).rows_from(cursor)}


@functools.lru_cache(maxsize=256)
def _team_statement(size: int) -> Prepared:
    # One statement per team size (a patrol is a handful of people), each compiled once.
    residents, account_id = Resident.__table__, Account.__table__.c.id

    def account(unit):
        # On the account's code, which the (bank, ledger, code) key indexes.
        return accounts.account_sql(account_id, residents.c.bank_id,
                                    accounts.points_code_sql(residents, unit))

    def system(code):
        return accounts.account_sql(account_id, residents.c.bank_id, code)

    return Prepared(
        select(residents.c.id, residents.c.bank_id, residents.c.household_id, residents.c.name,
               residents.c.active, account("person").label("person_account_id"),
               account("household").label("household_account_id"),
               system("issued").label("issued_id"), system("penalties").label("penalties_id"))
        .where(residents.c.bank_id == bindparam("bank"),
               residents.c.id.in_([bindparam(f"id{i}") for i in range(size)])))


def _check_caps(session: Session, bank: Bank, residents, rule, points: int, occurred_on: date) -> None:
    """Refuse (409 cap_exceeded) if the deed takes any of the residents over one of the rule's caps."""
    if not rule.caps:
        return
    earned = earned_under_rule(session, bank.id, [r.id for r in residents], rule, occurred_on)
    for resident in residents:
        breach = rulefiles.cap_breach(rule, points, earned[resident.id])
        if breach:
            period, remaining = breach
            zh = {"day": "当天", "week": "本周", "month": "本月", "year": "本年"}[period]
            raise CapExceeded(
                f"{resident.name}「{rule.name}」{zh}上限 {rule.caps[period]} 分，还可得 {remaining} 分，"
                f"本次 {points} 分超出上限",
                f"{resident.name}: '{rule.code}' is capped at {rule.caps[period]} points per {period}; "
                f"{remaining} remaining, this deed is worth {points}",
                fields={"residents": [f"{resident.id}: remaining {remaining} ({period})"]})


def earned_under_rule(session: Session, bank_id: int, resident_ids: list[int], rule,
                      on: date) -> dict[int, dict[str, int]]:
    """Return, per resident, the points they have under a rule in each capped period around `on`.

    Counts posted deeds that stand (not reversed) and deeds still waiting for review, which
    hold their allowance until decided.
    """
    start = min(rulefiles.period_bounds(p, on)[0] for p in rule.caps)
    end = max(rulefiles.period_bounds(p, on)[1] for p in rule.caps)
    rows = _earned(session, bank_id, resident_ids, [rule.code], start, end)
    earned = {}
    for rid in resident_ids:
        earned[rid] = {}
        for period in rule.caps:
            lo, hi = rulefiles.period_bounds(period, on)
            earned[rid][period] = sum(n for who, _, day, n in rows if who == rid and lo <= day <= hi)
    return earned


_TRANSFERS = Transfer.__table__
_REVERSALS = _TRANSFERS.alias("reversal")
_PENDING = PendingDeed.__table__
_EARNED_POSTED = (
    select(_TRANSFERS.c.doer_id, _TRANSFERS.c.rule_code, _TRANSFERS.c.occurred_on,
           func.sum(_TRANSFERS.c.amount))
    .where(_TRANSFERS.c.bank_id == bindparam("bank"),
           _TRANSFERS.c.doer_id.in_(bindparam("residents", expanding=True)),
           _TRANSFERS.c.rule_code.in_(bindparam("codes", expanding=True)),
           _TRANSFERS.c.kind == "deed",
           _TRANSFERS.c.occurred_on.between(bindparam("start"), bindparam("end")),
           ~exists().where(_REVERSALS.c.reverses_id == _TRANSFERS.c.id))
    .group_by(_TRANSFERS.c.doer_id, _TRANSFERS.c.rule_code, _TRANSFERS.c.occurred_on))
_EARNED_HELD = (
    select(_PENDING.c.resident_id, _PENDING.c.rule_code, _PENDING.c.occurred_on,
           func.sum(_PENDING.c.points))
    .where(_PENDING.c.bank_id == bindparam("bank"),
           _PENDING.c.resident_id.in_(bindparam("residents", expanding=True)),
           _PENDING.c.rule_code.in_(bindparam("codes", expanding=True)),
           _PENDING.c.status == "pending",
           _PENDING.c.occurred_on.between(bindparam("start"), bindparam("end")))
    .group_by(_PENDING.c.resident_id, _PENDING.c.rule_code, _PENDING.c.occurred_on))


def _earned(session: Session, bank_id: int, resident_ids, codes, start: date,
            end: date) -> list[tuple[int, str, date, int]]:
    # (resident, rule, day, points) for deeds that stand and deeds held for review: two
    # statements whatever the number of residents and rules.
    params = {"bank": bank_id, "residents": list(resident_ids), "codes": list(codes),
              "start": start, "end": end}
    conn = session.connection()
    return [(who, code, day, int(n)) for statement in (_EARNED_POSTED, _EARNED_HELD)
            for who, code, day, n in conn.execute(statement, params)]


def _deed_drafts(session, unit, residents, rule, version_no, points, occurred_on, memo) -> list[Draft]:
    """Draft a deed (or a penalty) for each of the team (see `_team_read`), opening accounts on first use."""
    system_code = "issued" if points > 0 else "penalties"
    drafts = []
    for resident in residents:
        system_id = (resident.issued_id if points > 0 else resident.penalties_id) or \
            accounts.system_account(session, resident.bank_id, PTS, system_code).id
        own_id = (resident.household_account_id if unit == "household" else resident.person_account_id) or \
            accounts.points_account(session, resident, unit).id
        debit_id, credit_id = (system_id, own_id) if points > 0 else (own_id, system_id)
        drafts.append(Draft(ledger=PTS, debit_id=debit_id, credit_id=credit_id, amount=abs(points),
                            kind="deed" if points > 0 else "penalty", occurred_on=occurred_on,
                            rule_code=rule.code, rule_version=version_no, doer_id=resident.id,
                            memo=memo))
    return drafts


def _outcome_ids(outcome: DeedOutcome) -> dict:
    return {"transfers": [t.id for t in outcome.transfers], "pending": [p.id for p in outcome.pending]}


def _outcome(session: Session, ids: dict) -> DeedOutcome:
    transfers = list(session.execute(select(Transfer).where(Transfer.id.in_(ids["transfers"]))
                                     .order_by(Transfer.seq)).scalars()) if ids["transfers"] else []
    pending = list(session.execute(select(PendingDeed).where(PendingDeed.id.in_(ids["pending"]))
                                   .order_by(PendingDeed.id)).scalars()) if ids["pending"] else []
    return DeedOutcome(transfers, pending)


# --- reading ----------------------------------------------------------------------------------

def account_summary(session: Session, bank: Bank, resident_id: int, *, clock: Clock) -> dict:
    """Return a resident's balance, their household's, and this month's points.

    One statement whatever the history: balances are stored, the month is read through the
    resident's (bank, doer, day) index, and the rules in force come along.
    """
    today = clock.today()
    found = _SUMMARY.rows(session, {"bank": bank.id, "resident": resident_id,
                                    "start": today.replace(day=1), "end": today})
    if not found:
        raise NotFound(_("找不到该居民"))
    [r] = found
    _version, book = rulebook(session, bank.id, RulesInForce(r.rules_version, r.rules_hash))
    unit = book.settings.account_unit
    return {
        "resident": r.id,
        "name": r.name,
        "household": r.household_code,
        "account_unit": unit,
        "account": f"household:{r.household_id}" if unit == "household" else f"resident:{r.id}",
        # Sums come back as decimals from PostgreSQL: points are integers.
        "balance": int(r.home if unit == "household" else r.own),
        "household_balance": int(r.home + r.members_own),
        "earned_this_month": int(r.earned),
        "penalties_this_month": int(r.penalties),
        "as_of": today,
    }


def _summary_statement() -> Prepared:
    residents, households, accounts_ = Resident.__table__, Household.__table__, Account.__table__
    transfers, members = Transfer.__table__, residents.alias("member")

    def balance(unit):
        return func.coalesce(accounts.account_sql(accounts_.c.balance, residents.c.bank_id,
                                                  accounts.points_code_sql(residents, unit)), 0)

    def this_month(kind):
        return (select(func.coalesce(func.sum(transfers.c.amount), 0))
                .where(transfers.c.bank_id == residents.c.bank_id, transfers.c.doer_id == residents.c.id,
                       transfers.c.ledger == PTS, transfers.c.kind == kind,
                       transfers.c.occurred_on.between(bindparam("start"), bindparam("end")))
                .scalar_subquery())

    members_own = (select(func.coalesce(func.sum(accounts_.c.balance), 0))
                   .select_from(members.join(accounts_, and_(
                       accounts_.c.bank_id == members.c.bank_id, accounts_.c.ledger == PTS,
                       accounts_.c.code == accounts.points_code_sql(members, "person"))))
                   .where(members.c.household_id == residents.c.household_id)
                   .scalar_subquery())
    return Prepared(
        select(residents.c.id, residents.c.name, residents.c.household_id,
               households.c.code.label("household_code"), balance("person").label("own"),
               balance("household").label("home"), members_own.label("members_own"),
               this_month("deed").label("earned"), this_month("penalty").label("penalties"),
               *(in_force.scalar_subquery().label(name) for in_force, name in
                 zip(rules_in_force(residents.c.bank_id), ("rules_version", "rules_hash"))))
        .join_from(residents, households, households.c.id == residents.c.household_id)
        .where(residents.c.bank_id == bindparam("bank"), residents.c.id == bindparam("resident")))


#: A balance read is one round trip, the posting path's kind of statement: see `Prepared`.
_SUMMARY = _summary_statement()


def resident_transfers(session: Session, bank: Bank, resident_id: int, *, limit: int,
                       before: int | None) -> list[Transfer]:
    """Return the transfers a resident did or received, newest first, before seq `before`."""
    resident = get_resident(session, bank, resident_id)
    stmt = select(Transfer).where(Transfer.bank_id == bank.id, Transfer.doer_id == resident.id)
    if before is not None:
        stmt = stmt.where(Transfer.seq < before)
    return list(session.execute(stmt.order_by(Transfer.seq.desc()).limit(limit)).scalars())


def get_transfer(session: Session, bank: Bank, transfer_id: int) -> Transfer:
    """Return the bank's transfer, or NotFound."""
    return bank_row(session, Transfer, transfer_id, bank.id, _("找不到该流水"))


def account_codes(session: Session, ids) -> dict[int, str]:
    """Return account codes by id, for showing transfers."""
    if not ids:
        return {}
    ids = list(set(ids))
    if len(ids) <= _CODES_PREPARED:
        # Every deed's answer asks this of a few accounts: a statement per count, compiled once.
        return dict(_codes_statement(len(ids)).execute(
            session, {f"id{i}": a for i, a in enumerate(ids)}).fetchall())
    return dict(session.execute(_CODES, {"ids": ids}).all())


_CODES = select(Account.id, Account.code).where(Account.id.in_(bindparam("ids", expanding=True)))
_CODES_PREPARED = 32


@functools.lru_cache(maxsize=_CODES_PREPARED)
def _codes_statement(size: int) -> Prepared:
    return Prepared(select(Account.__table__.c.id, Account.__table__.c.code)
                    .where(Account.__table__.c.id.in_([bindparam(f"id{i}") for i in range(size)])))


def remaining_allowances(session: Session, bank: Bank, resident_ids: list[int], capped_rules,
                         on: date) -> dict[str, int]:
    """Return, per capped rule, the least any of these residents may still earn under it on `on`.

    Two queries whatever the number of residents and rules: what stands posted and what is
    held for review, over the widest period any cap spans.
    """
    capped_rules = [r for r in capped_rules if r.caps]
    if not resident_ids or not capped_rules:
        return {}
    bounds = [rulefiles.period_bounds(p, on) for r in capped_rules for p in r.caps]
    rows = _earned(session, bank.id, resident_ids, [r.code for r in capped_rules],
                   min(b[0] for b in bounds), max(b[1] for b in bounds))
    remaining = {}
    for rule in capped_rules:
        least = None
        for rid in resident_ids:
            for period, cap in rule.caps.items():
                lo, hi = rulefiles.period_bounds(period, on)
                used = sum(n for who, code, day, n in rows
                           if who == rid and code == rule.code and lo <= day <= hi)
                left = max(cap - used, 0)
                least = left if least is None else min(least, left)
        remaining[rule.code] = least
    return remaining


def resident_history(session: Session, bank: Bank, resident: Resident, *, since: date | None = None,
                     until: date | None = None, kind: str | None = None, rule: str | None = None,
                     limit: int = 200) -> list[Transfer]:
    """Return a resident's transfers newest first, filtered by date, kind and rule."""
    stmt = select(Transfer).where(Transfer.bank_id == bank.id, Transfer.doer_id == resident.id)
    if since:
        stmt = stmt.where(Transfer.occurred_on >= since)
    if until:
        stmt = stmt.where(Transfer.occurred_on <= until)
    if kind:
        stmt = stmt.where(Transfer.kind == kind)
    if rule:
        stmt = stmt.where(Transfer.rule_code == rule)
    return list(session.execute(stmt.order_by(Transfer.seq.desc()).limit(limit)).scalars())


def reversals_of(session: Session, bank: Bank, transfer_ids) -> dict[int, Transfer]:
    """Return the reversal of each of these transfers that has one, by the original's id."""
    ids = list(set(transfer_ids))
    if not ids:
        return {}
    return {t.reverses_id: t for t in session.execute(select(Transfer).where(
        Transfer.bank_id == bank.id, Transfer.reverses_id.in_(ids))).scalars()}


def residents_by_id(session: Session, bank: Bank, ids) -> dict[int, Resident]:
    """Return the bank's residents with these ids, by id."""
    ids = [i for i in set(ids) if i is not None]
    if not ids:
        return {}
    return {r.id: r for r in session.execute(select(Resident).where(
        Resident.bank_id == bank.id, Resident.id.in_(ids))).scalars()}


def household_codes(session: Session, residents) -> dict[int, str]:
    """Return the household code of each of these residents' households, by household id."""
    ids = {r.household_id for r in residents}
    if not ids:
        return {}
    return dict(session.execute(select(Household.id, Household.code).where(Household.id.in_(ids))).all())


def get_pending(session: Session, bank: Bank, pending_id: int) -> PendingDeed:
    """Return the bank's pending deed, or NotFound if unknown or another bank's."""
    return bank_row(session, PendingDeed, pending_id, bank.id, _("找不到该待审核记录"))
