"""A funded project's money and work: tranches from the fund into the project's account, the
completion that books what was spent and returns the rest, progress reports with photos, and
volunteers' points linked to the project.

Each service writes as one unit of work (ledger.unit.UnitOfWork): its checks under the bank's
posting lock (a balance checked is still the balance when the transfers land), the idempotency
key replayed or its outcome remembered, the audit entry, and the commit, or nothing at all.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.errors import ValidationError
from ground.i18n import _
from ground.tenants import Bank, User
from ledger import accounts, banks, deeds
from ledger.formatting import yuan
from ledger.models import CNY, Account, PendingDeed, Resident, Transfer
from ledger.posting import Draft, Idempotency
from ledger.residents import named_residents
from ledger.unit import UnitOfWork

from . import workflow as wf
from .applications import _locked_application, _step, get_application
from .attachments import Upload, _store, _unlink
from .common import RESTRICTED, SPENT, UNRESTRICTED, link, rules_of
from .errors import (STATE_NAMES, IllegalTransition, InsufficientFund, SpentExceedsDisbursed,
                     TrancheExceedsAward)
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
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Tranche, uow.replayed.data["tranche"])
        application = _locked_application(session, bank, application_id)
        if application.state not in (wf.AWARDED, wf.IN_PROGRESS):
            raise IllegalTransition(_("申请当前状态为「%(state)s」，不能拨款",
                                      state=STATE_NAMES.get(application.state, application.state)))
        remaining = application.amount_awarded - application.disbursed
        if amount > remaining:
            raise TrancheExceedsAward(
                _("本次拨款 %(amount)s 超过资助余额 %(remaining)s（资助 %(awarded)s，已拨 %(disbursed)s）",
                  amount=yuan(amount), remaining=yuan(remaining),
                  awarded=yuan(application.amount_awarded), disbursed=yuan(application.disbursed)),
                fields={"amount": [f"≤ {yuan(remaining)}"]})
        fund = {code: accounts.system_account(session, bank.id, CNY, code)
                for code in (RESTRICTED, UNRESTRICTED)}
        try:
            restricted, unrestricted = wf.split_draw(amount, restricted=fund[RESTRICTED].balance,
                                                     unrestricted=fund[UNRESTRICTED].balance)
        except ValueError:
            have = max(fund[RESTRICTED].balance, 0) + max(fund[UNRESTRICTED].balance, 0)
            raise InsufficientFund(_("基金现有 %(have)s，不足以拨付 %(amount)s", have=yuan(have),
                                     amount=yuan(amount))) from None
        project = _project_account(session, application)
        today = clock.today()
        note = f"微项目#{application.id} {application.title}" + (f"：{memo}" if memo else "")
        drafts = [Draft(ledger=CNY, debit_id=fund[code].id, credit_id=project.id, amount=part,
                        kind="project_tranche", occurred_on=today, memo=note)
                  for code, part in ((RESTRICTED, restricted), (UNRESTRICTED, unrestricted)) if part]
        [entry] = uow.post(drafts)
        tranche = Tranche(bank_id=bank.id, application_id=application.id, amount=amount,
                          from_restricted=restricted, from_unrestricted=unrestricted, paid_on=today,
                          memo=memo, by=user.name, at=clock.now())
        session.add(tranche)
        session.flush()
        link(session, bank, "tranche", entries=[entry], application_id=application.id,
             tranche_id=tranche.id)
        application.disbursed += amount
        if application.state == wf.AWARDED:
            _step(uow, application, "start", user=user, note="首笔拨款")
        uow.remember("posted", {"tranche": tranche.id})
        uow.audit("tranche", f"application:{application.id}",
                  {"amount": amount, "transfers": [t.id for t in entry]})
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
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem, amounts="spent") as uow:
        if uow.replayed:
            return session.get(Application, uow.replayed.data["application"])
        application = _locked_application(session, bank, application_id)
        total = sum(amount for _item, amount in spent)
        _step(uow, application, "complete", user=user, note=report[:200])
        project = _project_account(session, application)
        if total > project.balance:
            raise SpentExceedsDisbursed(
                _("支出合计 %(total)s 超过项目已拨付未用的 %(held)s", total=yuan(total),
                  held=yuan(project.balance)),
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
        legs = [(SPENT, total, "project_spend", f"{note} 结项支出"),
                (RESTRICTED, back_restricted, "project_return", f"{note} 结余退回"),
                (UNRESTRICTED, back_unrestricted, "project_return", f"{note} 结余退回")]
        drafts = [Draft(ledger=CNY, debit_id=project.id,
                        credit_id=accounts.system_account(session, bank.id, CNY, code).id,
                        amount=amount, kind=kind, occurred_on=today, memo=memo)
                  for code, amount, kind, memo in legs if amount]
        link(session, bank, "completion", entries=uow.post(drafts), application_id=application.id)
        session.add_all(Line(bank_id=bank.id, application_id=application.id, kind="spent",
                             position=i, item=item, amount=amount)
                        for i, (item, amount) in enumerate(spent))
        application.spent, application.returned = total, unspent
        application.completion_report = report
        uow.remember("posted", {"application": application.id})
    return application


# --- progress and volunteers ---------------------------------------------------------------------

def add_progress(session: Session, bank: Bank, application_id: int, *, reported_on: date,
                 percent: int, text: str, photos: list[Upload], user: User, clock: Clock,
                 instance_path: str, idem: Idempotency | None = None) -> Progress:
    """Record how far a project has come, with photos; a retry with the same key returns the
    report the first one recorded."""
    if reported_on > clock.today():
        raise ValidationError({"reported_on": [_("日期不能晚于今天")]})
    stored: list[dict] = []
    try:
        with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
            if uow.replayed:
                return session.get(Progress, uow.replayed.data["progress"])
            application = get_application(session, bank, application_id)
            if application.state != wf.IN_PROGRESS:
                raise IllegalTransition(_("申请当前状态为「%(state)s」，只有实施中的项目能报告进展",
                                          state=STATE_NAMES.get(application.state, application.state)))
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
            uow.remember("created", {"progress": progress.id})
            uow.audit("progress", f"application:{application.id}",
                      {"percent": percent, "photos": len(photos)})
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
    """Credit volunteers who worked on an awarded project with points, as the ledger's deeds
    are credited, each deed linked to the project: all in one unit of work."""
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem, amounts="quantity") as uow:
        if uow.replayed:
            return _deeds(session, uow.replayed.data)
        application = get_application(session, bank, application_id)
        if application.state not in (wf.AWARDED, wf.IN_PROGRESS, wf.COMPLETED):
            raise IllegalTransition(_("申请当前状态为「%(state)s」，只有获资助的项目能记志愿服务",
                                      state=STATE_NAMES.get(application.state, application.state)))
        rule_code = rule_code or rules_of(session, bank).volunteer_rule
        if not rule_code:
            raise ValidationError({"rule": [_("规则文件未设置 foundation.volunteer_rule，请指定规则")]})
        rule = banks.rulebook(session, bank.id)[1].rule_for(rule_code, occurred_on)
        if rule is not None and rule.points < 0:
            raise ValidationError({"rule": [_("规则 %(code)s 是扣分规则，不能用于志愿服务记分",
                                              code=rule_code)]})
        residents = named_residents(session, bank, resident_ids)
        note = f"微项目#{application.id} {application.title}" + (f"：{memo}" if memo else "")
        outcome, entries = deeds.deed_in(uow, rule_code=rule_code, residents=residents,
                                         quantity=quantity, occurred_on=occurred_on, memo=note)
        link(session, bank, "volunteer", entries=entries, pending=outcome.pending,
             application_id=application.id)
        uow.remember(outcome.kind, {"transfers": [t.id for t in outcome.transfers],
                                    "pending": [p.id for p in outcome.pending]})
    return outcome


def _deeds(session: Session, ids: dict) -> deeds.DeedOutcome:
    transfers = list(session.execute(select(Transfer).where(Transfer.id.in_(ids["transfers"]))
                                     .order_by(Transfer.seq)).scalars()) if ids["transfers"] else []
    pending = list(session.execute(select(PendingDeed).where(PendingDeed.id.in_(ids["pending"]))
                                   .order_by(PendingDeed.id)).scalars()) if ids["pending"] else []
    return deeds.DeedOutcome(transfers, pending)


def volunteer_links(session: Session, application_id: int) -> list[dict]:
    """Return the volunteers credited on a project: each deed posted (its transfer and points)
    or still held for review."""
    rows = session.execute(
        select(LedgerLink.pending_id, Resident.id, Resident.name, Transfer.id, Transfer.amount,
               Transfer.occurred_on)
        .outerjoin(Transfer, (Transfer.bank_id == LedgerLink.bank_id)
                   & (Transfer.seq == LedgerLink.entry_seq))
        .outerjoin(PendingDeed, PendingDeed.id == LedgerLink.pending_id)
        .join(Resident, Resident.id == func.coalesce(Transfer.doer_id, PendingDeed.resident_id))
        .where(LedgerLink.application_id == application_id, LedgerLink.purpose == "volunteer")
        .order_by(LedgerLink.id)).all()
    return [{"resident": resident_id, "name": name, "transfer": transfer_id, "pending": pending_id,
             "points": amount, "occurred_on": day}
            for pending_id, resident_id, name, transfer_id, amount, day in rows]
