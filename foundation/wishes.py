"""The wish board (微心愿): a resident's wish from its collection through review and the wall,
a claim by one donor or several, the delivery booked as an in-kind gift, and the thanks that
closes it and credits resident donors.

Each service takes the session and what it needs, makes its checks, and owns the transaction:
it commits on success and rolls everything back on error. Writes that move money take the
bank's posting lock first.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground import audit
from ledger import accounts, idempotency, periods
from ledger import banks, deeds
from ground.clock import Clock
from ground.db import bank_row, transaction
from ground.errors import ConflictError, ValidationError
from ledger.models import CNY
from ground.tenants import Bank
from ledger.posting import Draft, Idempotency, lock_chain, post
from ledger.residents import named_residents
from ground.tenants import User

from . import workflow as wf
from .common import DONOR_SOURCE, INKIND_GIVEN, INKIND_RECEIVED, _link_deeds, rules_of
from .errors import IllegalTransition, WishNotOpen
from .models import Claim, Donor, LedgerLink, Wish


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
                            backdate_days=banks.rulebook(session, bank.id)[1]
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
        [transfers] = post(session, bank.id, drafts, by=by, clock=clock, idempotency=idem)
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
        outcome = deeds.post_deed(session, bank, rule_code=rule, resident_ids=resident_donors,
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
        [transfers] = post(session, bank.id, drafts, by=user.name, clock=clock, idempotency=idem)
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
