"""What the foundation shows the public: the funded projects with their latest progress, the
wish wall with names masked, and the quarterly report, printed alone or in the fund's disclosure.

Reads only: nothing here writes.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ledger.formatting import mask_name
from ledger.models import Resident
from ground.tenants import Bank
from rules.periods import quarter_period

from . import workflow as wf
from .applications import applicant_names
from .models import Application, Attachment, Claim, Decision, Donor, Progress, Tranche, Transition, Wish


def public_projects(session: Session, bank: Bank) -> list[dict]:
    """Return the funded projects for the public page: amounts, status, latest progress."""
    apps = list(session.execute(select(Application).where(
        Application.bank_id == bank.id, Application.state.in_(wf.FUNDED))
        .order_by(Application.id.desc())).scalars())
    names = applicant_names(session, [a.applicant_id for a in apps])
    latest: dict[int, Progress] = {}
    if apps:
        for p in session.execute(select(Progress).where(Progress.application_id.in_([a.id for a in apps]))
                                 .order_by(Progress.reported_on, Progress.id)).scalars():
            latest[p.application_id] = p
    photos: dict[int, list[int]] = {}
    if latest:
        for att in session.execute(select(Attachment).where(
                Attachment.progress_id.in_([p.id for p in latest.values()]))).scalars():
            photos.setdefault(att.application_id, []).append(att.id)
    return [{"id": a.id, "title": a.title, "applicant": names[a.applicant_id], "state": a.state,
             "awarded": a.amount_awarded, "disbursed": a.disbursed, "spent": a.spent,
             "returned": a.returned, "starts_on": a.starts_on, "ends_on": a.ends_on,
             "progress": latest.get(a.id), "photos": photos.get(a.id, [])} for a in apps]


def wish_wall(session: Session, bank: Bank) -> list[dict]:
    """Return the wishes on the public wall, the wisher's name masked (王*), donors thanked by
    a masked name (a unit by its name), never a phone number."""
    rows = session.execute(select(Wish, Resident.name).join(Resident, Resident.id == Wish.resident_id)
                           .where(Wish.bank_id == bank.id, Wish.state.in_(wf.ON_WALL))
                           .order_by(Wish.id.desc())).all()
    claims: dict[int, Claim] = {}
    if rows:
        for c in session.execute(select(Claim).where(Claim.wish_id.in_([w.id for w, _ in rows]),
                                                     Claim.status != "expired")
                                 .order_by(Claim.id)).scalars():
            claims[c.wish_id] = c
    donors: dict[int, list[str]] = {}
    if claims:
        for d in session.execute(select(Donor).where(Donor.claim_id.in_([c.id for c in claims.values()]))
                                 .order_by(Donor.id)).scalars():
            donors.setdefault(d.claim_id, []).append(d.name if d.kind == "unit" else mask_name(d.name))
    out = []
    for wish, name in rows:
        claim = claims.get(wish.id) if wish.state != wf.PUBLISHED else None
        out.append({"id": wish.id, "title": wish.title, "description": wish.description,
                    "wisher": mask_name(name), "state": wish.state,
                    "deadline": claim.deadline if claim else None,
                    "donors": donors.get(claim.id, []) if claim else [],
                    "thanks": wish.thanks, "fulfilled_on": wish.fulfilled_on})
    return out


def quarter_report(session: Session, bank: Bank, year: int, quarter: int, *,
                   tz: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> dict:
    """Return the foundation's work in one quarter: applications received, decisions, tranches,
    completions and returns, wishes fulfilled with their in-kind value.

    Read from dated records only, so a past quarter prints the same every time. The fund
    disclosure includes it with `foundation/quarter.html` (the variable `report`).
    """
    period = quarter_period(year, quarter)
    start, end = period.start, period.end
    lo = datetime.combine(start, time.min, tz).astimezone(timezone.utc)
    hi = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(timezone.utc)
    submitted = session.execute(
        select(Application, Transition.at).join(Transition, Transition.application_id == Application.id)
        .where(Application.bank_id == bank.id, Transition.action == "submit",
               Transition.at >= lo, Transition.at < hi).order_by(Transition.at, Application.id)).all()
    decisions = session.execute(
        select(Decision, Application).join(Application, Application.id == Decision.application_id)
        .where(Decision.bank_id == bank.id, Decision.met_on.between(start, end))
        .order_by(Decision.met_on, Decision.id)).all()
    tranches = session.execute(
        select(Tranche, Application).join(Application, Application.id == Tranche.application_id)
        .where(Tranche.bank_id == bank.id, Tranche.paid_on.between(start, end))
        .order_by(Tranche.paid_on, Tranche.id)).all()
    completed = session.execute(
        select(Application, Transition.at).join(Transition, Transition.application_id == Application.id)
        .where(Application.bank_id == bank.id, Transition.action == "complete",
               Transition.at >= lo, Transition.at < hi).order_by(Transition.at, Application.id)).all()
    wishes = session.execute(
        select(Wish, Resident.name).join(Resident, Resident.id == Wish.resident_id)
        .where(Wish.bank_id == bank.id, Wish.state == wf.FULFILLED,
               Wish.fulfilled_on.between(start, end)).order_by(Wish.fulfilled_on, Wish.id)).all()
    names = applicant_names(session, {a.applicant_id for a, _ in submitted}
                            | {a.applicant_id for _, a in decisions})
    wish_values: dict[int, int] = {}
    wish_donors: dict[int, list[str]] = {}
    if wishes:
        for claim, donor in session.execute(
                select(Claim, Donor).join(Donor, Donor.claim_id == Claim.id)
                .where(Claim.wish_id.in_([w.id for w, _ in wishes]), Claim.status == "fulfilled")
                .order_by(Donor.id)).all():
            wish_values[claim.wish_id] = wish_values.get(claim.wish_id, 0) + (donor.value or 0)
            wish_donors.setdefault(claim.wish_id, []).append(
                donor.name if donor.kind == "unit" else mask_name(donor.name))
    awards = [(d, a) for d, a in decisions if d.outcome == wf.AWARDED]
    return {
        "bank": {"code": bank.code, "name": bank.name}, "year": year, "quarter": quarter,
        "start": start, "end": end,
        "applications": [{"id": a.id, "title": a.title, "applicant": names[a.applicant_id],
                          "requested": a.amount_requested, "submitted_on": at.astimezone(tz).date()}
                         for a, at in submitted],
        "decisions": [{"id": a.id, "title": a.title, "applicant": names[a.applicant_id],
                       "met_on": d.met_on, "outcome": d.outcome, "amount": d.amount,
                       "requested": a.amount_requested, "reason": d.reason,
                       "votes": (d.votes_for, d.votes_against, d.abstaining),
                       "attendees": d.attendee_count, "score": wf.hundredths(d.weighted_score)}
                      for d, a in decisions],
        "tranches": [{"id": a.id, "title": a.title, "paid_on": t.paid_on, "amount": t.amount}
                     for t, a in tranches],
        "completed": [{"id": a.id, "title": a.title, "spent": a.spent, "returned": a.returned,
                       "on": at.astimezone(tz).date()} for a, at in completed],
        "wishes": [{"id": w.id, "title": w.title, "wisher": mask_name(name), "on": w.fulfilled_on,
                    "value": wish_values.get(w.id, 0), "donors": wish_donors.get(w.id, [])}
                   for w, name in wishes],
        "totals": {
            "applications": len(submitted),
            "requested": sum(a.amount_requested for a, _ in submitted),
            "awarded_count": len(awards), "declined_count": len(decisions) - len(awards),
            "awarded": sum(d.amount for d, _ in awards),
            "disbursed": sum(t.amount for t, _ in tranches),
            "spent": sum(a.spent for a, _ in completed),
            "returned": sum(a.returned for a, _ in completed),
            "wishes": len(wishes), "inkind": sum(wish_values.values()),
        },
    }


def disclosure_section(session: Session, bank: Bank, year: int, quarter: int, clock: Clock) -> str:
    """Return the foundation's quarter as HTML for the fund's quarterly disclosure."""
    from flask import render_template

    report = quarter_report(session, bank, year, quarter, tz=clock.tz)
    return render_template("foundation/quarter.html", report=report)


#: What the foundation adds to the fund's quarterly disclosure: its plug-in for
#: redemption.printing.DISCLOSURE_SECTIONS, which zongzhi.plugins installs.
DISCLOSURE_SECTIONS = (disclosure_section,)
