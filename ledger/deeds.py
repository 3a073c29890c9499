"""Deeds: posting a rule's deed for residents, holding it for review and deciding it, and caps.

Each write is one unit of work (ledger.unit.UnitOfWork): its checks under the bank's posting
lock, the idempotency key replayed or its outcome remembered, the audit entry, and the commit,
or nothing at all on an error. Reversals are ledger.reversals.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

import rules as rulefiles
from ground.clock import Clock
from ground.db import bank_row
from ground.errors import CapExceeded, ConflictError, ValidationError
from ground.i18n import _, in_language
from ground.store import Prepared
from ground.tenants import Bank

from . import accounts, periods
from .banks import parsed_version, rulebook, stored_version
from .models import PTS, Account, PendingDeed, Resident, Transfer
from .posting import Draft, Idempotency, PostedEntry, legs
from .residents import check_residents
from .unit import UnitOfWork

@dataclass(frozen=True)
class DeedOutcome:
    """What a deed request produced: transfers posted, or deeds held for a reviewer (or, for a
    decision, the deed decided)."""

    transfers: list[Transfer]
    pending: list[PendingDeed]
    #: For a deed just written, what the answer would otherwise read back: the codes of the
    #: accounts its transfers move points between, by id, and what each deed attachment said it
    #: attached, by the attachment's name (see DEED_ATTACHMENTS). None when not known (a replayed
    #: or decided deed), and then the answer reads them.
    codes: dict[int, str] | None = None
    described: dict[str, tuple[dict, dict]] | None = None

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
#: value}}, {pending id: {field: value}}) for the API's answers. `attach` returns what `describe`
#: would return for the outcome's transfers and deeds once committed, when what it wrote alone
#: decides that, so the answer to a deed just posted reads nothing back; or None, and the answer
#: asks `describe`.
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
        residents = check_residents(resident_ids, _team_rows(team, len(resident_ids)))
        outcome, _entries = deed_in(uow, rule_code=rule_code, residents=residents,
                                    quantity=quantity, occurred_on=occurred_on, memo=memo,
                                    attached=attached, hold=hold,
                                    sealed=sealed.fetchone() is not None)
        uow.remember(outcome.kind, _outcome_ids(outcome))
    return outcome


def deed_in(uow: UnitOfWork, *, rule_code: str, residents, quantity: int, occurred_on: date,
            memo: str | None, attached: dict | None = None, hold: bool = False,
            sealed: bool | None = None) -> tuple[DeedOutcome, list[PostedEntry]]:
    """Write one rule's deed for each of `residents`, inside a unit of work already open: what
    `post_deed` does once it holds the lock, for a wing whose own event includes a deed (a
    donor's points for a wish, a volunteer's for a project).

    The checks are the deed's own: the day may be dated (`sealed`, when the caller read it
    already), the rule applies on it, no cap is passed, and the deed attachments may refuse it.
    A rule that needs review (or `hold`) holds the deeds as pending. One entry per resident;
    the audit entry is noted on the unit. Returns the outcome and the entries posted.
    """
    session, bank, clock = uow.session, uow.bank, uow.clock
    version, book = rulebook(session, bank.id)
    periods.check_dated(session, bank.id, occurred_on, today=clock.today(),
                        backdate_days=book.settings.cycle.backdate_days, sealed=sealed)
    rule = _rule_for(book, rule_code, occurred_on)
    points = rulefiles.deed_points(rule, quantity)
    _check_caps(session, bank, residents, rule, points, occurred_on)
    entries: list[PostedEntry] = []
    codes = None
    if rule.review or hold:
        pending = [PendingDeed(bank_id=bank.id, resident_id=r.id, rule_code=rule.code,
                               rule_version=version.version, quantity=quantity, points=points,
                               occurred_on=occurred_on, memo=memo, submitted_by=uow.by,
                               submitted_at=clock.now()) for r in residents]
        session.add_all(pending)
        session.flush()
        outcome = DeedOutcome([], pending)
    else:
        drafts, codes = _deed_drafts(session, book.settings.account_unit, residents, rule,
                                     version.version, points, occurred_on, memo)
        # One entry per resident: each deed is an event of its own, reversed on its own.
        entries = uow.post(*([d] for d in drafts))
        outcome = DeedOutcome(legs(entries), [])
    described = {}
    for name, hook in DEED_ATTACHMENTS.items():
        said = hook.attach(session, bank, rule, (attached or {}).get(name), outcome)
        if said is not None:
            described[name] = said
    outcome = dataclasses.replace(outcome, codes=codes, described=described)
    uow.audit("deed_pending" if outcome.pending else ("penalty" if points < 0 else "deed"),
              f"rule:{rule.code}", {"residents": [r.id for r in residents], "quantity": quantity,
                                    "points": points, "occurred_on": occurred_on,
                                    **_outcome_ids(outcome)})
    return outcome, entries


def list_pending(session: Session, bank: Bank, *, limit: int, after: int | None) -> list[PendingDeed]:
    """Return deeds waiting for a reviewer, oldest first."""
    stmt = select(PendingDeed).where(PendingDeed.bank_id == bank.id, PendingDeed.status == "pending")
    if after is not None:
        stmt = stmt.where(PendingDeed.id > after)
    return list(session.execute(stmt.order_by(PendingDeed.id).limit(limit)).scalars())


def get_pending(session: Session, bank: Bank, pending_id: int) -> PendingDeed:
    """Return the bank's pending deed, or NotFound if unknown or another bank's."""
    return bank_row(session, PendingDeed, pending_id, bank.id, _("找不到该待审核记录"))


def decide_pending(session: Session, bank: Bank, pending_id: int, *, approve: bool,
                   reason: str | None, by: str, clock: Clock,
                   idem: Idempotency | None = None) -> DeedOutcome:
    """Approve a pending deed (posting it, caps checked again) or reject it with a reason."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem, amounts="quantity") as uow:
        if uow.replayed:
            return _outcome(session, uow.replayed.data)
        deed = get_pending(session, bank, pending_id)
        if deed.status != "pending":
            raise ConflictError(_("该记录已处理（%(status)s）", status=deed.status), code="already_decided")
        deed.decided_by, deed.decided_at = by, clock.now()
        if not approve:
            deed.status, deed.reason = "rejected", reason
            session.flush()
            outcome = DeedOutcome([], [deed])
        else:
            _version, book = rulebook(session, bank.id)
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
                raise ValidationError({"resident": [_("该居民已停用，不能入账")]})
            # The deed no longer reserves its own allowance once it is decided.
            deed.status = "approved"
            session.flush()
            _check_caps(session, bank, [resident], rule, deed.points, deed.occurred_on)
            drafts, codes = _deed_drafts(session, unit, [resident], rule, deed.rule_version,
                                         deed.points, deed.occurred_on, deed.memo)
            [[transfer]] = uow.post(drafts)
            deed.transfer_id = transfer.id
            # What it was submitted with (photos) is read back by the answer: described is None.
            outcome = DeedOutcome([transfer], [], codes=codes)
        uow.remember(outcome.kind, {"transfers": [t.id for t in outcome.transfers], "pending": [deed.id]})
        uow.audit("approve" if approve else "reject", f"pending:{deed.id}",
                  {"reason": reason, "transfers": [t.id for t in outcome.transfers]})
    return outcome


