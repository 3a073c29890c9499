"""The ledger's services: banks and their rules, households and residents, deeds and reversals.

Each service takes the session and what it needs, does its checks under the bank's posting
lock, and owns the transaction: it commits on success and rolls everything back on error.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from pypinyin import Style, lazy_pinyin
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

import rules as rulefiles

from . import accounts, audit, idempotency
from .clock import Clock
from .db import transaction
from .errors import (AlreadyReversed, CapExceeded, ConflictError, NotFound, ValidationError)
from .models import (PTS, Account, Bank, Household, PendingDeed, Resident, RuleVersion, Transfer)
from .posting import Draft, Idempotency, lock_chain, post

BANK_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


# --- banks and rules -------------------------------------------------------------------------

def get_bank(session: Session, code: str) -> Bank:
    """Return the bank with this code, or raise NotFound."""
    bank = session.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
    if bank is None:
        raise NotFound("银行", "bank")
    return bank


def create_bank(session: Session, code: str, name: str, *, rules_text: str, source_name: str,
                by: str, clock: Clock) -> Bank:
    """Open a bank with its system accounts and its first rule version."""
    problems = {}
    if not BANK_CODE.match(code or ""):
        problems["code"] = ["只能包含字母、数字、-、_，最长 40 个字符"]
    if not (name or "").strip() or len(name) > 100:
        problems["name"] = ["名称不能为空，最长 100 个字符"]
    if problems:
        raise ValidationError(problems)
    book = _parse_rules(rules_text, source_name)
    with transaction(session):
        if session.execute(select(Bank.id).where(Bank.code == code)).first():
            raise ConflictError(f"银行代码 {code} 已存在", f"bank code {code} already exists",
                                code="bank_exists")
        bank = Bank(code=code, name=name.strip(), created_at=clock.now())
        session.add(bank)
        session.flush()
        accounts.open_system_accounts(session, bank.id)
        version = _add_rule_version(session, bank, book, source_name, by=by, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="bank_create", subject=f"bank:{bank.id}",
                     detail={"code": code, "rules_version": version.version}, clock=clock)
    return bank


def load_rules(session: Session, bank: Bank, text: str, *, source_name: str, by: str,
               clock: Clock) -> RuleVersion:
    """Install a new rule version for the bank; loading the version in force again is a no-op."""
    book = _parse_rules(text, source_name)
    with transaction(session):
        lock_chain(session, bank.id)
        current = _current_version(session, bank.id)
        if current is not None and current.content_hash == book.content_hash:
            return current
        version = _add_rule_version(session, bank, book, source_name, by=by, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="rules_load",
                     subject=f"rules:{version.version}",
                     detail={"hash": version.content_hash, "source": source_name}, clock=clock)
        return version


def rulebook(session: Session, bank_id: int) -> tuple[RuleVersion, rulefiles.RuleBook]:
    """Return the bank's rule version in force and its parsed rules."""
    version = _current_version(session, bank_id)
    return version, _parsed(version.content_hash, version.content)


def _current_version(session: Session, bank_id: int) -> RuleVersion | None:
    return session.execute(select(RuleVersion).where(RuleVersion.bank_id == bank_id)
                           .order_by(RuleVersion.version.desc()).limit(1)).scalar_one_or_none()


@functools.lru_cache(maxsize=256)
def _parsed(content_hash: str, content: str) -> rulefiles.RuleBook:
    return rulefiles.parse(content, f"rules@{content_hash[:12]}")


def _parse_rules(text: str, source_name: str) -> rulefiles.RuleBook:
    try:
        return rulefiles.parse(text, source_name)
    except rulefiles.RuleFileInvalid as invalid:
        raise ValidationError({"rules": [str(p) for p in invalid.problems]},
                              "规则文件有误", "the rule file is not valid") from None


def _add_rule_version(session, bank, book, source_name, *, by, clock) -> RuleVersion:
    latest = _current_version(session, bank.id)
    version = RuleVersion(bank_id=bank.id, version=(latest.version + 1) if latest else 1,
                          content_hash=book.content_hash, content=book.source,
                          source_name=source_name[:255], loaded_at=clock.now(), loaded_by=by)
    session.add(version)
    session.flush()
    return version


