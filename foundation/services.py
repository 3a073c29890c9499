"""The foundation's services: applicants, applications through review and the council's decision,
tranches, progress and completion; volunteers' points; wishes from collection to thanks; the
public page and the quarterly report.

Each service takes the session and what it needs, makes its checks, and owns the transaction:
it commits on success and rolls everything back on error. Writes that move money take the
bank's posting lock first, so a balance checked is still the balance when the transfer lands.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground import audit
from ledger import accounts, idempotency, periods
from ledger import services as ledger_services
from ground.clock import Clock
from ground.db import bank_row, transaction
from ground.errors import ConflictError, Forbidden, NotFound, TooLarge, ValidationError
from ledger.formatting import mask_name, yuan
from ledger.models import CNY, Account, Resident, Transfer
from ground.tenants import Bank
from ledger.posting import Draft, Idempotency, lock_chain, post
from ledger.residents import named_residents
from rules.periods import quarter_period
from ground.tenants import User

from . import workflow as wf
from .errors import (AlreadyScored, AwardExceedsFund, AwardExceedsRequest, IllegalTransition,
                     InsufficientFund, NotOnPanel, Recused, ReviewIncomplete, SpentExceedsDisbursed,
                     TrancheExceedsAward, WishNotOpen)
from .models import (Applicant, Application, Attachment, Claim, Decision, Donor, LedgerLink, Line,
                     Member, PanelSeat, Progress, ReviewerResident, Score, Tranche, Transition, Wish)

#: The CNY accounts the foundation moves money between (see the README).
RESTRICTED, UNRESTRICTED, SPENT = "fund:projects", "fund", "spent:projects"
INKIND_RECEIVED, INKIND_GIVEN = "inkind:received", "inkind:given"
DONOR_SOURCE = {"resident": "source:donor", "person": "source:sponsor", "unit": "source:sponsor"}

#: What an attachment may be, told by its first bytes rather than by what the client claims.
FILE_TYPES = ((b"\xff\xd8\xff", "image/jpeg", "jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
              (b"%PDF-", "application/pdf", "pdf"))
ATTACHMENT_KINDS = ("photo", "paper_form", "progress", "completion")
#: A phone's photo or a scanned form; a progress report may carry a few photos at once.
MAX_ATTACHMENT_BYTES = 10 * 2**20
MAX_PROGRESS_BYTES = 3 * MAX_ATTACHMENT_BYTES


def project_account_code(application_id: int) -> str:
    return f"project:{application_id}"


def rules_of(session: Session, bank: Bank):
    """Return the bank's foundation settings from the rules in force."""
    return ledger_services.rulebook(session, bank.id)[1].foundation


# --- applicants and reviewers ------------------------------------------------------------------

def create_applicant(session: Session, bank: Bank, *, kind: str, name: str, phone: str | None,
                     members: list[int], by: str, clock: Clock) -> Applicant:
    """Register a resident group or a welfare station with its member residents."""
    with transaction(session):
        residents = named_residents(session, bank, members, field="members")
        if session.execute(select(Applicant.id).where(Applicant.bank_id == bank.id,
                                                      Applicant.name == name)).first():
            raise ConflictError(f"申请主体「{name}」已存在", f"applicant {name} already exists",
                                code="applicant_exists")
        applicant = Applicant(bank_id=bank.id, kind=kind, name=name, phone=phone, created_by=by,
                              created_at=clock.now())
        session.add(applicant)
        session.flush()
        session.add_all(Member(bank_id=bank.id, applicant_id=applicant.id, resident_id=r.id)
                        for r in residents)
        audit.record(session, bank_id=bank.id, actor=by, action="applicant_create",
                     subject=f"applicant:{applicant.id}", detail={"members": members}, clock=clock)
    return applicant


def list_applicants(session: Session, bank: Bank) -> list[Applicant]:
    return list(session.execute(select(Applicant).where(Applicant.bank_id == bank.id)
                                .order_by(Applicant.name)).scalars())


def members_of(session: Session, applicant_id: int) -> list[Resident]:
    return list(session.execute(select(Resident).join(Member, Member.resident_id == Resident.id)
                                .where(Member.applicant_id == applicant_id)
                                .order_by(Resident.id)).scalars())


def get_applicant(session: Session, bank: Bank, applicant_id: int) -> Applicant:
    return bank_row(session, Applicant, applicant_id, bank.id, "申请主体", "applicant")


