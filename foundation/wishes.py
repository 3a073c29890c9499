"""The wish board (微心愿): a resident's wish from its collection through review and the wall,
a claim by one donor or several, the delivery booked as an in-kind gift, and the thanks that
closes it and credits resident donors.

Each service writes as one unit of work (ledger.unit.UnitOfWork): its checks under the bank's
posting lock, the idempotency key replayed or its outcome remembered, the audit entry, and the
commit, or nothing at all on an error.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ConflictError, ValidationError
from ground.i18n import _
from ground.tenants import Bank, User
from ledger import accounts, banks, deeds, periods
from ledger.models import CNY
from ledger.posting import Draft, Idempotency
from ledger.residents import named_residents
from ledger.unit import UnitOfWork

from . import workflow as wf
from .common import DONOR_SOURCE, INKIND_GIVEN, INKIND_RECEIVED, link, rules_of
from .errors import STATE_NAMES, IllegalTransition, WishNotOpen
from .models import Claim, Donor, Wish


def collect_wish(session: Session, bank: Bank, *, resident_id: int, title: str, description: str,
                 estimated_value: int | None, by: str, clock: Clock,
                 idem: Idempotency | None = None) -> Wish:
    """Write down a resident's wish, usually taken by the clerk; a retry with the same key
    returns the wish the first one wrote down."""
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Wish, uow.replayed.data["wish"])
        [resident] = named_residents(session, bank, [resident_id], field="resident")
        wish = Wish(bank_id=bank.id, resident_id=resident.id, title=title, description=description,
                    estimated_value=estimated_value, state=wf.COLLECTED, collected_by=by,
                    collected_at=clock.now())
        session.add(wish)
        session.flush()
        uow.remember("created", {"wish": wish.id})
        uow.audit("wish_collect", f"wish:{wish.id}")
    return wish


def get_wish(session: Session, bank: Bank, wish_id: int) -> Wish:
    return bank_row(session, Wish, wish_id, bank.id, _("找不到该心愿"))


def list_wishes(session: Session, bank: Bank, *, state: str | None = None, limit: int,
                before: int | None = None) -> list[Wish]:
    stmt = select(Wish).where(Wish.bank_id == bank.id)
    if state:
        stmt = stmt.where(Wish.state == state)
    if before is not None:
        stmt = stmt.where(Wish.id < before)
    return list(session.execute(stmt.order_by(Wish.id.desc()).limit(limit)).scalars())


def _locked_wish(session: Session, bank: Bank, wish_id: int) -> Wish:
    return bank_row(session, Wish, wish_id, bank.id, _("找不到该心愿"), with_for_update=True)


def _wish_step(wish: Wish, action: str) -> None:
    try:
        wish.state = wf.next_wish_state(wish.state, action)
    except wf.IllegalMove as move_:
        if action == "claim":
            raise WishNotOpen(_("该心愿当前「%(state)s」，不在心愿墙上待认领",
                                state=STATE_NAMES.get(move_.state, move_.state))) from None
        raise IllegalTransition.of(move_) from None


def review_wish(session: Session, bank: Bank, wish_id: int, action: str, *, reason: str | None,
                by: str, clock: Clock, idem: Idempotency | None = None) -> Wish:
    """Verify a wish (a reviewer), reject it with a reason, or publish it on the wall; a retry
    with the same key returns the wish the first one moved, and moves nothing."""
    if action == "reject" and not reason:
        raise ValidationError({"reason": [_("驳回须写明理由")]})
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Wish, uow.replayed.data["wish"])
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, action)
        now = clock.now()
        if action == "verify":
            wish.verified_by, wish.verified_at = by, now
        elif action == "reject":
            wish.reject_reason = reason
        elif action == "publish":
            wish.published_at = now
        uow.remember(action, {"wish": wish.id})
        uow.audit(f"wish_{action}", f"wish:{wish.id}", {"reason": reason} if reason else None)
    return wish


def claim_wish(session: Session, bank: Bank, wish_id: int, *, donors: list[dict],
               deadline: date | None, by: str, clock: Clock,
               idem: Idempotency | None = None) -> Claim:
    """Record that one donor, or several together, will fulfil a wish by a deadline.

    A donor is a resident (by id) or an outside person or unit with a name and a phone. A retry
    with the same key returns the claim the first one recorded.
    """
    problems: dict[str, list[str]] = {}
    today = clock.today()
    if deadline is not None and deadline < today:
        problems["deadline"] = [_("认领期限不能早于今天")]
    seen = set()
    for i, d in enumerate(donors):
        key = ("resident", d["resident"]) if d.get("resident") else (d["kind"], d.get("name"), d.get("phone"))
        if key in seen:
            problems.setdefault("donors", []).append(_("第 %(n)s 位认领人重复", n=i + 1))
        seen.add(key)
        if not d.get("resident") and (not d.get("name") or not d.get("phone")):
            problems.setdefault("donors", []).append(
                _("第 %(n)s 位认领人：非本村居民须填写姓名和电话", n=i + 1))
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Claim, uow.replayed.data["claim"])
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
        uow.remember("claimed", {"claim": claim.id})
        uow.audit("wish_claim", f"wish:{wish.id}", {"claim": claim.id, "donors": len(donors)})
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
    with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Wish, uow.replayed.data["wish"])
        periods.check_dated(session, bank.id, delivered_on, today=clock.today(), field="delivered_on",
                            backdate_days=banks.rulebook(session, bank.id)[1]
                            .settings.cycle.backdate_days)
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, "deliver")
        claim = current_claim(session, wish.id)
        if claim.deadline < clock.today():
            raise ConflictError(_("认领已于 %(day)s 到期，心愿将重回心愿墙", day=claim.deadline.isoformat()),
                                code="claim_expired")
        donors = donors_of(session, claim.id)
        if set(gifts) != {d.id for d in donors}:
            raise ValidationError({"gifts": [_("须为每位认领人（%(donors)s）各填一项价值",
                                               donors=", ".join(str(d.id) for d in donors))]})
        received = accounts.system_account(session, bank.id, CNY, INKIND_RECEIVED)
        drafts = []
        for d in donors:
            d.value = gifts[d.id]
            source = accounts.system_account(session, bank.id, CNY, DONOR_SOURCE[d.kind])
            drafts.append(Draft(ledger=CNY, debit_id=source.id, credit_id=received.id, amount=d.value,
                                kind="inkind_gift", occurred_on=delivered_on,
                                doer_id=d.resident_id, memo=f"微心愿#{wish.id} {wish.title}（{d.name}）"))
        entries = uow.post(drafts)
        link(session, bank, "inkind", entries=entries, wish_id=wish.id)
        claim.status, claim.delivered_on = "delivered", delivered_on
        uow.remember("delivered", {"wish": wish.id})
        uow.audit("wish_deliver", f"wish:{wish.id}", {"gifts": {str(k): v for k, v in gifts.items()}})
    return wish


def confirm_wish(session: Session, bank: Bank, wish_id: int, *, thanks: str, user: User,
                 clock: Clock, idem: Idempotency | None = None) -> Wish:
    """Close a wish with the resident's thank-you note: the gift moves inkind:received →
    inkind:given, and resident donors earn points through the rule file's donor rule.

    One unit of work: if the donor rule refuses (a cap), nothing at all is written; a retry
    with the same key answers as the first time, and donors are credited once.
    """
    with UnitOfWork(session, bank, by=user.name, clock=clock, idem=idem) as uow:
        if uow.replayed:
            return session.get(Wish, uow.replayed.data["wish"])
        wish = _locked_wish(session, bank, wish_id)
        _wish_step(wish, "confirm")
        claim = current_claim(session, wish.id)
        donors = donors_of(session, claim.id)
        today = clock.today()
        rule = rules_of(session, bank).donor_rule
        resident_ids = [d.resident_id for d in donors if d.resident_id]
        if rule and resident_ids:
            residents = named_residents(session, bank, resident_ids, field="donors")
            points, entries = deeds.deed_in(uow, rule_code=rule, residents=residents, quantity=1,
                                            occurred_on=today, memo=f"微心愿#{wish.id} {wish.title}")
            link(session, bank, "donor", entries=entries, pending=points.pending, wish_id=wish.id)
        received = accounts.system_account(session, bank.id, CNY, INKIND_RECEIVED)
        given = accounts.system_account(session, bank.id, CNY, INKIND_GIVEN)
        drafts = [Draft(ledger=CNY, debit_id=received.id, credit_id=given.id, amount=d.value,
                        kind="inkind_given", occurred_on=today, doer_id=d.resident_id,
                        memo=f"微心愿#{wish.id} {wish.title} 已送达（{d.name}）")
                  for d in donors if d.value]
        link(session, bank, "inkind", entries=uow.post(drafts), wish_id=wish.id)
        wish.thanks, wish.fulfilled_on = thanks, today
        claim.status, claim.closed_at = "fulfilled", clock.now()
        uow.remember("fulfilled", {"wish": wish.id})
        uow.audit("wish_confirm", f"wish:{wish.id}")
    return wish


def expire_claims(session: Session, bank: Bank, *, clock: Clock,
                  idem: Idempotency | None = None) -> list[int]:
    """Put back on the wall every wish whose claim passed its deadline undelivered.

    For the scheduled cycle: safe to run any number of times; returns the wishes put back. A
    retry with the same key returns the wishes the first one put back.
    """
    with UnitOfWork(session, bank, by="cycle", clock=clock, idem=idem) as uow:
        if uow.replayed:
            return uow.replayed.data["wishes"]
        overdue = session.execute(select(Claim, Wish).join(Wish, Wish.id == Claim.wish_id).where(
            Claim.bank_id == bank.id, Claim.status == "active", Claim.deadline < clock.today(),
            Wish.state == wf.CLAIMED).with_for_update()).all()
        for claim, wish in overdue:
            claim.status, claim.closed_at = "expired", clock.now()
            _wish_step(wish, "expire")
            uow.audit("wish_claim_expire", f"wish:{wish.id}",
                      {"claim": claim.id, "deadline": claim.deadline})
        uow.remember("expired", {"wishes": [wish.id for _, wish in overdue]})
    return [wish.id for _, wish in overdue]
