"""The foundation's applications: the applicants (resident groups and welfare stations) and the
reviewers linked to residents; an application from its draft through the workflow's plain moves,
with its budget lines and its history.

Each service writes as one unit of work (ledger.unit.UnitOfWork): its checks under the bank's
posting lock, the idempotency key replayed or its outcome remembered, the audit entry, and the
commit, or nothing at all on an error.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ConflictError, Forbidden, NotFound, ValidationError
from ground.i18n import _
from ground.tenants import Bank, User
from ledger.formatting import yuan
from ledger.models import Resident
from ledger.posting import Idempotency
from ledger.residents import named_residents
from ledger.unit import UnitOfWork

from . import workflow as wf
from .errors import IllegalTransition
from .models import Applicant, Application, Line, Member, PanelSeat, ReviewerResident, Transition


# --- applicants and reviewers ------------------------------------------------------------------

def create_applicant(session: Session, bank: Bank, *, kind: str, name: str, phone: str | None,
                     members: list[int], by: str, clock: Clock,
                     idem: Idempotency | None = None) -> Applicant:
    """Register a resident group or a welfare station with its member residents; a retry
    with the same key returns the applicant the first one registered."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Applicant, uow.replayed.data["applicant"])
        residents = named_residents(session, bank, members, field="members")
        if session.execute(select(Applicant.id).where(Applicant.bank_id == bank.id,
                                                      Applicant.name == name)).first():
            raise ConflictError(_("申请主体「%(name)s」已存在", name=name), code="applicant_exists")
        applicant = Applicant(bank_id=bank.id, kind=kind, name=name, phone=phone, created_by=by,
                              created_at=clock.now())
        session.add(applicant)
        session.flush()
        session.add_all(Member(bank_id=bank.id, applicant_id=applicant.id, resident_id=r.id)
                        for r in residents)
        uow.remember("created", {"applicant": applicant.id})
        uow.audit("applicant_create", f"applicant:{applicant.id}", {"members": members})
    return applicant


def list_applicants(session: Session, bank: Bank) -> list[Applicant]:
    return list(session.execute(select(Applicant).where(Applicant.bank_id == bank.id)
                                .order_by(Applicant.name)).scalars())


def members_of(session: Session, applicant_id: int) -> list[Resident]:
    return list(session.execute(select(Resident).join(Member, Member.resident_id == Resident.id)
                                .where(Member.applicant_id == applicant_id)
                                .order_by(Resident.id)).scalars())


def get_applicant(session: Session, bank: Bank, applicant_id: int) -> Applicant:
    return bank_row(session, Applicant, applicant_id, bank.id, _("找不到该申请主体"))


def link_reviewer(session: Session, bank: Bank, *, user_id: int, resident_id: int, by: str,
                  clock: Clock) -> ReviewerResident:
    """Say which resident a reviewer is, so that their kin's applications recuse them."""
    with UnitOfWork(session, bank, by=by, clock=clock) as uow:
        user = bank_row(session, User, user_id, bank.id, _("找不到该用户"))
        [resident] = named_residents(session, bank, [resident_id], field="resident")
        link = session.execute(select(ReviewerResident).where(
            ReviewerResident.user_id == user.id)).scalar_one_or_none()
        if link is None:
            link = ReviewerResident(bank_id=bank.id, user_id=user.id, resident_id=resident.id,
                                    linked_by=by, linked_at=clock.now())
            session.add(link)
        else:
            link.resident_id, link.linked_by, link.linked_at = resident.id, by, clock.now()
        uow.audit("reviewer_link", f"user:{user.id}", {"resident": resident.id})
    return link


def reviewers(session: Session, bank: Bank) -> list[dict]:
    """Return the bank's active reviewers, each with the resident they are linked to, if any."""
    rows = session.execute(
        select(User, Resident).outerjoin(ReviewerResident, ReviewerResident.user_id == User.id)
        .outerjoin(Resident, Resident.id == ReviewerResident.resident_id)
        .where(User.bank_id == bank.id, User.role == "reviewer", User.active.is_(True))
        .order_by(User.name)).all()
    return [{"user": user, "resident": resident} for user, resident in rows]


# --- applications ------------------------------------------------------------------------------