def link_reviewer(session: Session, bank: Bank, *, user_id: int, resident_id: int, by: str,
                  clock: Clock) -> ReviewerResident:
    """Say which resident a reviewer is, so that their kin's applications recuse them."""
    with transaction(session):
        user = bank_row(session, User, user_id, bank.id, "用户", "user")
        [resident] = named_residents(session, bank, [resident_id], field="resident")
        link = session.execute(select(ReviewerResident).where(
            ReviewerResident.user_id == user.id)).scalar_one_or_none()
        if link is None:
            link = ReviewerResident(bank_id=bank.id, user_id=user.id, resident_id=resident.id,
                                    linked_by=by, linked_at=clock.now())
            session.add(link)
        else:
            link.resident_id, link.linked_by, link.linked_at = resident.id, by, clock.now()
        audit.record(session, bank_id=bank.id, actor=by, action="reviewer_link",
                     subject=f"user:{user.id}", detail={"resident": resident.id}, clock=clock)
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
                       starts_on: date, ends_on: date, by: str, clock: Clock) -> Application:
    """Open a draft application; its budget lines must add up to the amount requested."""
    problems = {}
    if ends_on < starts_on:
        problems["ends_on"] = ["结束日期不能早于开始日期"]
    if sum(amount for _, amount in budget) != amount_requested:
        problems["budget"] = [f"预算明细合计 {yuan(sum(a for _, a in budget))}，与申请金额 "
                              f"{yuan(amount_requested)} 不符"]
    if problems:
        raise ValidationError(problems)
    with transaction(session):
        applicant = session.get(Applicant, applicant_id)
        if applicant is None or applicant.bank_id != bank.id:
            raise ValidationError({"applicant": [f"申请主体 {applicant_id} 不存在"]})
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
        audit.record(session, bank_id=bank.id, actor=by, action="application_create",
                     subject=f"application:{application.id}",
                     detail={"amount_requested": amount_requested}, clock=clock)
    return application


def get_application(session: Session, bank: Bank, application_id: int) -> Application:
    """Return the bank's application, or NotFound if unknown or another bank's."""
    return bank_row(session, Application, application_id, bank.id, "申请", "application")


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
         note: str | None, clock: Clock) -> Application:
    """Make one plain move of the state machine (submit, screen, review, start, close, withdraw).

    Sending to review seats the bank's reviewers as the panel.
    """
    if action not in wf.PLAIN_ACTIONS:
        raise NotFound("操作", "action")
    with transaction(session):
        application = _locked_application(session, bank, application_id)
        _step(session, application, action, user=user, note=note, clock=clock)
        if action == "review":
            reviewers = list(session.execute(select(User.id).where(
                User.bank_id == bank.id, User.role == "reviewer", User.active.is_(True))).scalars())
            if not reviewers:
                raise ConflictError("本银行还没有理事（reviewer）账号，无法送评审",
                                    "the bank has no reviewers to score this", code="no_reviewers")
            session.add_all(PanelSeat(bank_id=bank.id, application_id=application.id, user_id=u)
                            for u in reviewers)
    return application


def _step(session: Session, application: Application, action: str, *, user: User,
          note: str | None, clock: Clock) -> None:
    """Move the application one step, or refuse; record who and when."""
    try:
        target = wf.next_state(application.state, action)
    except wf.IllegalMove as move_:
        raise IllegalTransition.of(move_) from None
    if user.role not in wf.ACTIONS[action].roles:
        raise Forbidden()
    now = clock.now()
    session.add(Transition(bank_id=application.bank_id, application_id=application.id,
                           action=action, from_state=application.state, to_state=target,
                           by=user.name, at=now, note=note))
    audit.record(session, bank_id=application.bank_id, actor=user.name, action=f"application_{action}",
                 subject=f"application:{application.id}",
                 detail={"from": application.state, "to": target}, clock=clock)
    application.state, application.updated_at = target, now


def _locked_application(session: Session, bank: Bank, application_id: int) -> Application:
    # The row lock serialises two moves of the same application on PostgreSQL; on SQLite the
    # write transaction already holds the database's write lock.
    return bank_row(session, Application, application_id, bank.id, "申请", "application",
                    with_for_update=True)


def transitions_of(session: Session, application_id: int) -> list[Transition]:
    return list(session.execute(select(Transition).where(Transition.application_id == application_id)
                                .order_by(Transition.id)).scalars())


def lines_of(session: Session, application_id: int, kind: str) -> list[Line]:
    return list(session.execute(select(Line).where(Line.application_id == application_id,
                                                   Line.kind == kind).order_by(Line.position)).scalars())


# --- attachments -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """A file as it arrived: its name and bytes."""

    filename: str
    data: bytes


def add_attachment(session: Session, bank: Bank, application_id: int, upload: Upload, *,
                   kind: str, on_behalf_of: str | None, by: str, clock: Clock,
                   instance_path: str) -> Attachment:
    """Keep a photo or the scanned paper form under the instance folder, recording who entered it.

    A paper form is entered by the clerk on the applicant's behalf: it names whose form it is
    (the applicant, unless said otherwise) and who entered it.
    """
    if kind not in ("photo", "paper_form"):
        raise ValidationError({"kind": ["须为 photo 或 paper_form"]})
    stored: dict = {}
    try:
        with transaction(session):
            application = get_application(session, bank, application_id)
            if kind == "paper_form" and not on_behalf_of:
                on_behalf_of = session.get(Applicant, application.applicant_id).name
            stored = _store(bank, application, upload, instance_path)
            attachment = Attachment(bank_id=bank.id, application_id=application.id, kind=kind,
                                    on_behalf_of=on_behalf_of, entered_by=by,
                                    entered_at=clock.now(), **stored)
            session.add(attachment)
            audit.record(session, bank_id=bank.id, actor=by, action="attachment_add",
                         subject=f"application:{application.id}",
                         detail={"kind": kind, "sha256": stored["sha256"]}, clock=clock)
    except BaseException:
        # Nothing written means no file either: the row and the file stand or fall together.
        if stored:
            _unlink(instance_path, stored["path"])
        raise
    return attachment


