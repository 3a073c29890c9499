"""A funded project's money and work: tranches from the fund into the project's account, the
completion that books what was spent and returns the rest, progress reports with photos, and
volunteers' points linked to the project.

Each service takes the session and what it needs, makes its checks, and owns the transaction:
it commits on success and rolls everything back on error. Writes that move money take the
bank's posting lock first, so a balance checked is still the balance when the transfer lands.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground import audit
from ledger import accounts, idempotency
from ledger import banks, deeds
from ground.clock import Clock
from ground.db import transaction
from ground.errors import ValidationError
from ledger.formatting import yuan
from ledger.models import CNY, Account, Resident, Transfer
from ground.tenants import Bank
from ledger.posting import Draft, Idempotency, lock_chain, post
from ground.tenants import User

from . import workflow as wf
from .applications import _locked_application, _step, get_application
from .attachments import Upload, _store, _unlink
from .common import RESTRICTED, SPENT, UNRESTRICTED, _link_deeds, rules_of
from .errors import IllegalTransition, InsufficientFund, SpentExceedsDisbursed, TrancheExceedsAward
from .models import Application, Attachment, LedgerLink, Line, Progress, Tranche


# --- tranches, spending, return ----------------------------------------------------------------

def project_account_code(application_id: int) -> str:
    return f"project:{application_id}"


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
        [transfers] = post(session, bank.id, drafts, by=user.name, clock=clock, idempotency=idem)
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
        [transfers] = post(session, bank.id, drafts, by=user.name, clock=clock, idempotency=idem)
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
                      idem: Idempotency | None = None) -> deeds.DeedOutcome:
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
    rule = banks.rulebook(session, bank.id)[1].rule_for(rule_code, occurred_on)
    if rule is not None and rule.points < 0:
        raise ValidationError({"rule": [f"规则 {rule_code} 是扣分规则，不能用于志愿服务记分"]})
    note = f"微项目#{application.id} {application.title}" + (f"：{memo}" if memo else "")
    outcome = deeds.post_deed(session, bank, rule_code=rule_code, resident_ids=resident_ids,
                              quantity=quantity, occurred_on=occurred_on, memo=note,
                              by=user.name, clock=clock, idem=idem)
    _link_deeds(session, bank, outcome, purpose="volunteer", application_id=application.id)
    return outcome


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
