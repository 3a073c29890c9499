"""Photos and what they are evidence of, deeds sent in batches, and residents' own reports."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.orm import Session

from ledger import deeds as ledger_deeds
from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ValidationError, ZongzhiError
from ground.i18n import _
from ledger.models import PendingDeed
from ledger.posting import Idempotency
from ledger.unit import UnitOfWork
from ground.tenants import Bank

from . import photos
from .models import Evidence, Photo, Report

#: A resident's own reports a card may send in one day (the bank's day).
REPORTS_PER_DAY = 5


class AlreadyReported(Exception):
    """The same report from the same card is waiting for a reviewer already: nothing new is held."""

    def __init__(self, pending_id: int):
        super().__init__(pending_id)
        self.pending_id = pending_id


@dataclass(frozen=True)
class Reported:
    """What sending a report held: the deeds waiting for review, and whether they are new (a
    report sent twice, by a double tap or the Back button, holds nothing the second time)."""

    pending: list
    new: bool


class TooManyReports(ZongzhiError):
    status = 429
    code = "too_many_reports"

    def __init__(self):
        super().__init__(_("每张卡每天最多申报 %(n)s 次，请明天再来", n=REPORTS_PER_DAY))


# --- photos --------------------------------------------------------------------------------------

def store_photo(session: Session, bank: Bank, prepared: photos.Prepared, *, by: str,
                clock: Clock, idem: Idempotency | None = None) -> Photo:
    """Keep a prepared photo in the bank's database; a retry with the same key returns the first."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Photo, uow.replayed.data["photo"])
        photo = _new_photo(session, bank, prepared, by=by, clock=clock)
        uow.remember("stored", {"photo": photo.id})
        uow.audit("photo", f"photo:{photo.id}",
                  {"sha256": photo.sha256, "width": photo.width, "height": photo.height})
    return photo


def _new_photo(session, bank, prepared, *, by, clock) -> Photo:
    photo = Photo(bank_id=bank.id, sha256=prepared.sha256, width=prepared.width,
                  height=prepared.height, size=len(prepared.data), data=prepared.data,
                  uploaded_by=by, uploaded_at=clock.now())
    session.add(photo)
    session.flush()
    return photo


def get_photo(session: Session, bank: Bank, photo_id: int) -> Photo:
    """Return one of the bank's photos; another bank's is as unknown as none."""
    return bank_row(session, Photo, photo_id, bank.id, _("找不到该照片"))


# --- evidence, attached to deeds (a plug-in of ledger.deeds.DEED_ATTACHMENTS) ----------------

#: The evidence of a resident's report: its photos, which the report's attachment keeps.
WITH_REPORT = "with-report"


class EvidenceAttachment:
    """A deed's `evidence`: up to four of the bank's photos, required where the rule says so."""

    @staticmethod
    def attach(session: Session, bank: Bank, rule, value, outcome) -> tuple[dict, dict] | None:
        if value == WITH_REPORT:
            return None  # the report's photos, which its own attachment keeps: describe reads them
        ids = list(value or [])
        if not ids and rule.evidence == "required":
            raise ValidationError({"evidence": [_("规则「%(rule)s」须附照片作为凭证", rule=rule.name)]},
                                  _("须附照片"))
        if not ids:
            return _evidence(outcome, ids)
        if len(set(ids)) != len(ids):
            raise ValidationError({"evidence": [_("同一张照片不能重复出现")]})
        found = set(session.execute(select(Photo.id).where(
            Photo.bank_id == bank.id, Photo.id.in_(ids))).scalars())
        unknown = [i for i in ids if i not in found]
        if unknown:
            # Another bank's photo answers exactly like an unknown one.
            raise ValidationError({"evidence": [_("照片 %(id)s 不存在", id=i) for i in unknown]})
        session.add_all(
            [Evidence(bank_id=bank.id, photo_id=p, transfer_id=t.id, position=n)
             for t in outcome.transfers for n, p in enumerate(ids)]
            + [Evidence(bank_id=bank.id, photo_id=p, pending_id=d.id, position=n)
               for d in outcome.pending for n, p in enumerate(ids)])
        session.flush()
        return _evidence(outcome, ids)

    @staticmethod
    def describe(session: Session, bank_id: int, transfer_ids, pending_ids) -> tuple[dict, dict]:
        by_transfer = {t: {"evidence": []} for t in transfer_ids}
        by_pending = {p: {"evidence": []} for p in pending_ids}
        if transfer_ids:
            for transfer_id, photo_id, _position in session.execute(
                    _TRANSFER_EVIDENCE, {"bank": bank_id, "ids": list(transfer_ids)}):
                by_transfer[transfer_id]["evidence"].append(photo_id)
        if pending_ids:
            for pending_id, photo_id in session.execute(
                    _PENDING_EVIDENCE, {"bank": bank_id, "ids": list(pending_ids)}):
                by_pending[pending_id]["evidence"].append(photo_id)
        return by_transfer, by_pending