# --- households and residents ----------------------------------------------------------------

def create_household(session: Session, bank: Bank, *, code: str, name: str | None,
                     clock: Clock) -> Household:
    """Register a household under a code the village already uses (a house number, say)."""
    with transaction(session):
        if session.execute(select(Household.id).where(Household.bank_id == bank.id,
                                                      Household.code == code)).first():
            raise ConflictError(f"户号 {code} 已存在", f"household {code} already exists",
                                code="household_exists")
        household = Household(bank_id=bank.id, code=code, name=name or "", created_at=clock.now())
        session.add(household)
    return household


def create_resident(session: Session, bank: Bank, *, name: str, household: str,
                    phone: str | None, clock: Clock) -> Resident:
    """Register a resident in an existing household."""
    with transaction(session):
        home = find_household(session, bank, household)
        if home is None or not home.active:
            raise ValidationError({"household": [f"户号 {household} 不存在或已停用"]})
        resident = Resident(bank_id=bank.id, household_id=home.id, name=name, phone=phone,
                            created_at=clock.now(), **search_keys(name))
        session.add(resident)
    return resident


def find_household(session: Session, bank: Bank, code: str) -> Household | None:
    """Return the bank's household with this code, if any."""
    return session.execute(select(Household).where(Household.bank_id == bank.id,
                                                   Household.code == code)).scalar_one_or_none()


def search_keys(name: str) -> dict[str, str]:
    """Return the pinyin search keys of a name: full pinyin and initials, lower case."""
    syllables = lazy_pinyin(name, errors="default")
    initials = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")
    return {"pinyin": "".join(syllables).lower()[:300], "initials": "".join(initials).lower()[:60]}


def get_resident(session: Session, bank: Bank, resident_id: int) -> Resident:
    """Return the bank's resident, or NotFound if unknown or another bank's."""
    resident = session.get(Resident, resident_id)
    if resident is None or resident.bank_id != bank.id:
        raise NotFound("居民", "resident")
    return resident


def search_residents(session: Session, bank: Bank, q: str | None, *, limit: int,
                     after: int | None) -> list[Resident]:
    """Find residents by name, full pinyin or initials; ordered by id, from `after` on."""
    stmt = select(Resident).where(Resident.bank_id == bank.id)
    if q:
        needle = "%" + re.sub(r"([\\%_])", r"\\\1", q.strip().lower()) + "%"
        stmt = stmt.where(or_(Resident.name.like(needle, escape="\\"),
                              Resident.pinyin.like(needle.replace(" ", ""), escape="\\"),
                              Resident.initials.like(needle, escape="\\")))
    if after is not None:
        stmt = stmt.where(Resident.id > after)
    return list(session.execute(stmt.order_by(Resident.id).limit(limit)).scalars())


# --- deeds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeedOutcome:
    """What a deed request produced: posted transfers (201) or deeds held for review (202)."""

    status: int
    transfers: list[Transfer]
    pending: list[PendingDeed]


