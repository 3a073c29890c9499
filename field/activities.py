"""Activities (活动): published by the council, signed up for from a card, attended by check-in,
and closed with one team deed for everyone checked in, once."""
from __future__ import annotations

import json

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cards.services import card_named
from ledger import banks as ledger_banks
from ledger import deeds as ledger_deeds
from ledger import periods
from ledger.chain import request_fingerprint
from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ConflictError, ValidationError
from ground.i18n import _
from ledger.models import Resident
from ground.tenants import Bank
from ledger.posting import Idempotency
from ledger.unit import UnitOfWork

from .models import Activity, Checkin, Signup

#: The user id of keys the system holds itself (closing an activity is one write, whoever asks).
SYSTEM_USER = 0


class AlreadyCheckedIn(ConflictError):
    code = "already_checked_in"


class NotStarted(ConflictError):
    """A check-in before the activity's day: its deed will be dated that day, not before."""

    code = "not_started"


def deed_day(starts_at, clock: Clock):
    """Return the day an activity's deed is dated: the day it starts, in the bank's time zone."""
    return starts_at.astimezone(clock.tz).date()


def create_activity(session: Session, bank: Bank, *, title: str, rule_code: str, quantity: int,
                    starts_at, ends_at, place: str | None, capacity: int | None, by: str,
                    clock: Clock, idem: Idempotency | None = None) -> Activity:
    """Publish an activity under one of the bank's rules in force on its day; a retry with the
    same key returns the activity the first one published.

    Its deed is dated on its day (`deed_day`), so a day no deed may be dated any more is refused
    as a deed dated then would be: further back than the rule file lets (422 too_old) or in a
    sealed month (409 period_sealed), naming `starts_at`. Otherwise it could never be closed.
    A day still to come is what an activity is for.
    """
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Activity, uow.replayed.data["activity"])
        _check_new(session, bank, rule_code, starts_at, ends_at, clock)
        activity = Activity(bank_id=bank.id, title=title, rule_code=rule_code, quantity=quantity,
                            starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
                            created_by=by, created_at=clock.now())
        session.add(activity)
        session.flush()
        uow.audit("activity", f"activity:{activity.id}", {"title": title, "rule": rule_code})
        uow.remember("created", {"activity": activity.id})
    return activity


def _check_new(session: Session, bank: Bank, rule_code: str, starts_at, ends_at, clock: Clock) -> None:
    _version, book = ledger_banks.rulebook(session, bank.id)
    day, today = deed_day(starts_at, clock), clock.today()
    if day <= today:
        periods.check_dated(session, bank.id, day, today=today,
                            backdate_days=book.settings.cycle.backdate_days, field="starts_at")
    problems = {}
    if ends_at <= starts_at:
        problems["ends_at"] = [_("结束时间须晚于开始时间")]
    if not book.knows(rule_code) or book.rule_for(rule_code, day) is None:
        problems["rule"] = [_("规则 %(code)s 在 %(day)s 不适用", code=rule_code, day=day.isoformat())]
    elif book.rule_for(rule_code, day).is_penalty:
        problems["rule"] = [_("活动不能使用扣分规则")]
    if problems:
        raise ValidationError(problems)


def get_activity(session: Session, bank: Bank, activity_id: int) -> Activity:
    """Return one of the bank's activities; another bank's is as unknown as none."""
    return bank_row(session, Activity, activity_id, bank.id, _("找不到该活动"))


def list_activities(session: Session, bank: Bank, *, limit: int, after: int | None,
                    open_only: bool = False, now=None) -> list[tuple[Activity, int, int]]:
    """Return activities newest first, each with its sign-ups and check-ins counted."""
    signups = (select(func.count()).where(Signup.activity_id == Activity.id)
               .correlate(Activity).scalar_subquery())
    checkins = (select(func.count()).where(Checkin.activity_id == Activity.id)
                .correlate(Activity).scalar_subquery())
    stmt = select(Activity, signups, checkins).where(Activity.bank_id == bank.id)
    if after is not None:
        stmt = stmt.where(Activity.id < after)
    if open_only:
        stmt = stmt.where(Activity.closed_at.is_(None), Activity.ends_at >= now)
    return [tuple(row) for row in session.execute(stmt.order_by(Activity.id.desc()).limit(limit))]


def find_card_for_checkin(session: Session, bank: Bank, text: str):
    """Return the live card of this bank named by a scanned token (or URL) or a typed short number.

    Unknown, revoked and another bank's cards are all refused alike (422), so nothing leaks.
    """
    card = card_named(session, bank, text)
    if card is None or card.bank_id != bank.id:
        raise ValidationError({"card": [_("不是本村的有效卡")]}, _("卡无效"))
    if card.revoked_at is not None:
        raise ValidationError({"card": [_("该卡已作废")]}, _("卡已作废"))
    if card.resident_id is None:
        raise ValidationError({"card": [_("户卡不能签到，请扫本人的卡")]}, _("请扫个人卡"))
    return card