def check_upload(upload: Upload) -> tuple[str, str]:
    """Return the MIME type and extension of a file that may be kept; refuse any other.

    Callers that write something else first check the file here, so a bad file writes nothing.
    """
    data = upload.data
    if not data:
        raise ValidationError({"file": ["文件为空"]})
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise TooLarge("file", MAX_ATTACHMENT_BYTES)
    kind = next(((mime, ext) for magic, mime, ext in FILE_TYPES if data.startswith(magic)), None)
    if kind is None:
        raise ValidationError({"file": ["只接受 JPEG、PNG 照片或 PDF 扫描件"]})
    return kind


def _store(bank: Bank, application: Application, upload: Upload, instance_path: str) -> dict:
    """Write the file to the instance folder; refuse what is not a JPEG, PNG or PDF."""
    data = upload.data
    mime, ext = check_upload(upload)
    relative = Path("foundation") / bank.code / str(application.id) / f"{secrets.token_hex(8)}.{ext}"
    target = Path(instance_path) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    name = Path(upload.filename or f"file.{ext}").name[:200] or f"file.{ext}"
    return {"filename": name, "path": relative.as_posix(), "content_type": mime, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def _unlink(instance_path: str, relative: str) -> None:
    (Path(instance_path) / relative).unlink(missing_ok=True)


def attachments_of(session: Session, application_id: int) -> list[Attachment]:
    return list(session.execute(select(Attachment).where(Attachment.application_id == application_id)
                                .order_by(Attachment.id)).scalars())


def attachment_file(session: Session, bank: Bank, application_id: int, attachment_id: int, *,
                    instance_path: str, public: bool = False) -> tuple[Attachment, Path]:
    """Return an attachment and where its file is; on the public page, only a funded project's
    progress photos."""
    application = get_application(session, bank, application_id)
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.application_id != application.id:
        raise NotFound("附件", "attachment")
    if public and (attachment.kind != "progress" or application.state not in wf.FUNDED):
        raise NotFound("附件", "attachment")
    return attachment, Path(instance_path) / attachment.path


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
                     note: str, clock: Clock) -> PanelSeat:
    """Let a reviewer stand aside from an application, in their own words."""
    with transaction(session):
        application = _locked_application(session, bank, application_id)
        seat = _seat(session, application, user)
        if session.execute(select(Score.id).where(Score.application_id == application.id,
                                                  Score.user_id == user.id)).first():
            raise AlreadyScored("已经评分，不能再申报回避", "already scored: too late to declare a conflict")
        seat.declared_conflict, seat.declared_note, seat.declared_at = True, note, clock.now()
        audit.record(session, bank_id=bank.id, actor=user.name, action="conflict_declare",
                     subject=f"application:{application.id}", detail={"note": note}, clock=clock)
    return seat


def _seat(session: Session, application: Application, user: User) -> PanelSeat:
    seat = session.execute(select(PanelSeat).where(PanelSeat.application_id == application.id,
                                                   PanelSeat.user_id == user.id)).scalar_one_or_none()
    if seat is None:
        raise NotOnPanel("你不在该申请的评审名单中", "you are not on this application's panel")
    return seat