def post_deed(session: Session, bank: Bank, *, rule_code: str, resident_ids: list[int],
              quantity: int, occurred_on: date, memo: str | None, by: str, clock: Clock,
              idem: Idempotency | None = None) -> DeedOutcome:
    """Post one rule's deed for every resident named, or for none of them.

    A rule that needs review holds the deeds as pending instead; nothing reaches a balance
    until a reviewer approves.
    """
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return _outcome(session, *replayed)
        version, book = rulebook(session, bank.id)
        rule = _rule_for(book, rule_code, occurred_on, clock)
        residents = _active_residents(session, bank, resident_ids)
        points = rulefiles.deed_points(rule, quantity)
        if rule.review:
            pending = [PendingDeed(bank_id=bank.id, resident_id=r.id, rule_code=rule.code,
                                   rule_version=version.version, quantity=quantity, points=points,
                                   occurred_on=occurred_on, memo=memo, submitted_by=by,
                                   submitted_at=clock.now()) for r in residents]
            for r in residents:
                _check_caps(session, bank, r, rule, points, occurred_on)
            session.add_all(pending)
            session.flush()
            outcome = DeedOutcome(202, [], pending)
        else:
            for r in residents:
                _check_caps(session, bank, r, rule, points, occurred_on)
            drafts = [_deed_draft(session, bank, book, r, rule, version.version, points,
                                  occurred_on, memo) for r in residents]
            outcome = DeedOutcome(201, post(session, bank.id, drafts, by=by, clock=clock,
                                            idempotency=idem), [])
        idempotency.remember(session, bank.id, idem, outcome.status, _outcome_ids(outcome),
                             clock=clock)
        audit.record(session, bank_id=bank.id, actor=by,
                     action="deed_pending" if outcome.pending else (
                         "penalty" if points < 0 else "deed"),
                     subject=f"rule:{rule.code}",
                     detail={"residents": resident_ids, "quantity": quantity, "points": points,
                             "occurred_on": occurred_on, **_outcome_ids(outcome)}, clock=clock)
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
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return _outcome(session, *replayed)
        deed = session.get(PendingDeed, pending_id)
        if deed is None or deed.bank_id != bank.id:
            raise NotFound("待审核记录", "pending deed")
        if deed.status != "pending":
            raise ConflictError(f"该记录已处理（{deed.status}）",
                                f"this deed was already decided ({deed.status})", code="already_decided")
        deed.decided_by, deed.decided_at = by, clock.now()
        if not approve:
            deed.status, deed.reason = "rejected", reason
            session.flush()
            outcome = DeedOutcome(200, [], [deed])
        else:
            _, book = rulebook(session, bank.id)
            rule = _rule_at_version(session, bank.id, deed.rule_version, deed.rule_code,
                                    deed.occurred_on)
            resident = session.get(Resident, deed.resident_id)
            if not resident.active:
                raise ValidationError({"resident": ["该居民已停用，不能入账"]})
            # The deed no longer reserves its own allowance once it is decided.
            deed.status = "approved"
            session.flush()
            _check_caps(session, bank, resident, rule, deed.points, deed.occurred_on)
            draft = _deed_draft(session, bank, book, resident, rule, deed.rule_version,
                                deed.points, deed.occurred_on, deed.memo)
            [transfer] = post(session, bank.id, [draft], by=by, clock=clock, idempotency=idem)
            deed.transfer_id = transfer.id
            outcome = DeedOutcome(201, [transfer], [])
        idempotency.remember(session, bank.id, idem, outcome.status, {
            "transfers": [t.id for t in outcome.transfers], "pending": [deed.id]}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="approve" if approve else "reject",
                     subject=f"pending:{deed.id}",
                     detail={"reason": reason, "transfers": [t.id for t in outcome.transfers]},
                     clock=clock)
    return outcome


def _rule_for(book, code: str, occurred_on: date, clock: Clock):
    if occurred_on > clock.today():
        raise ValidationError({"occurred_on": ["日期不能晚于今天"]})
    if not book.knows(code):
        raise ValidationError({"rule": [f"未知规则 {code}"]})
    rule = book.rule_for(code, occurred_on)
    if rule is None:
        raise ValidationError({"rule": [f"规则 {code} 在 {occurred_on.isoformat()} 不适用"]})
    return rule


def _rule_at_version(session, bank_id, version_no, code, occurred_on):
    # A pending deed is posted under the rule version it was submitted under.
    version = session.execute(select(RuleVersion).where(
        RuleVersion.bank_id == bank_id, RuleVersion.version == version_no)).scalar_one()
    return _parsed(version.content_hash, version.content).rule_for(code, occurred_on)