def _rule_for(book, code: str, occurred_on: date):
    if not book.knows(code):
        raise ValidationError({"rule": [_("未知规则 %(code)s", code=code)]})
    rule = book.rule_for(code, occurred_on)
    if rule is None:
        raise ValidationError({"rule": [_("规则 %(code)s 在 %(day)s 不适用", code=code, day=occurred_on.isoformat())]})
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
            raise CapExceeded(
                _("%(name)s「%(rule)s」%(period)s上限 %(cap)s 分，还可得 %(remaining)s 分，本次 %(points)s 分超出上限",
                  name=resident.name, rule=_in_words(rule.name, rule.code),
                  period=_in_words(_PERIOD_WORDS[period], period), cap=rule.caps[period],
                  remaining=remaining, points=points),
                fields={"residents": [_("%(id)s：%(period)s还可得 %(remaining)s 分", id=resident.id,
                                        period=_in_words(_PERIOD_WORDS[period], period),
                                        remaining=remaining)]})


#: A cap's period as the Chinese refusal names it (the English names it as the rule file does).
_PERIOD_WORDS = {"day": "当天", "week": "本周", "month": "本月", "year": "本年"}


def _in_words(zh: str, en: str):
    # The rule's name and the period are written differently in each language's refusal.
    return in_language(lambda lang: en if lang == "en" else zh)


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


def _deed_drafts(session, unit, residents, rule, version_no, points, occurred_on,
                 memo) -> tuple[list[Draft], dict[int, str]]:
    """Draft a deed (or a penalty) for each of the team (see `_team_read`), opening accounts on
    first use; return the drafts and the codes of the accounts they name, by id."""
    system_code = "issued" if points > 0 else "penalties"
    drafts, codes = [], {}
    for resident in residents:
        known = getattr(resident, "issued_id" if points > 0 else "penalties_id", None)
        system_id = known or accounts.system_account(session, resident.bank_id, PTS, system_code).id
        own_id = getattr(resident, "household_account_id" if unit == "household"
                         else "person_account_id", None) or accounts.points_account(session, resident, unit).id
        # The team read and `points_account` find both accounts by these codes.
        codes[system_id], codes[own_id] = system_code, accounts.points_code(resident, unit)
        debit_id, credit_id = (system_id, own_id) if points > 0 else (own_id, system_id)
        drafts.append(Draft(ledger=PTS, debit_id=debit_id, credit_id=credit_id, amount=abs(points),
                            kind="deed" if points > 0 else "penalty", occurred_on=occurred_on,
                            rule_code=rule.code, rule_version=version_no, doer_id=resident.id,
                            memo=memo))
    return drafts, codes


def _outcome_ids(outcome: DeedOutcome) -> dict:
    return {"transfers": [t.id for t in outcome.transfers], "pending": [p.id for p in outcome.pending]}


def _outcome(session: Session, ids: dict) -> DeedOutcome:
    transfers = list(session.execute(select(Transfer).where(Transfer.id.in_(ids["transfers"]))
                                     .order_by(Transfer.seq)).scalars()) if ids["transfers"] else []
    pending = list(session.execute(select(PendingDeed).where(PendingDeed.id.in_(ids["pending"]))
                                   .order_by(PendingDeed.id)).scalars()) if ids["pending"] else []
    return DeedOutcome(transfers, pending)