def submit_scores(session: Session, bank: Bank, application_id: int, *, user: User,
                  scores: dict[str, int], comments: dict[str, str | None], clock: Clock) -> list[Score]:
    """Record one reviewer's scores, 0–5 on every criterion of the bank's rules, once."""
    criteria = rules_of(session, bank).criteria
    problems = wf.score_problems(scores, [c.code for c in criteria])
    if problems:
        raise ValidationError({"scores": [f"{code}: {m}" for code, ms in problems.items() for m in ms]})
    with transaction(session):
        application = _locked_application(session, bank, application_id)
        if application.state != wf.IN_REVIEW:
            raise IllegalTransition(f"申请当前状态为「{application.state}」，不在评审中，不能评分",
                                    f"the application is {application.state}, not in review")
        seat = _seat(session, application, user)
        mine = next(s for s in panel(session, application) if s.user_id == seat.user_id)
        if mine.recused:
            why = {wf.MEMBER: "你是申请主体的成员", wf.HOUSEHOLD: "你与申请主体的成员同户",
                   wf.DECLARED: "你已申报利益冲突"}[mine.recused]
            raise Recused(f"{why}，须回避，不能评分", f"you are recused ({mine.recused}) and may not score")
        if mine.scored:
            raise AlreadyScored("你已对该申请评过分", "you have already scored this application")
        now = clock.now()
        rows = [Score(bank_id=bank.id, application_id=application.id, user_id=user.id,
                      criterion=c.code, weight=c.weight, score=scores[c.code],
                      comment=comments.get(c.code), at=now) for c in criteria]
        session.add_all(rows)
        audit.record(session, bank_id=bank.id, actor=user.name, action="score",
                     subject=f"application:{application.id}", detail=scores, clock=clock)
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
    for score, _ in scores:
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
           clock: Clock) -> Decision:
    """Record the council meeting that awards (with an amount) or declines (with a reason).

    The meeting needs its quorum and votes that add up; the review must be complete; an award
    is never more than was asked nor more than the fund has free for projects.
    """
    settings = rules_of(session, bank)
    problems = wf.vote_problems(attendees=len(attendees), quorum=settings.quorum,
                                votes_for=votes_for, votes_against=votes_against,
                                abstaining=abstaining, outcome=outcome)
    if len(set(attendees)) != len(attendees):
        problems["attendees"] = ["出席人员重复"]
    if met_on > clock.today():
        problems["met_on"] = ["会议日期不能晚于今天"]
    if outcome == wf.AWARDED and amount is None:
        problems["amount"] = ["资助须写明金额"]
    if outcome == wf.DECLINED and not reason:
        problems["reason"] = ["不予资助须写明理由"]
    if problems:
        raise ValidationError(problems)
    with transaction(session):
        lock_chain(session, bank.id)  # awards are checked against the fund one at a time
        application = _locked_application(session, bank, application_id)
        action = "award" if outcome == wf.AWARDED else "decline"
        try:
            wf.next_state(application.state, action)
        except wf.IllegalMove as move_:
            raise IllegalTransition.of(move_) from None
        view = review_view(session, application, viewer=user)
        if not view["complete"]:
            raise ReviewIncomplete("还有理事未评分，评审完成后才能上会决定",
                                   "reviewers have not all scored yet")
        if outcome == wf.AWARDED:
            if amount > application.amount_requested:
                raise AwardExceedsRequest(
                    f"资助金额 {yuan(amount)} 超过申请金额 {yuan(application.amount_requested)}",
                    f"award {yuan(amount)} exceeds the {yuan(application.amount_requested)} requested",
                    fields={"amount": [f"≤ {yuan(application.amount_requested)}"]})
            free = fund_position(session, bank)["free"]
            if amount > free:
                raise AwardExceedsFund(
                    f"资助金额 {yuan(amount)} 超过基金可用于微项目的余额 {yuan(max(free, 0))}",
                    f"award {yuan(amount)} exceeds the {yuan(max(free, 0))} the fund has free for projects",
                    fields={"amount": [f"≤ {yuan(max(free, 0))}"]})
        _step(session, application, action, user=user, note=minutes[:200], clock=clock)
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
    return decision


def decision_of(session: Session, application_id: int) -> Decision | None:
    return session.execute(select(Decision).where(
        Decision.application_id == application_id)).scalar_one_or_none()


# --- money: tranches, spending, return -----------------------------------------------------------

def pay_tranche(session: Session, bank: Bank, application_id: int, *, amount: int,
                memo: str | None, user: User, clock: Clock,
                idem: Idempotency | None = None) -> Tranche:
    """Pay part of an award from the fund into the project's account, never beyond the award.

    Project-restricted money is drawn first, then unrestricted. The first tranche starts the
    project (awarded → in progress).
    """
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(Tranche, replayed[1]["tranche"])
        application = _locked_application(session, bank, application_id)
        if application.state not in (wf.AWARDED, wf.IN_PROGRESS):
            raise IllegalTransition(f"申请当前状态为「{application.state}」，不能拨款",
                                    f"cannot pay a tranche to an application that is {application.state}")
        remaining = application.amount_awarded - application.disbursed
        if amount > remaining:
            raise TrancheExceedsAward(
                f"本次拨款 {yuan(amount)} 超过资助余额 {yuan(remaining)}（资助 "
                f"{yuan(application.amount_awarded)}，已拨 {yuan(application.disbursed)}）",
                f"tranche {yuan(amount)} exceeds the {yuan(remaining)} left of the award",
                fields={"amount": [f"≤ {yuan(remaining)}"]})
        fund = {code: accounts.system_account(session, bank.id, CNY, code)
                for code in (RESTRICTED, UNRESTRICTED)}
        try:
            restricted, unrestricted = wf.split_draw(amount, restricted=fund[RESTRICTED].balance,
                                                     unrestricted=fund[UNRESTRICTED].balance)
        except ValueError:
            have = max(fund[RESTRICTED].balance, 0) + max(fund[UNRESTRICTED].balance, 0)
            raise InsufficientFund(f"基金现有 {yuan(have)}，不足以拨付 {yuan(amount)}",
                                   f"the fund holds {yuan(have)}, not enough for {yuan(amount)}") from None
        project = _project_account(session, application)
        today = clock.today()
        note = f"微项目#{application.id} {application.title}" + (f"：{memo}" if memo else "")
        drafts = [Draft(ledger=CNY, debit_id=fund[code].id, credit_id=project.id, amount=part,
                        kind="project_tranche", occurred_on=today, memo=note)
                  for code, part in ((RESTRICTED, restricted), (UNRESTRICTED, unrestricted)) if part]
        transfers = post(session, bank.id, drafts, by=user.name, clock=clock, idempotency=idem)
        tranche = Tranche(bank_id=bank.id, application_id=application.id, amount=amount,
                          from_restricted=restricted, from_unrestricted=unrestricted, paid_on=today,
                          memo=memo, by=user.name, at=clock.now())
        session.add(tranche)
        session.flush()
        session.add_all(LedgerLink(bank_id=bank.id, purpose="tranche", transfer_id=t.id,
                                   application_id=application.id, tranche_id=tranche.id)
                        for t in transfers)
        application.disbursed += amount
        if application.state == wf.AWARDED:
            _step(session, application, "start", user=user, note="首笔拨款", clock=clock)
        idempotency.remember(session, bank.id, idem, 201, {"tranche": tranche.id}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=user.name, action="tranche",
                     subject=f"application:{application.id}",
                     detail={"amount": amount, "transfers": [t.id for t in transfers]}, clock=clock)
    return tranche