def _active_residents(session: Session, bank: Bank, ids: list[int]) -> list[Resident]:
    if len(set(ids)) != len(ids):
        raise ValidationError({"residents": ["同一居民不能重复出现"]})
    found = {r.id: r for r in session.execute(
        select(Resident).where(Resident.bank_id == bank.id, Resident.id.in_(ids))).scalars()}
    # Another bank's resident answers exactly like an unknown one, so nothing leaks.
    unknown = [i for i in ids if i not in found]
    inactive = [i for i in ids if i in found and not found[i].active]
    problems = [f"居民 {i} 不存在" for i in unknown] + [f"居民 {i} 已停用" for i in inactive]
    if problems:
        raise ValidationError({"residents": problems})
    return [found[i] for i in ids]


def _check_caps(session: Session, bank: Bank, resident: Resident, rule, points: int,
                occurred_on: date) -> None:
    if not rule.caps:
        return
    earned = earned_under_rule(session, bank.id, resident.id, rule, occurred_on)
    breach = rulefiles.cap_breach(rule, points, earned)
    if breach:
        period, remaining = breach
        zh = {"day": "当天", "week": "本周", "month": "本月", "year": "本年"}[period]
        raise CapExceeded(
            f"{resident.name}「{rule.name}」{zh}上限 {rule.caps[period]} 分，还可得 {remaining} 分，"
            f"本次 {points} 分超出上限",
            f"{resident.name}: '{rule.code}' is capped at {rule.caps[period]} points per {period}; "
            f"{remaining} remaining, this deed is worth {points}",
            fields={"residents": [f"{resident.id}: remaining {remaining} ({period})"]})


def earned_under_rule(session: Session, bank_id: int, resident_id: int, rule,
                      on: date) -> dict[str, int]:
    """Return the points a resident has under a rule in each capped period around `on`.

    Counts posted deeds that stand (not reversed) and deeds still waiting for review, which
    hold their allowance until decided.
    """
    start = min(rulefiles.period_bounds(p, on)[0] for p in rule.caps)
    end = max(rulefiles.period_bounds(p, on)[1] for p in rule.caps)
    reversal = aliased(Transfer)
    posted = session.execute(select(Transfer.occurred_on, Transfer.amount).where(
        Transfer.bank_id == bank_id, Transfer.doer_id == resident_id,
        Transfer.rule_code == rule.code, Transfer.kind == "deed",
        Transfer.occurred_on.between(start, end),
        ~exists().where(reversal.reverses_id == Transfer.id))).all()
    held = session.execute(select(PendingDeed.occurred_on, PendingDeed.points).where(
        PendingDeed.bank_id == bank_id, PendingDeed.resident_id == resident_id,
        PendingDeed.rule_code == rule.code, PendingDeed.status == "pending",
        PendingDeed.occurred_on.between(start, end))).all()
    earned = {}
    for period in rule.caps:
        lo, hi = rulefiles.period_bounds(period, on)
        earned[period] = sum(amount for day, amount in [*posted, *held] if lo <= day <= hi)
    return earned


def _deed_draft(session, bank, book, resident, rule, version_no, points, occurred_on, memo) -> Draft:
    account = accounts.points_account(session, resident, book.settings.account_unit)
    if points > 0:
        source = accounts.system_account(session, bank.id, PTS, "issued")
        debit_id, credit_id, kind = source.id, account.id, "deed"
    else:
        sink = accounts.system_account(session, bank.id, PTS, "penalties")
        debit_id, credit_id, kind = account.id, sink.id, "penalty"
    return Draft(ledger=PTS, debit_id=debit_id, credit_id=credit_id, amount=abs(points), kind=kind,
                 occurred_on=occurred_on, rule_code=rule.code, rule_version=version_no,
                 doer_id=resident.id, memo=memo)


def _outcome_ids(outcome: DeedOutcome) -> dict:
    return {"transfers": [t.id for t in outcome.transfers], "pending": [p.id for p in outcome.pending]}


def _outcome(session: Session, status: int, ids: dict) -> DeedOutcome:
    transfers = list(session.execute(select(Transfer).where(Transfer.id.in_(ids["transfers"]))
                                     .order_by(Transfer.seq)).scalars()) if ids["transfers"] else []
    pending = list(session.execute(select(PendingDeed).where(PendingDeed.id.in_(ids["pending"]))
                                   .order_by(PendingDeed.id)).scalars()) if ids["pending"] else []
    return DeedOutcome(status, transfers, pending)


