"""The review of an application: the panel and who on it must stand aside, the reviewers' scores,
and the council's decision, which awards no more than was asked nor than the fund has free.

Each service writes as one unit of work (ledger.unit.UnitOfWork): its checks under the bank's
posting lock (an award is checked against the fund one at a time), the idempotency key replayed
or its outcome remembered, the audit entry, and the commit, or nothing at all on an error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.errors import ValidationError
from ground.i18n import _
from ground.tenants import Bank, User
from ledger.formatting import yuan
from ledger.models import CNY, Account, Resident
from ledger.posting import Idempotency
from ledger.unit import UnitOfWork

from . import workflow as wf
from .applications import _locked_application, _step, members_of
from .common import RESTRICTED, UNRESTRICTED, rules_of
from .errors import (STATE_NAMES, AlreadyScored, AwardExceedsFund, AwardExceedsRequest,
                     IllegalTransition, NotOnPanel, Recused, ReviewIncomplete)
from .models import Application, Decision, PanelSeat, ReviewerResident, Score


# --- review ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seat:
    """A reviewer on an application's panel: whether they must stand aside, and whether they scored."""

    user_id: int
    name: str
    recused: str | None
    scored: bool


def panel(session: Session, application: Application) -> list[Seat]:
    """Return the application's panel, with each reviewer's recusal worked out now."""
    members = [(r.id, r.household_id) for r in members_of(session, application.applicant_id)]
    rows = session.execute(
        select(PanelSeat, User.name, Resident.id, Resident.household_id)
        .join(User, User.id == PanelSeat.user_id)
        .outerjoin(ReviewerResident, ReviewerResident.user_id == PanelSeat.user_id)
        .outerjoin(Resident, Resident.id == ReviewerResident.resident_id)
        .where(PanelSeat.application_id == application.id).order_by(PanelSeat.id)).all()
    scored = set(session.execute(select(Score.user_id).where(
        Score.application_id == application.id)).scalars())
    return [Seat(seat.user_id, name, wf.recusal(resident, household, members,
                                                declared=seat.declared_conflict),
                 seat.user_id in scored) for seat, name, resident, household in rows]


def review_complete(seats: list[Seat]) -> bool:
    """Say whether every reviewer not recused has scored (and there was at least one)."""
    eligible = [s for s in seats if not s.recused]
    return bool(eligible) and all(s.scored for s in eligible)


def declare_conflict(session: Session, bank: Bank, application_id: int, *, user: User,
                     note: str, clock: Clock, idem: Idempotency | None = None) -> PanelSeat:
    """Let a reviewer stand aside from an application, in their own words; a retry with the
    same key returns the seat the first one set aside, its note and time as they were."""
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(PanelSeat, uow.replayed.data["seat"])
        application = _locked_application(session, bank, application_id)
        seat = _seat(session, application, user)
        if session.execute(select(Score.id).where(Score.application_id == application.id,
                                                  Score.user_id == user.id)).first():
            raise AlreadyScored(_("已经评分，不能再申报回避"))
        seat.declared_conflict, seat.declared_note, seat.declared_at = True, note, clock.now()
        uow.remember("declared", {"seat": seat.id})
        uow.audit("conflict_declare", f"application:{application.id}", {"note": note})
    return seat


def _seat(session: Session, application: Application, user: User) -> PanelSeat:
    seat = session.execute(select(PanelSeat).where(PanelSeat.application_id == application.id,
                                                   PanelSeat.user_id == user.id)).scalar_one_or_none()
    if seat is None:
        raise NotOnPanel(_("你不在该申请的评审名单中"))
    return seat


def submit_scores(session: Session, bank: Bank, application_id: int, *, user: User,
                  scores: dict[str, int], comments: dict[str, str | None], clock: Clock,
                  idem: Idempotency | None = None) -> list[Score]:
    """Record one reviewer's scores, 0–5 on every criterion of the bank's rules, once; a retry
    with the same key returns the scores the first one recorded."""
    criteria = rules_of(session, bank).criteria
    problems = wf.score_problems(scores, [c.code for c in criteria])
    if problems:
        raise ValidationError({"scores": [f"{code}: {m}" for code, ms in problems.items() for m in ms]})
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return list(session.execute(select(Score).where(Score.id.in_(uow.replayed.data["scores"]))
                                        .order_by(Score.id)).scalars())
        application = _locked_application(session, bank, application_id)
        if application.state != wf.IN_REVIEW:
            raise IllegalTransition(_("申请当前状态为「%(state)s」，不在评审中，不能评分",
                                      state=STATE_NAMES.get(application.state, application.state)))
        seat = _seat(session, application, user)
        mine = next(s for s in panel(session, application) if s.user_id == seat.user_id)
        if mine.recused:
            raise Recused({wf.MEMBER: _("你是申请主体的成员，须回避，不能评分"),
                           wf.HOUSEHOLD: _("你与申请主体的成员同户，须回避，不能评分"),
                           wf.DECLARED: _("你已申报利益冲突，须回避，不能评分")}[mine.recused])
        if mine.scored:
            raise AlreadyScored(_("你已对该申请评过分"))
        now = clock.now()
        rows = [Score(bank_id=bank.id, application_id=application.id, user_id=user.id,
                      criterion=c.code, weight=c.weight, score=scores[c.code],
                      comment=comments.get(c.code), at=now) for c in criteria]
        session.add_all(rows)
        session.flush()
        uow.remember("scored", {"scores": [r.id for r in rows]})
        uow.audit("score", f"application:{application.id}", scores)
    return rows