def _project_account(session: Session, application: Application) -> Account:
    return accounts.money_account(session, application.bank_id, project_account_code(application.id),
                                  name=f"微项目#{application.id} {application.title}", kind="project")


def tranches_of(session: Session, application_id: int) -> list[Tranche]:
    return list(session.execute(select(Tranche).where(Tranche.application_id == application_id)
                                .order_by(Tranche.id)).scalars())


def complete(session: Session, bank: Bank, application_id: int, *, spent: list[tuple[str, int]],
             report: str, user: User, clock: Clock,
             idem: Idempotency | None = None) -> Application:
    """Close the books of a project: what it spent goes to spent:projects, the rest back to the
    fund (unrestricted first, up to what came from there), and the project is completed."""
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(Application, replayed[1]["application"])
        application = _locked_application(session, bank, application_id)
        total = sum(amount for _, amount in spent)
        _step(session, application, "complete", user=user, note=report[:200], clock=clock)
        project = _project_account(session, application)
        if total > project.balance:
            raise SpentExceedsDisbursed(
                f"支出合计 {yuan(total)} 超过项目已拨付未用的 {yuan(project.balance)}",
                f"spending {yuan(total)} exceeds the {yuan(project.balance)} the project holds",
                fields={"spent": [f"≤ {yuan(project.balance)}"]})
        unspent = project.balance - total
        drawn_restricted, drawn_unrestricted = session.execute(select(
            func.coalesce(func.sum(Tranche.from_restricted), 0),
            func.coalesce(func.sum(Tranche.from_unrestricted), 0)).where(
            Tranche.application_id == application.id)).one()
        back_restricted, back_unrestricted = wf.split_return(
            unspent, drawn_restricted=int(drawn_restricted), drawn_unrestricted=int(drawn_unrestricted))
        today = clock.today()
        note = f"微项目#{application.id} {application.title}"
        legs = [("spent", SPENT, total, "project_spend", f"{note} 结项支出"),
                ("returned", RESTRICTED, back_restricted, "project_return", f"{note} 结余退回"),
                ("returned", UNRESTRICTED, back_unrestricted, "project_return", f"{note} 结余退回")]
        legs = [leg for leg in legs if leg[2]]
        drafts = [Draft(ledger=CNY, debit_id=project.id,
                        credit_id=accounts.system_account(session, bank.id, CNY, code).id,
                        amount=amount, kind=kind, occurred_on=today, memo=memo)
                  for _, code, amount, kind, memo in legs]
        transfers = post(session, bank.id, drafts, by=user.name, clock=clock, idempotency=idem)
        session.add_all(LedgerLink(bank_id=bank.id, purpose=purpose, transfer_id=t.id,
                                   application_id=application.id)
                        for (purpose, *_), t in zip(legs, transfers))
        session.add_all(Line(bank_id=bank.id, application_id=application.id, kind="spent",
                             position=i, item=item, amount=amount)
                        for i, (item, amount) in enumerate(spent))
        application.spent, application.returned = total, unspent
        application.completion_report = report
        idempotency.remember(session, bank.id, idem, 201, {"application": application.id}, clock=clock)
    return application


# --- progress and volunteers ---------------------------------------------------------------------

def add_progress(session: Session, bank: Bank, application_id: int, *, reported_on: date,
                 percent: int, text: str, photos: list[Upload], user: User, clock: Clock,
                 instance_path: str) -> Progress:
    """Record how far a project has come, with photos."""
    if reported_on > clock.today():
        raise ValidationError({"reported_on": ["日期不能晚于今天"]})
    stored: list[dict] = []
    try:
        with transaction(session):
            application = get_application(session, bank, application_id)
            if application.state != wf.IN_PROGRESS:
                raise IllegalTransition(f"申请当前状态为「{application.state}」，只有实施中的项目能报告进展",
                                        f"only a project in progress reports progress, this one is {application.state}")
            progress = Progress(bank_id=bank.id, application_id=application.id,
                                reported_on=reported_on, percent=percent, text=text, by=user.name,
                                at=clock.now())
            session.add(progress)
            session.flush()
            for photo in photos:
                stored.append(_store(bank, application, photo, instance_path))
                session.add(Attachment(bank_id=bank.id, application_id=application.id,
                                       progress_id=progress.id, kind="progress", entered_by=user.name,
                                       entered_at=clock.now(), **stored[-1]))
            audit.record(session, bank_id=bank.id, actor=user.name, action="progress",
                         subject=f"application:{application.id}",
                         detail={"percent": percent, "photos": len(photos)}, clock=clock)
    except BaseException:
        for s in stored:
            _unlink(instance_path, s["path"])
        raise
    return progress


