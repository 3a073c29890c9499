"""Reversing an entry: every leg mirrored in one new entry, once, and what the wings' Undos do."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ground.db import transaction
from ground.errors import ConflictError
from ground.i18n import _
from ground.tenants import Bank
from ledger import accounts, reversals
from ledger.models import CNY, Account, IdempotencyRecord, LegacyEvent, Transfer
from ledger.posting import Draft, post
from ledger.reversals import Undo, Undoers
from ledger.verify import verify_bank

URL = "/api/v1/banks/hp/transfers/{}/reverse"


def _grants(session, bank, clock, kind="grant"):
    """A town's grant split between two of the fund's accounts: one entry of two legs."""
    town = accounts.system_account(session, bank.id, CNY, "source:town")
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    goods = accounts.system_account(session, bank.id, CNY, "fund:goods")
    with transaction(session):
        [entry] = post(session, bank.id, [Draft(CNY, town.id, fund.id, 600, kind, clock.today()),
                                          Draft(CNY, town.id, goods.id, 400, kind, clock.today())],
                       by="test", clock=clock)
    return entry


def _balances(session, bank):
    session.rollback()
    return dict(session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == CNY)).all())


def _count(session, model=Transfer):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def test_reversing_one_leg_reverses_its_whole_entry_in_one_new_entry(client, session, make, clock):
    bank = make.bank()
    first, second = _grants(session, bank, clock)
    answer = client.post(URL.format(second.id), json={"reason": "录错了"}, headers=make.token(bank))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["transfer"]["reverses"] == second.id
    assert [(t["reverses"], t["amount"], t["kind"], t["entry"]) for t in body["transfers"]] == [
        (first.id, 600, "reversal", 3), (second.id, 400, "reversal", 3)]
    assert set(_balances(session, bank).values()) == {0}
    assert verify_bank(session, session.get(Bank, bank.id)).ok


def test_a_second_reversal_of_any_leg_is_refused_and_writes_nothing(client, session, make, clock):
    bank = make.bank()
    first, second = _grants(session, bank, clock)
    headers = make.token(bank)
    assert client.post(URL.format(first.id), json={"reason": "录错了"}, headers=headers).status_code == 201
    before = _count(session)
    for leg in (first, second):
        again = client.post(URL.format(leg.id), json={"reason": "再冲一次"}, headers=headers)
        assert (again.status_code, again.get_json()["error"]) == (409, "already_reversed")
    mirror = session.execute(select(Transfer.id).where(Transfer.reverses_id == first.id)).scalar()
    refused = client.post(URL.format(mirror), json={"reason": "冲正的冲正"}, headers=headers)
    assert (refused.status_code, refused.get_json()["error"]) == (409, "cannot_reverse_reversal")
    assert _count(session) == before


def test_a_retried_reversal_answers_the_first_answer_and_writes_nothing(client, session, make, clock):
    bank = make.bank()
    first, second = _grants(session, bank, clock)
    headers = {**make.token(bank), "Idempotency-Key": "undo-1"}
    answer = client.post(URL.format(second.id), json={"reason": "录错了"}, headers=headers)
    before = (_count(session), _count(session, IdempotencyRecord))
    again = client.post(URL.format(second.id), json={"reason": "录错了"}, headers=headers)
    assert (again.status_code, again.get_json()) == (201, answer.get_json())
    assert (_count(session), _count(session, IdempotencyRecord)) == before
    other = client.post(URL.format(first.id), json={"reason": "录错了"}, headers=headers)
    assert (other.status_code, other.get_json()["error"]) == (409, "idempotency_mismatch")


class _Recorder(Undo):
    """An Undo that notes what it was shown, and refuses on demand."""

    def __init__(self, refuse=False):
        self.refuse, self.seen = refuse, []

    def check(self, session, reversal):
        self.seen.append(("check", [t.id for t in reversal.originals], list(reversal.mirrors)))
        if self.refuse:
            raise ConflictError(_("不行"), code="refused_by_wing")

    def apply(self, session, reversal):
        self.seen.append(("apply", [t.id for t in reversal.originals],
                          [reversal.mirror_of(t.id).reverses_id for t in reversal.originals]))


def test_an_undo_registered_for_two_kinds_of_an_entry_is_called_once_before_and_after_posting(
        session, make, clock):
    bank = make.bank()
    first, second = _grants(session, bank, clock)
    undoers, undo = Undoers(), _Recorder()
    undoers.register("grant", undo)
    undoers.register("gift", undo)
    with pytest.raises(ValueError):
        undoers.register("grant", _Recorder())
    reversals.reverse_transfer(session, bank, first.id, reason="x", by="test", clock=clock, undoers=undoers)
    assert undo.seen == [("check", [first.id, second.id], []),
                         ("apply", [first.id, second.id], [first.id, second.id])]


def test_an_undo_that_refuses_leaves_nothing_written(session, make, clock):
    bank = make.bank()
    first, _ = _grants(session, bank, clock)
    undoers = Undoers()
    undoers.register("grant", _Recorder(refuse=True))
    before = (_count(session), _balances(session, bank))
    with pytest.raises(ConflictError) as refused:
        reversals.reverse_transfer(session, bank, first.id, reason="x", by="test", clock=clock,
                                   undoers=undoers)
    assert refused.value.code == "refused_by_wing"
    assert (_count(session), _balances(session, bank)) == before


def test_legs_linked_before_entries_existed_are_reversed_in_the_same_entry(session, make, clock):
    bank = make.bank()
    town = accounts.system_account(session, bank.id, CNY, "source:town")
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    with transaction(session):  # two one-leg entries, as every event was before entries
        [[one]], [[two]] = (post(session, bank.id, [Draft(CNY, town.id, fund.id, n, "gift", clock.today())],
                                 by="test", clock=clock) for n in (5, 7))
        # What migration 0020 wrote down for the desk's old pairs: the two were one event.
        session.add_all([LegacyEvent(transfer_id=t.id, bank_id=bank.id, first_id=one.id) for t in (one, two)])
    undoers = Undoers()
    undoers.register("gift", _Recorder())
    mirror = reversals.reverse_transfer(session, bank, one.id, reason="x", by="test", clock=clock,
                                        undoers=undoers)
    legs = reversals.entry_of(session, bank, mirror)
    assert [(t.reverses_id, t.entry_seq) for t in legs] == [(one.id, 3), (two.id, 3)]
    assert _balances(session, bank)["fund"] == 0


def test_a_session_the_app_did_not_make_cannot_reverse(app, session, make, clock):
    from ground.db import session_factory

    bank = make.bank()
    first, _ = _grants(session, bank, clock)
    bare = session_factory(app.extensions["zongzhi.engine"])()
    try:
        with pytest.raises(RuntimeError, match="Undoers"):
            reversals.reverse_transfer(bare, bare.get(Bank, bank.id), first.id, reason="x", by="test",
                                       clock=clock)
    finally:
        bare.close()
    assert "redemption" in app.extensions["zongzhi.undoers"]
    assert session.info[reversals.UNDOERS] is app.extensions["zongzhi.undoers"]
