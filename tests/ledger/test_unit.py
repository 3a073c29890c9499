"""The unit of work: one transaction, the lock, the key replayed or remembered, the audit, or nothing."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from ground.errors import IdempotencyMismatch, ValidationError
from ledger import accounts
from ground.audit import AuditEntry
from ledger.models import CNY, IdempotencyRecord, Transfer
from ledger.posting import Draft, Idempotency
from ledger.unit import UnitOfWork

DEEDS = "/api/v1/banks/hp/deeds"


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _grant(uow, bank, amount=100):
    town = accounts.system_account(uow.session, bank.id, CNY, "source:town")
    fund = accounts.system_account(uow.session, bank.id, CNY, "fund")
    return uow.post([Draft(CNY, town.id, fund.id, amount, "grant", uow.clock.today())])


def test_a_unit_posts_audits_and_remembers_its_outcome_by_kind_never_by_status(session, make, clock):
    bank = make.bank()
    key = Idempotency("g-1", "h" * 64, user_id=7)
    with UnitOfWork(session, bank, by="clerk", clock=clock, idem=key) as uow:
        assert uow.replayed is None
        [[transfer]] = _grant(uow, bank)
        uow.audit("grant", f"transfer:{transfer.id}", {"amount": 100})
        uow.remember("posted", {"transfers": [transfer.id]})
    session.rollback()
    record = session.execute(select(IdempotencyRecord)).scalar_one()
    assert (record.status, json.loads(record.outcome), record.user_id) == (
        0, {"kind": "posted", "transfers": [transfer.id]}, 7)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "grant")).scalar_one()
    assert (entry.actor, entry.subject, entry.bank_id) == ("clerk", f"transfer:{transfer.id}", bank.id)
    assert session.get(Transfer, transfer.id).recorded_by == "clerk"
    # The same key and request: the stored outcome, and nothing written.
    with UnitOfWork(session, bank, by="clerk", clock=clock, idem=key) as uow:
        assert (uow.replayed.kind, uow.replayed.data) == ("posted", {"transfers": [transfer.id]})
    assert (_count(session, Transfer), _count(session, IdempotencyRecord)) == (1, 1)
    # The same key with another request: refused, nothing written.
    with pytest.raises(IdempotencyMismatch):
        with UnitOfWork(session, bank, by="clerk", clock=clock,
                        idem=Idempotency("g-1", "x" * 64, user_id=7)) as uow:
            _grant(uow, bank)
    assert _count(session, Transfer) == 1


def test_an_error_in_a_unit_writes_nothing_at_all(session, make, clock):
    bank = make.bank()
    before = (_count(session, Transfer), _count(session, AuditEntry), _count(session, IdempotencyRecord))
    with pytest.raises(ValidationError):
        with UnitOfWork(session, bank, by="clerk", clock=clock, idem=Idempotency("g-2", "h")) as uow:
            _grant(uow, bank)
            uow.audit("grant")
            uow.remember("posted", {})
            raise ValidationError({"amount": ["不行"]})
    assert (_count(session, Transfer), _count(session, AuditEntry), _count(session, IdempotencyRecord)) == before


def test_a_unit_that_creates_its_bank_audits_it_once_it_exists(session, make, clock):
    bank = make.bank()
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "bank_create")).scalar_one()
    assert (entry.bank_id, entry.subject) == (bank.id, f"bank:{bank.id}")


@pytest.fixture
def village(make):
    bank = make.bank()
    wang = make.resident(bank, "王大")
    return {"bank": bank, "wang": wang, "clerk": make.token(bank, "clerk"),
            "reviewer": make.token(bank, "reviewer")}


def _as_before_kinds(session, key, status):
    """Rewrite a stored outcome as rows were kept before migration 0019: a status, no kind."""
    session.rollback()
    record = session.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == key)).scalar_one()
    data = json.loads(record.outcome)
    assert data.pop("kind") in ("posted", "held", "rejected")
    session.execute(update(IdempotencyRecord).where(IdempotencyRecord.id == record.id)
                    .values(status=status, outcome=json.dumps(data)))
    session.commit()


@pytest.mark.parametrize("rule, status", [("cleanup", 201), ("mediation", 202)])
def test_a_deed_kept_under_a_key_before_kinds_replays_as_it_answered(client, session, village, rule, status):
    headers = {**village["clerk"], "Idempotency-Key": f"old-{rule}"}
    body = {"rule": rule, "residents": [village["wang"].id], "occurred_on": "2026-10-14"}
    first = client.post(DEEDS, headers=headers, json=body)
    assert first.status_code == status
    _as_before_kinds(session, f"old-{rule}", status)
    written = _count(session, Transfer)
    again = client.post(DEEDS, headers=headers, json=body)
    assert (again.status_code, again.get_json()) == (status, first.get_json())
    assert _count(session, Transfer) == written


def test_decisions_and_a_reversal_kept_before_kinds_replay_as_they_answered(client, session, village):
    held = [client.post(DEEDS, headers=village["clerk"], json={
        "rule": "mediation", "residents": [village["wang"].id], "occurred_on": "2026-10-14"}).get_json()
        ["pending"][0]["id"] for _ in range(2)]
    asks = [(f"/api/v1/banks/hp/pending/{held[0]}/approve", None, "approve", 201, "reviewer"),
            (f"/api/v1/banks/hp/pending/{held[1]}/reject", {"reason": "不实"}, "reject", 200, "reviewer")]
    cleanup = client.post(DEEDS, headers=village["clerk"], json={
        "rule": "cleanup", "residents": [village["wang"].id], "occurred_on": "2026-10-14"}).get_json()
    asks.append((f"/api/v1/banks/hp/transfers/{cleanup['transfers'][0]['id']}/reverse", {"reason": "记错"},
                 "reverse", 201, "clerk"))
    for path, body, key, status, role in asks:
        headers = {**village[role], "Idempotency-Key": key}
        first = client.post(path, headers=headers, json=body) if body else client.post(path, headers=headers)
        assert first.status_code == status, first.get_json()
        _as_before_kinds(session, key, status)
        if key == "reverse":  # as a reversal's outcome was kept then: the one mirror, no more
            session.execute(update(IdempotencyRecord).where(IdempotencyRecord.key == key).values(
                outcome=json.dumps({"transfers": [first.get_json()["transfer"]["id"]], "pending": []})))
            session.commit()
        written = (_count(session, Transfer), _count(session, AuditEntry))
        again = client.post(path, headers=headers, json=body) if body else client.post(path, headers=headers)
        assert (again.status_code, again.get_json()) == (status, first.get_json())
        assert (_count(session, Transfer), _count(session, AuditEntry)) == written