def progress_of(session: Session, application_id: int) -> list[Progress]:
    return list(session.execute(select(Progress).where(Progress.application_id == application_id)
                                .order_by(Progress.reported_on.desc(), Progress.id.desc())).scalars())


def credit_volunteers(session: Session, bank: Bank, application_id: int, *, resident_ids: list[int],
                      quantity: int, occurred_on: date, memo: str | None, rule_code: str | None,
                      user: User, clock: Clock,
                      idem: Idempotency | None = None) -> ledger_services.DeedOutcome:
    """Credit volunteers who worked on an awarded project with points, through the ledger's deed
    service, and link each deed to the project.

    The deed and its link are two transactions (the deed service owns its own); a retry with the
    same Idempotency-Key replays the deed and writes any link still missing.
    """
    application = get_application(session, bank, application_id)
    if application.state not in (wf.AWARDED, wf.IN_PROGRESS, wf.COMPLETED):
        raise IllegalTransition(f"申请当前状态为「{application.state}」，只有获资助的项目能记志愿服务",
                                f"only an awarded project credits volunteers, this one is {application.state}")
    rule_code = rule_code or rules_of(session, bank).volunteer_rule
    if not rule_code:
        raise ValidationError({"rule": ["规则文件未设置 foundation.volunteer_rule，请指定规则"]})
    rule = ledger_services.rulebook(session, bank.id)[1].rule_for(rule_code, occurred_on)
    if rule is not None and rule.points < 0:
        raise ValidationError({"rule": [f"规则 {rule_code} 是扣分规则，不能用于志愿服务记分"]})
    note = f"微项目#{application.id} {application.title}" + (f"：{memo}" if memo else "")
    outcome = ledger_services.post_deed(session, bank, rule_code=rule_code, resident_ids=resident_ids,
                                        quantity=quantity, occurred_on=occurred_on, memo=note,
                                        by=user.name, clock=clock, idem=idem)
    _link_deeds(session, bank, outcome, purpose="volunteer", application_id=application.id)
    return outcome


def _link_deeds(session: Session, bank: Bank, outcome, *, purpose: str,
                application_id: int | None = None, wish_id: int | None = None) -> None:
    with transaction(session):
        have_t = set(session.execute(select(LedgerLink.transfer_id).where(
            LedgerLink.transfer_id.in_([t.id for t in outcome.transfers] or [0]))).scalars())
        have_p = set(session.execute(select(LedgerLink.pending_id).where(
            LedgerLink.pending_id.in_([p.id for p in outcome.pending] or [0]))).scalars())
        session.add_all(LedgerLink(bank_id=bank.id, purpose=purpose, transfer_id=t.id,
                                   application_id=application_id, wish_id=wish_id,
                                   resident_id=t.doer_id)
                        for t in outcome.transfers if t.id not in have_t)
        session.add_all(LedgerLink(bank_id=bank.id, purpose=purpose, pending_id=p.id,
                                   application_id=application_id, wish_id=wish_id,
                                   resident_id=p.resident_id)
                        for p in outcome.pending if p.id not in have_p)


def volunteer_links(session: Session, application_id: int) -> list[dict]:
    rows = session.execute(
        select(LedgerLink, Resident.name, Transfer.amount, Transfer.occurred_on)
        .join(Resident, Resident.id == LedgerLink.resident_id)
        .outerjoin(Transfer, Transfer.id == LedgerLink.transfer_id)
        .where(LedgerLink.application_id == application_id, LedgerLink.purpose == "volunteer")
        .order_by(LedgerLink.id)).all()
    return [{"resident": link.resident_id, "name": name, "transfer": link.transfer_id,
             "pending": link.pending_id, "points": amount, "occurred_on": day}
            for link, name, amount, day in rows]


# --- wishes --------------------------------------------------------------------------------------

def collect_wish(session: Session, bank: Bank, *, resident_id: int, title: str, description: str,
                 estimated_value: int | None, by: str, clock: Clock) -> Wish:
    """Write down a resident's wish, usually taken by the clerk."""
    with transaction(session):
        [resident] = named_residents(session, bank, [resident_id], field="resident")
        wish = Wish(bank_id=bank.id, resident_id=resident.id, title=title, description=description,
                    estimated_value=estimated_value, state=wf.COLLECTED, collected_by=by,
                    collected_at=clock.now())
        session.add(wish)
        session.flush()
        audit.record(session, bank_id=bank.id, actor=by, action="wish_collect",
                     subject=f"wish:{wish.id}", clock=clock)
    return wish


def get_wish(session: Session, bank: Bank, wish_id: int) -> Wish:
    return bank_row(session, Wish, wish_id, bank.id, "心愿", "wish")


def list_wishes(session: Session, bank: Bank, *, state: str | None = None, limit: int,
                before: int | None = None) -> list[Wish]:
    stmt = select(Wish).where(Wish.bank_id == bank.id)
    if state:
        stmt = stmt.where(Wish.state == state)
    if before is not None:
        stmt = stmt.where(Wish.id < before)
    return list(session.execute(stmt.order_by(Wish.id.desc()).limit(limit)).scalars())