def create_application(session: Session, bank: Bank, *, applicant_id: int, title: str,
                       purpose: str, budget: list[tuple[str, int]], amount_requested: int,
                       starts_on: date, ends_on: date, by: str, clock: Clock,
                       idem: Idempotency | None = None) -> Application:
    """Open a draft application; its budget lines must add up to the amount requested. A retry
    with the same key returns the application the first one opened."""
    problems = {}
    if ends_on < starts_on:
        problems["ends_on"] = [_("结束日期不能早于开始日期")]
    if sum(amount for _item, amount in budget) != amount_requested:
        problems["budget"] = [_("预算明细合计 %(total)s，与申请金额 %(requested)s 不符",
                                total=yuan(sum(amount for _item, amount in budget)),
                                requested=yuan(amount_requested))]
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Application, uow.replayed.data["application"])
        applicant = session.get(Applicant, applicant_id)
        if applicant is None or applicant.bank_id != bank.id:
            raise ValidationError({"applicant": [_("申请主体 %(id)s 不存在", id=applicant_id)]})
        now = clock.now()
        application = Application(bank_id=bank.id, applicant_id=applicant.id, title=title,
                                  purpose=purpose, amount_requested=amount_requested,
                                  starts_on=starts_on, ends_on=ends_on, state=wf.DRAFT,
                                  entered_by=by, created_at=now, updated_at=now)
        session.add(application)
        session.flush()
        session.add_all(Line(bank_id=bank.id, application_id=application.id, kind="budget",
                             position=i, item=item, amount=amount)
                        for i, (item, amount) in enumerate(budget))
        session.add(Transition(bank_id=bank.id, application_id=application.id, action="create",
                               from_state="", to_state=wf.DRAFT, by=by, at=now))
        uow.remember("created", {"application": application.id})
        uow.audit("application_create", f"application:{application.id}",
                  {"amount_requested": amount_requested})
    return application


def get_application(session: Session, bank: Bank, application_id: int) -> Application:
    """Return the bank's application, or NotFound if unknown or another bank's."""
    return bank_row(session, Application, application_id, bank.id, _("找不到该申请"))


def list_applications(session: Session, bank: Bank, *, state: str | None = None, limit: int,
                      before: int | None = None) -> list[Application]:
    """Return applications newest first, optionally in one state, from id `before` down."""
    stmt = select(Application).where(Application.bank_id == bank.id)
    if state:
        stmt = stmt.where(Application.state == state)
    if before is not None:
        stmt = stmt.where(Application.id < before)
    return list(session.execute(stmt.order_by(Application.id.desc()).limit(limit)).scalars())


def applicant_names(session: Session, ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    return dict(session.execute(select(Applicant.id, Applicant.name).where(Applicant.id.in_(ids))).all())


def move(session: Session, bank: Bank, application_id: int, action: str, *, user: User,
         note: str | None, clock: Clock, idem: Idempotency | None = None) -> Application:
    """Make one plain move of the state machine (submit, screen, review, start, close, withdraw).

    Sending to review seats the bank's reviewers as the panel. A retry with the same key
    returns the application the first one moved, and moves nothing.
    """
    if action not in wf.PLAIN_ACTIONS:
        raise NotFound(_("找不到该操作"))
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Application, uow.replayed.data["application"])
        application = _locked_application(session, bank, application_id)
        _step(uow, application, action, user=user, note=note)
        if action == "review":
            reviewers = list(session.execute(select(User.id).where(
                User.bank_id == bank.id, User.role == "reviewer", User.active.is_(True))).scalars())
            if not reviewers:
                raise ConflictError(_("本银行还没有理事（reviewer）账号，无法送评审"), code="no_reviewers")
            session.add_all(PanelSeat(bank_id=bank.id, application_id=application.id, user_id=u)
                            for u in reviewers)
        uow.remember(action, {"application": application.id})
    return application


def _step(uow: UnitOfWork, application: Application, action: str, *, user: User,
          note: str | None) -> None:
    """Move the application one step, or refuse; record who and when, with its audit entry."""
    try:
        target = wf.next_state(application.state, action)
    except wf.IllegalMove as move_:
        raise IllegalTransition.of(move_) from None
    if user.role not in wf.ACTIONS[action].roles:
        raise Forbidden()
    now = uow.clock.now()
    uow.session.add(Transition(bank_id=application.bank_id, application_id=application.id,
                               action=action, from_state=application.state, to_state=target,
                               by=user.name, at=now, note=note))
    uow.audit(f"application_{action}", f"application:{application.id}",
              {"from": application.state, "to": target})
    application.state, application.updated_at = target, now


def _locked_application(session: Session, bank: Bank, application_id: int) -> Application:
    # The row lock serialises two moves of the same application on PostgreSQL; on SQLite the
    # write transaction already holds the database's write lock.
    return bank_row(session, Application, application_id, bank.id, _("找不到该申请"),
                    with_for_update=True)


def transitions_of(session: Session, application_id: int) -> list[Transition]:
    return list(session.execute(select(Transition).where(Transition.application_id == application_id)
                                .order_by(Transition.id)).scalars())


def lines_of(session: Session, application_id: int, kind: str) -> list[Line]:
    return list(session.execute(select(Line).where(Line.application_id == application_id,
                                                   Line.kind == kind).order_by(Line.position)).scalars())