def check_in(session: Session, bank: Bank, activity_id: int, card_text: str, *, by: str,
             clock: Clock, idem: Idempotency | None = None) -> Resident:
    """Check the card's holder in at an activity, from its day on; each person once. A retry
    with the same key returns the resident the first one checked in (not already_checked_in)."""
    resident = None
    try:
        # The bank's lock, taken by the unit, keeps a close from slipping in between.
        with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
            if uow.replayed:
                return session.get(Resident, uow.replayed.data["resident"])
            activity = get_activity(session, bank, activity_id)
            session.refresh(activity)
            day = deed_day(activity.starts_at, clock)
            if clock.today() < day:
                raise NotStarted(_("活动 %(day)s 才开始，开始当天才能签到", day=day.isoformat()))
            card = find_card_for_checkin(session, bank, card_text)
            resident = session.get(Resident, card.resident_id)
            if not resident.active:
                raise ValidationError({"card": [_("%(name)s 已停用", name=resident.name)]})
            if activity.closed_at is not None:
                raise ConflictError(_("活动已结束，不能再签到"), code="activity_closed")
            if session.execute(select(Checkin.id).where(Checkin.activity_id == activity.id,
                                                        Checkin.resident_id == resident.id)).first():
                raise AlreadyCheckedIn(_("%(name)s 已签到", name=resident.name))
            session.add(Checkin(bank_id=bank.id, activity_id=activity.id, resident_id=resident.id,
                                at=clock.now(), by=by))
            session.flush()
            uow.audit("checkin", f"activity:{activity.id}", {"resident": resident.id})
            uow.remember("checked_in", {"resident": resident.id})
    except IntegrityError:  # the same card scanned twice at once: the second lost the race
        raise AlreadyCheckedIn(_("%(name)s 已签到", name=resident.name)) from None
    return resident


def sign_up(session: Session, bank: Bank, activity_id: int, resident_id: int, *, clock: Clock) -> bool:
    """Sign a resident up for an open activity; return False if they already were."""
    activity = get_activity(session, bank, activity_id)
    if activity.closed_at is not None or activity.ends_at < clock.now():
        raise ConflictError(_("活动已结束"), code="activity_closed")
    try:
        # Under the bank's lock, so two sign-ups at once cannot both take the last place.
        with UnitOfWork(session, bank, by=None, clock=clock):
            if session.execute(select(Signup.id).where(Signup.activity_id == activity.id,
                                                       Signup.resident_id == resident_id)).first():
                return False
            taken = session.execute(select(func.count()).select_from(Signup)
                                    .where(Signup.activity_id == activity.id)).scalar()
            if activity.capacity is not None and taken >= activity.capacity:
                raise ConflictError(_("名额已满"), code="activity_full")
            session.add(Signup(bank_id=bank.id, activity_id=activity.id, resident_id=resident_id,
                               at=clock.now()))
    except IntegrityError:
        return False
    return True


def withdraw(session: Session, bank: Bank, activity_id: int, resident_id: int, *, clock: Clock) -> bool:
    """Take back a resident's sign-up before the activity starts, freeing the place; return False
    if there was none. Once it has started (or closed), the sign-up stands: 409 activity_started."""
    activity = get_activity(session, bank, activity_id)
    if activity.closed_at is not None or activity.starts_at <= clock.now():
        raise ConflictError(_("活动已开始，不能取消报名"), code="activity_started")
    with UnitOfWork(session, bank, by=None, clock=clock):
        gone = session.execute(delete(Signup).where(Signup.activity_id == activity.id,
                                                    Signup.resident_id == resident_id)).rowcount
    return bool(gone)


def signed_up(session: Session, resident_id: int, activity_ids) -> set[int]:
    """Return which of the activities the resident signed up for."""
    if not activity_ids:
        return set()
    return set(session.execute(select(Signup.activity_id).where(
        Signup.resident_id == resident_id, Signup.activity_id.in_(list(activity_ids)))).scalars())


def close_activity(session: Session, bank: Bank, activity_id: int, *, by: str, clock: Clock):
    """Post one team deed for everyone checked in (or hold it for review), once.

    The deed goes through the ledger under a key the activity owns, so two closes at once, or a
    close after a crash between the deed and the mark, answer the first deed and write nothing.
    """
    activity = get_activity(session, bank, activity_id)
    residents = list(session.execute(select(Checkin.resident_id).where(
        Checkin.activity_id == activity.id).order_by(Checkin.id)).scalars())
    if not residents:
        raise ValidationError({"checkins": [_("还没有人签到，不能结束活动")]})
    # The key and its fingerprint name the activity alone: a later close replays the first.
    body = {"activity": activity.id}
    idem = Idempotency(f"activity:{activity.id}:close",
                       request_fingerprint("POST", f"activity:{activity.id}:close", body),
                       user_id=SYSTEM_USER)
    outcome = ledger_deeds.post_deed(
        session, bank, rule_code=activity.rule_code, resident_ids=residents,
        quantity=activity.quantity, occurred_on=deed_day(activity.starts_at, clock),
        memo=activity.title, by=by, clock=clock, idem=idem)
    with UnitOfWork(session, bank, by=by, clock=clock):
        current = session.get(Activity, activity.id)
        session.refresh(current)
        if current.outcome is None:
            current.closed_at, current.closed_by = clock.now(), by
            current.outcome = json.dumps({"status": outcome.kind,
                                          "transfers": [t.id for t in outcome.transfers],
                                          "pending": [p.id for p in outcome.pending]})
    return outcome