# A deed approved after review shows the photos it was submitted with: both kinds in one round
# trip, so a deed's answer costs one statement more, whatever it carries. Built once.
_TRANSFER_EVIDENCE = union_all(
    select(Evidence.transfer_id, Evidence.photo_id, Evidence.position)
    .where(Evidence.bank_id == bindparam("bank"),
           Evidence.transfer_id.in_(bindparam("ids", expanding=True))),
    select(PendingDeed.transfer_id, Evidence.photo_id, Evidence.position)
    .join(Evidence, Evidence.pending_id == PendingDeed.id)
    .where(PendingDeed.bank_id == bindparam("bank"),
           PendingDeed.transfer_id.in_(bindparam("ids", expanding=True))),
).order_by("transfer_id", "position")
_PENDING_EVIDENCE = (select(Evidence.pending_id, Evidence.photo_id)
                     .where(Evidence.bank_id == bindparam("bank"),
                            Evidence.pending_id.in_(bindparam("ids", expanding=True)))
                     .order_by(Evidence.pending_id, Evidence.position))


def _evidence(outcome, photo_ids: list[int]) -> tuple[dict, dict]:
    # What `describe` reads of a deed just written with these photos, in their order.
    return ({t.id: {"evidence": list(photo_ids)} for t in outcome.transfers},
            {p.id: {"evidence": list(photo_ids)} for p in outcome.pending})


# --- a resident's own report (积分申报) -----------------------------------------------------------

@dataclass(frozen=True)
class ReportFrom:
    """Who sends a report (the card) and the photos that come with it, prepared."""

    card_id: int
    photos: tuple
    #: The start of the sender's day, in the bank's time zone: the five a day are counted from it.
    day_start: datetime


class ReportAttachment:
    """Marks a held deed as a resident's own report, keeps its photos, and counts the card's day."""

    @staticmethod
    def attach(session: Session, bank: Bank, rule, value, outcome) -> tuple[dict, dict]:
        if value is None:
            return _source([p.id for p in outcome.pending], set())
        now = outcome.pending[0].submitted_at
        start = value.day_start
        # Under the bank's lock (post_deed holds it), as is the count: two taps at once hold one.
        _same_waiting(session, bank, value, outcome.pending[0])
        # Counted under the bank's lock (post_deed holds it): two reports at once cannot both pass.
        sent = session.execute(select(func.count()).select_from(Report).where(
            Report.bank_id == bank.id, Report.card_id == value.card_id,
            Report.submitted_at >= start, Report.submitted_at < start + timedelta(days=1))).scalar()
        if sent >= REPORTS_PER_DAY:
            raise TooManyReports()
        for held in outcome.pending:
            session.add(Report(bank_id=bank.id, card_id=value.card_id, pending_id=held.id,
                               submitted_at=now))
            for n, prepared in enumerate(value.photos):
                photo = Photo(bank_id=bank.id, sha256=prepared.sha256, width=prepared.width,
                              height=prepared.height, size=len(prepared.data), data=prepared.data,
                              uploaded_by=held.submitted_by, uploaded_at=now)
                session.add(photo)
                session.flush()
                session.add(Evidence(bank_id=bank.id, photo_id=photo.id, pending_id=held.id, position=n))
        session.flush()
        return _source([p.id for p in outcome.pending], {held.id for held in outcome.pending})

    @staticmethod
    def describe(session: Session, bank_id: int, transfer_ids, pending_ids) -> tuple[dict, dict]:
        if not pending_ids:
            return {}, {}
        residents = set(session.execute(_REPORTED, {"bank": bank_id, "ids": list(pending_ids)}).scalars())
        return _source(pending_ids, residents)