def review_view(session: Session, application: Application, *, viewer: User) -> dict:
    """Return the panel and the scores the viewer may see: their own, and everyone's once every
    reviewer not recused has scored (so nobody is swayed by a colleague's marks)."""
    seats = panel(session, application)
    complete = review_complete(seats)
    stmt = select(Score, User.name).join(User, User.id == Score.user_id).where(
        Score.application_id == application.id)
    if not complete:
        stmt = stmt.where(Score.user_id == viewer.id)
    scores = session.execute(stmt.order_by(Score.user_id, Score.id)).all()
    eligible = {s.user_id for s in seats if not s.recused}
    by_reviewer: dict[int, dict[str, int]] = {}
    weights: dict[str, int] = {}
    for score, _name in scores:
        if score.user_id in eligible:
            by_reviewer.setdefault(score.user_id, {})[score.criterion] = score.score
            weights[score.criterion] = score.weight
    return {
        "complete": complete,
        "panel": [{"user": s.user_id, "name": s.name, "recused": s.recused, "scored": s.scored}
                  for s in seats],
        "scores": [{"reviewer": name, "criterion": s.criterion, "weight": s.weight,
                    "score": s.score, "comment": s.comment} for s, name in scores],
        "weighted_score": wf.weighted_score(by_reviewer, weights) if complete else None,
    }


# --- the council's decision ----------------------------------------------------------------------

def fund_position(session: Session, bank: Bank) -> dict:
    """Return the fund's money for projects: restricted and unrestricted balances, what earlier
    awards still owe, and what is free to award."""
    balances = dict(session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == CNY,
        Account.code.in_((RESTRICTED, UNRESTRICTED)))).all())
    committed = session.execute(select(func.coalesce(func.sum(
        Application.amount_awarded - Application.disbursed), 0)).where(
        Application.bank_id == bank.id,
        Application.state.in_((wf.AWARDED, wf.IN_PROGRESS)))).scalar()
    restricted, unrestricted = int(balances.get(RESTRICTED, 0)), int(balances.get(UNRESTRICTED, 0))
    return {"restricted": restricted, "unrestricted": unrestricted, "committed": int(committed),
            "free": restricted + unrestricted - int(committed)}


def decide(session: Session, bank: Bank, application_id: int, *, user: User, met_on: date,
           attendees: list[str], votes_for: int, votes_against: int, abstaining: int,
           minutes: str, outcome: str, amount: int | None, reason: str | None,
           clock: Clock, idem: Idempotency | None = None) -> Decision:
    """Record the council meeting that awards (with an amount) or declines (with a reason).

    The meeting needs its quorum and votes that add up; the review must be complete; an award
    is never more than was asked nor more than the fund has free for projects. A retry with the
    same key returns the decision the first one recorded.
    """
    settings = rules_of(session, bank)
    problems = wf.vote_problems(attendees=len(attendees), quorum=settings.quorum,
                                votes_for=votes_for, votes_against=votes_against,
                                abstaining=abstaining, outcome=outcome)
    if len(set(attendees)) != len(attendees):
        problems["attendees"] = [_("出席人员重复")]
    if met_on > clock.today():
        problems["met_on"] = [_("会议日期不能晚于今天")]
    if outcome == wf.AWARDED and amount is None:
        problems["amount"] = [_("资助须写明金额")]
    if outcome == wf.DECLINED and not reason:
        problems["reason"] = [_("不予资助须写明理由")]
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Decision, uow.replayed.data["decision"])
        application = _locked_application(session, bank, application_id)
        action = "award" if outcome == wf.AWARDED else "decline"
        try:
            wf.next_state(application.state, action)
        except wf.IllegalMove as move_:
            raise IllegalTransition.of(move_) from None
        view = review_view(session, application, viewer=user)
        if not view["complete"]:
            raise ReviewIncomplete(_("还有理事未评分，评审完成后才能上会决定"))
        if outcome == wf.AWARDED:
            if amount > application.amount_requested:
                raise AwardExceedsRequest(
                    _("资助金额 %(amount)s 超过申请金额 %(requested)s", amount=yuan(amount),
                      requested=yuan(application.amount_requested)),
                    fields={"amount": [f"≤ {yuan(application.amount_requested)}"]})
            free = fund_position(session, bank)["free"]
            if amount > free:
                raise AwardExceedsFund(
                    _("资助金额 %(amount)s 超过基金可用于微项目的余额 %(free)s", amount=yuan(amount),
                      free=yuan(max(free, 0))),
                    fields={"amount": [f"≤ {yuan(max(free, 0))}"]})
        _step(uow, application, action, user=user, note=minutes[:200])
        decision = Decision(bank_id=bank.id, application_id=application.id, met_on=met_on,
                            attendees=json.dumps(attendees, ensure_ascii=False),
                            attendee_count=len(attendees), quorum=settings.quorum,
                            votes_for=votes_for, votes_against=votes_against,
                            abstaining=abstaining, minutes=minutes, outcome=outcome,
                            amount=amount if outcome == wf.AWARDED else None, reason=reason,
                            weighted_score=view["weighted_score"], recorded_by=user.name,
                            recorded_at=clock.now())
        session.add(decision)
        if outcome == wf.AWARDED:
            application.amount_awarded = amount
        else:
            application.decline_reason = reason
        session.flush()
        uow.remember(outcome, {"decision": decision.id})
    return decision


def decision_of(session: Session, application_id: int) -> Decision | None:
    return session.execute(select(Decision).where(
        Decision.application_id == application_id)).scalar_one_or_none()