def _locked_wish(session: Session, bank: Bank, wish_id: int) -> Wish:
    return bank_row(session, Wish, wish_id, bank.id, "心愿", "wish", with_for_update=True)


def _wish_step(wish: Wish, action: str) -> None:
    try:
        wish.state = wf.next_wish_state(wish.state, action)
    except wf.IllegalMove as move_:
        if action == "claim":
            raise WishNotOpen(f"该心愿当前「{move_.state}」，不在心愿墙上待认领",
                              f"this wish is {move_.state}, not open for claiming") from None
        raise IllegalTransition.of(move_) from None


def review_wish(session: Session, bank: Bank, wish_id: int, action: str, *, reason: str | None,
                by: str, clock: Clock) -> Wish:
    """Verify a wish (a reviewer), reject it with a reason, or publish it on the wall."""
    if action == "reject" and not reason:
        raise ValidationError({"reason": ["驳回须写明理由"]})
    with transaction(session):
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, action)
        now = clock.now()
        if action == "verify":
            wish.verified_by, wish.verified_at = by, now
        elif action == "reject":
            wish.reject_reason = reason
        elif action == "publish":
            wish.published_at = now
        audit.record(session, bank_id=bank.id, actor=by, action=f"wish_{action}",
                     subject=f"wish:{wish.id}", detail={"reason": reason} if reason else None,
                     clock=clock)
    return wish


def claim_wish(session: Session, bank: Bank, wish_id: int, *, donors: list[dict],
               deadline: date | None, by: str, clock: Clock) -> Claim:
    """Record that one donor, or several together, will fulfil a wish by a deadline.

    A donor is a resident (by id) or an outside person or unit with a name and a phone.
    """
    problems: dict[str, list[str]] = {}
    today = clock.today()
    if deadline is not None and deadline < today:
        problems["deadline"] = ["认领期限不能早于今天"]
    seen = set()
    for i, d in enumerate(donors):
        key = ("resident", d["resident"]) if d.get("resident") else (d["kind"], d.get("name"), d.get("phone"))
        if key in seen:
            problems.setdefault("donors", []).append(f"第 {i + 1} 位认领人重复")
        seen.add(key)
        if not d.get("resident") and (not d.get("name") or not d.get("phone")):
            problems.setdefault("donors", []).append(f"第 {i + 1} 位认领人：非本村居民须填写姓名和电话")
    if problems:
        raise ValidationError(problems)
    with transaction(session):
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, "claim")
        resident_ids = [d["resident"] for d in donors if d.get("resident")]
        residents = {r.id: r for r in named_residents(session, bank, resident_ids, field="donors")}
        claim = Claim(bank_id=bank.id, wish_id=wish.id, status="active",
                      deadline=deadline or today + timedelta(days=rules_of(session, bank).claim_days),
                      claimed_by=by, claimed_at=clock.now())
        session.add(claim)
        session.flush()
        for d in donors:
            if d.get("resident"):
                r = residents[d["resident"]]
                session.add(Donor(bank_id=bank.id, claim_id=claim.id, kind="resident",
                                  resident_id=r.id, name=r.name, phone=r.phone))
            else:
                session.add(Donor(bank_id=bank.id, claim_id=claim.id, kind=d["kind"],
                                  name=d["name"], phone=d["phone"]))
        audit.record(session, bank_id=bank.id, actor=by, action="wish_claim",
                     subject=f"wish:{wish.id}", detail={"claim": claim.id, "donors": len(donors)},
                     clock=clock)
    return claim


def current_claim(session: Session, wish_id: int) -> Claim | None:
    return session.execute(select(Claim).where(Claim.wish_id == wish_id).order_by(Claim.id.desc())
                           .limit(1)).scalar_one_or_none()


def donors_of(session: Session, claim_id: int) -> list[Donor]:
    return list(session.execute(select(Donor).where(Donor.claim_id == claim_id)
                                .order_by(Donor.id)).scalars())