def _same_waiting(session: Session, bank: Bank, value: ReportFrom, held: PendingDeed) -> None:
    # Raise AlreadyReported if this card's report of the same deed (who, rule, day, words and
    # photos alike) is waiting for a reviewer still.
    alike = session.execute(select(PendingDeed.id).join(Report, Report.pending_id == PendingDeed.id).where(
        Report.bank_id == bank.id, Report.card_id == value.card_id, PendingDeed.status == "pending",
        PendingDeed.id != held.id, PendingDeed.resident_id == held.resident_id,
        PendingDeed.rule_code == held.rule_code, PendingDeed.occurred_on == held.occurred_on,
        PendingDeed.quantity == held.quantity, PendingDeed.memo == held.memo)).scalars().all()
    sent = [p.sha256 for p in value.photos]
    for pending_id in alike:
        kept = session.execute(select(Photo.sha256).join(Evidence, Evidence.photo_id == Photo.id).where(
            Evidence.bank_id == bank.id, Evidence.pending_id == pending_id)
            .order_by(Evidence.position)).scalars().all()
        if kept == sent:
            raise AlreadyReported(pending_id)


_REPORTED = select(Report.pending_id).where(Report.bank_id == bindparam("bank"),
                                             Report.pending_id.in_(bindparam("ids", expanding=True)))


def _source(pending_ids, reported: set) -> tuple[dict, dict]:
    # Who sent each deed held for review: a resident's own report, or a clerk.
    return {}, {p: {"source": "resident" if p in reported else "clerk"} for p in pending_ids}


def submit_report(session: Session, bank: Bank, card, resident_id: int, *, rule_code: str,
                  occurred_on, memo: str | None, prepared: list, clock: Clock, quantity: int = 1):
    """Hold a resident's own report of a deed for a reviewer, with its photos; five a day per card.
    The same report sent again while the first waits holds nothing more: the first is returned."""
    try:
        outcome = ledger_deeds.post_deed(
            session, bank, rule_code=rule_code, resident_ids=[resident_id], quantity=quantity,
            occurred_on=occurred_on, memo=memo, by=f"card:{card.number}", clock=clock, hold=True,
            attached={"report": ReportFrom(card.id, tuple(prepared), _day_start(clock)),
                      "evidence": WITH_REPORT if prepared else None})
    except AlreadyReported as again:
        return Reported([session.get(PendingDeed, again.pending_id)], new=False)
    return Reported(outcome.pending, new=True)


def _day_start(clock: Clock) -> datetime:
    return datetime.combine(clock.today(), time(), tzinfo=clock.tz)


def card_reports(session: Session, bank: Bank, residents: list[int], *, limit: int = 20) -> list[PendingDeed]:
    """Return the reports of the residents a card speaks for, from this card or one before it,
    newest first, each with its status and the reviewer's reason."""
    return list(session.execute(_OF_RESIDENTS, {"bank": bank.id, "residents": residents, "limit": limit})
                .scalars())


_OF_RESIDENTS = (select(PendingDeed).join(Report, Report.pending_id == PendingDeed.id)
                 .where(Report.bank_id == bindparam("bank"),
                        PendingDeed.resident_id.in_(bindparam("residents", expanding=True)))
                 .order_by(PendingDeed.id.desc()).limit(bindparam("limit")))


#: What the field adds to the ledger's deeds, by the request field that carries it: its plug-in for
#: ledger.deeds.DEED_ATTACHMENTS, which zongzhi.plugins installs (this module writes nothing
#: into the ledger).
DEED_ATTACHMENTS = {"evidence": EvidenceAttachment, "report": ReportAttachment}