# --- reversals --------------------------------------------------------------------------------

def reverse_transfer(session: Session, bank: Bank, transfer_id: int, *, reason: str, by: str,
                     clock: Clock, idem: Idempotency | None = None) -> Transfer:
    """Post the mirror of a transfer, naming it and the reason; a transfer is reversed once."""
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return _outcome(session, *replayed).transfers[0]
        original = session.get(Transfer, transfer_id)
        if original is None or original.bank_id != bank.id:
            raise NotFound("流水", "transfer")
        if original.kind == "reversal":
            raise ConflictError("冲正记录不能再被冲正，请重新登记", "a reversal cannot itself be reversed",
                                code="cannot_reverse_reversal")
        if session.execute(select(Transfer.id).where(Transfer.reverses_id == original.id)).first():
            raise AlreadyReversed(f"流水 {original.seq} 已被冲正", f"transfer {original.seq} was already reversed")
        # The reversal is dated today: a closed month stays closed, the correction lands now.
        draft = Draft(ledger=original.ledger, debit_id=original.credit_id,
                      credit_id=original.debit_id, amount=original.amount, kind="reversal",
                      occurred_on=clock.today(), rule_code=original.rule_code,
                      rule_version=original.rule_version, doer_id=original.doer_id, memo=reason,
                      reverses_id=original.id)
        [reversal] = post(session, bank.id, [draft], by=by, clock=clock, idempotency=idem)
        idempotency.remember(session, bank.id, idem, 201, {"transfers": [reversal.id], "pending": []},
                             clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="reversal",
                     subject=f"transfer:{original.id}", detail={"reason": reason, "reversal": reversal.id},
                     clock=clock)
    return reversal


# --- reading ----------------------------------------------------------------------------------

def account_summary(session: Session, bank: Bank, resident_id: int, *, clock: Clock) -> dict:
    """Return a resident's balance, their household's, and this month's points."""
    resident = get_resident(session, bank, resident_id)
    _, book = rulebook(session, bank.id)
    household = session.get(Household, resident.household_id)
    own = _balance_of(session, bank.id, f"resident:{resident.id}")
    home = _balance_of(session, bank.id, f"household:{household.id}")
    members = select(Resident.id).where(Resident.household_id == household.id)
    members_own = session.execute(select(func.coalesce(func.sum(Account.balance), 0)).where(
        Account.bank_id == bank.id, Account.ledger == PTS, Account.resident_id.in_(members))).scalar()
    unit = book.settings.account_unit
    today = clock.today()
    month_start = today.replace(day=1)
    month = dict(session.execute(select(Transfer.kind, func.sum(Transfer.amount)).where(
        Transfer.bank_id == bank.id, Transfer.doer_id == resident.id, Transfer.ledger == PTS,
        Transfer.occurred_on.between(month_start, today)).group_by(Transfer.kind)).all())
    return {
        "resident": resident.id,
        "name": resident.name,
        "household": household.code,
        "account_unit": unit,
        "account": f"household:{household.id}" if unit == "household" else f"resident:{resident.id}",
        "balance": home if unit == "household" else own,
        "household_balance": home + members_own,
        "earned_this_month": int(month.get("deed", 0)),
        "penalties_this_month": int(month.get("penalty", 0)),
        "as_of": today,
    }


def _balance_of(session: Session, bank_id: int, code: str) -> int:
    return session.execute(select(Account.balance).where(
        Account.bank_id == bank_id, Account.ledger == PTS, Account.code == code)).scalar() or 0


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
    transfer = session.get(Transfer, transfer_id)
    if transfer is None or transfer.bank_id != bank.id:
        raise NotFound("流水", "transfer")
    return transfer


def account_codes(session: Session, ids) -> dict[int, str]:
    """Return account codes by id, for showing transfers."""
    if not ids:
        return {}
    return dict(session.execute(select(Account.id, Account.code).where(Account.id.in_(set(ids)))).all())