def deliver_wish(session: Session, bank: Bank, wish_id: int, *, gifts: dict[int, int],
                 delivered_on: date, by: str, clock: Clock,
                 idem: Idempotency | None = None) -> Wish:
    """Record that the gift was delivered, each donor's part at its stated value, on the CNY
    ledger as an in-kind gift: source:donor (a resident) or source:sponsor (anyone else) →
    inkind:received. The fund's cash accounts are not touched."""
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(Wish, replayed[1]["wish"])
        periods.check_dated(session, bank.id, delivered_on, today=clock.today(), field="delivered_on",
                            backdate_days=ledger_services.rulebook(session, bank.id)[1]
                            .settings.cycle.backdate_days)
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, "deliver")
        claim = current_claim(session, wish.id)
        if claim.deadline < clock.today():
            raise ConflictError(f"认领已于 {claim.deadline.isoformat()} 到期，心愿将重回心愿墙",
                                f"the claim expired on {claim.deadline.isoformat()}", code="claim_expired")
        donors = donors_of(session, claim.id)
        if set(gifts) != {d.id for d in donors}:
            raise ValidationError({"gifts": [f"须为每位认领人（{', '.join(str(d.id) for d in donors)}）"
                                             "各填一项价值"]})
        received = accounts.system_account(session, bank.id, CNY, INKIND_RECEIVED)
        drafts = []
        for d in donors:
            d.value = gifts[d.id]
            source = accounts.system_account(session, bank.id, CNY, DONOR_SOURCE[d.kind])
            drafts.append(Draft(ledger=CNY, debit_id=source.id, credit_id=received.id, amount=d.value,
                                kind="inkind_gift", occurred_on=delivered_on,
                                doer_id=d.resident_id, memo=f"微心愿#{wish.id} {wish.title}（{d.name}）"))
        transfers = post(session, bank.id, drafts, by=by, clock=clock, idempotency=idem)
        session.add_all(LedgerLink(bank_id=bank.id, purpose="inkind", transfer_id=t.id, wish_id=wish.id,
                                   resident_id=d.resident_id) for t, d in zip(transfers, donors))
        claim.status, claim.delivered_on = "delivered", delivered_on
        idempotency.remember(session, bank.id, idem, 200, {"wish": wish.id}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=by, action="wish_deliver", subject=f"wish:{wish.id}",
                     detail={"gifts": {str(k): v for k, v in gifts.items()}}, clock=clock)
    return wish


def confirm_wish(session: Session, bank: Bank, wish_id: int, *, thanks: str, user: User,
                 clock: Clock, idem: Idempotency | None = None) -> Wish:
    """Close a wish with the resident's thank-you note: the gift moves inkind:received →
    inkind:given, and resident donors earn points through the rule file's donor rule.

    The points go first, through the deed service (its own transaction): if the rule refuses
    (a cap), nothing is written at all.
    """
    wish = get_wish(session, bank, wish_id)
    try:  # refuse early, before any points move
        wf.next_wish_state(wish.state, "confirm")
    except wf.IllegalMove as move_:
        raise IllegalTransition.of(move_) from None
    claim = current_claim(session, wish.id)
    donors = donors_of(session, claim.id)
    rule = rules_of(session, bank).donor_rule
    resident_donors = [d.resident_id for d in donors if d.resident_id]
    if rule and resident_donors:
        # One key per claim: however often the confirmation is retried, donors are credited once.
        key = Idempotency(f"foundation:wish:{wish.id}:claim:{claim.id}:donor-points", "-")
        outcome = ledger_services.post_deed(session, bank, rule_code=rule, resident_ids=resident_donors,
                                            quantity=1, occurred_on=clock.today(),
                                            memo=f"微心愿#{wish.id} {wish.title}", by=user.name,
                                            clock=clock, idem=key)
        _link_deeds(session, bank, outcome, purpose="donor", wish_id=wish.id)
    with transaction(session):
        lock_chain(session, bank.id)
        replayed = idempotency.replay(session, bank.id, idem)
        if replayed:
            return session.get(Wish, replayed[1]["wish"])
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, "confirm")
        received = accounts.system_account(session, bank.id, CNY, INKIND_RECEIVED)
        given = accounts.system_account(session, bank.id, CNY, INKIND_GIVEN)
        drafts = [Draft(ledger=CNY, debit_id=received.id, credit_id=given.id, amount=d.value,
                        kind="inkind_given", occurred_on=clock.today(), doer_id=d.resident_id,
                        memo=f"微心愿#{wish.id} {wish.title} 已送达（{d.name}）")
                  for d in donors if d.value]
        transfers = post(session, bank.id, drafts, by=user.name, clock=clock, idempotency=idem)
        session.add_all(LedgerLink(bank_id=bank.id, purpose="inkind", transfer_id=t.id, wish_id=wish.id)
                        for t in transfers)
        wish.thanks, wish.fulfilled_on = thanks, clock.today()
        claim = session.get(Claim, claim.id)
        claim.status, claim.closed_at = "fulfilled", clock.now()
        idempotency.remember(session, bank.id, idem, 200, {"wish": wish.id}, clock=clock)
        audit.record(session, bank_id=bank.id, actor=user.name, action="wish_confirm",
                     subject=f"wish:{wish.id}", clock=clock)
    return wish


def expire_claims(session: Session, bank: Bank, *, clock: Clock) -> list[int]:
    """Put back on the wall every wish whose claim passed its deadline undelivered.

    For the scheduled cycle: safe to run any number of times; returns the wishes put back.
    """
    with transaction(session):
        overdue = session.execute(select(Claim, Wish).join(Wish, Wish.id == Claim.wish_id).where(
            Claim.bank_id == bank.id, Claim.status == "active", Claim.deadline < clock.today(),
            Wish.state == wf.CLAIMED).with_for_update()).all()
        for claim, wish in overdue:
            claim.status, claim.closed_at = "expired", clock.now()
            _wish_step(wish, "expire")
            audit.record(session, bank_id=bank.id, actor="cycle", action="wish_claim_expire",
                         subject=f"wish:{wish.id}", detail={"claim": claim.id,
                                                            "deadline": claim.deadline}, clock=clock)
    return [wish.id for _, wish in overdue]


# --- public page and quarterly report --------------------------------------------------------------

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
