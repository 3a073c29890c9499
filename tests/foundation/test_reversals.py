"""Reversing a project's money: refused whole, so the fund, the project and its figures still agree."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from foundation.models import Application
from ledger.models import CNY, FUND_CASH, Account, Transfer
from ledger.verify import verify_bank

from .conftest import API, awarded
from .test_wishes import _claim, _published

REVERSE = "/api/v1/banks/hp/transfers/{}/reverse"


def _transfers(session, kind):
    session.rollback()
    return list(session.execute(select(Transfer).where(Transfer.kind == kind).order_by(Transfer.seq)).scalars())


def _kept(district, session, app_id):
    """Assert what must hold after any attempt: the chain verifies, the fund's cash is not below
    zero, and the application's figures are what the ledger says."""
    session.rollback()
    assert verify_bank(session, district.bank).ok
    cash = session.execute(select(Account.code, Account.balance).where(
        Account.bank_id == district.bank.id, Account.ledger == CNY, Account.code.in_(FUND_CASH))).all()
    assert all(balance >= 0 for _, balance in cash), cash
    application = session.get(Application, app_id, populate_existing=True)
    reversed_ = select(Transfer.reverses_id).where(Transfer.reverses_id.is_not(None))

    def standing(kind):
        return session.execute(select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.bank_id == district.bank.id, Transfer.kind == kind,
            Transfer.memo.like(f"微项目#{app_id} %"), Transfer.id.not_in(reversed_))).scalar()

    assert application.disbursed == standing("project_tranche")
    assert (application.spent or 0) == standing("project_spend")
    assert (application.returned or 0) == standing("project_return")
    assert district.balance(f"project:{app_id}") == \
        application.disbursed - (application.spent or 0) - (application.returned or 0)


def test_reversing_a_completed_projects_return_tranche_or_spending_is_refused_and_changes_nothing(
        client, district, session):
    # Disbursed 10,000, spent 4,000, returned 6,000: the review's case, which once answered 201
    # and left the fund and the project below zero while the application still said otherwise.
    district.fund(restricted=10_000)
    app_id = awarded(client, district, amount=10_000)
    assert client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk,
                       json={"amount": 10_000}).status_code == 201
    done = client.post(f"{API}/applications/{app_id}/completion", headers=district.clerk, json={
        "spent": [{"item": "摄像头", "amount": 4_000}], "report": "验收"})
    assert (done.get_json()["spent"], done.get_json()["returned"]) == (4_000, 6_000)
    [tranche], [spend], [back] = (_transfers(session, k) for k in
                                  ("project_tranche", "project_spend", "project_return"))
    assert spend.entry_seq == back.entry_seq  # the completion is one entry
    written = session.execute(select(func.count()).select_from(Transfer)).scalar()
    for leg in (back, tranche, spend):
        answer = client.post(REVERSE.format(leg.id), json={"reason": "录错了"}, headers=district.clerk)
        assert (answer.status_code, answer.get_json()["error"]) == (409, "not_reversible"), answer.get_json()
        assert "project" in answer.get_json()["message"] or "项目" in answer.get_json()["message"]
        _kept(district, session, app_id)
    assert session.execute(select(func.count()).select_from(Transfer)).scalar() == written
    assert (district.balance("fund:projects"), district.balance(f"project:{app_id}")) == (6_000, 0)


def test_a_tranche_from_two_accounts_is_one_entry_and_is_not_reversed_while_in_progress(
        client, district, session):
    district.fund(restricted=3_000, unrestricted=10_000)
    app_id = awarded(client, district, amount=8_000)
    paid = client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 8_000})
    assert paid.status_code == 201
    legs = _transfers(session, "project_tranche")
    assert [(t.amount, t.entry_seq) for t in legs] == [(3_000, legs[0].seq), (5_000, legs[0].seq)]
    for leg in legs:
        answer = client.post(REVERSE.format(leg.id), json={"reason": "拨错了"}, headers=district.clerk)
        assert (answer.status_code, answer.get_json()["error"]) == (409, "not_reversible")
        _kept(district, session, app_id)
    assert (district.balance("fund:projects"), district.balance("fund")) == (0, 5_000)


@pytest.mark.parametrize("kind", ["inkind_gift", "inkind_given"])
def test_a_wishs_gift_is_not_reversed(client, district, session, kind):
    wish_id = _published(client, district)
    donor = _claim(client, district, wish_id).get_json()["claim"]["donors"][0]
    client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk,
                json={"delivered_on": "2026-10-15", "gifts": [{"donor": donor["id"], "value": 100}]})
    client.post(f"{API}/wishes/{wish_id}/confirmation", headers=district.clerk, json={"thanks": "谢谢"})
    [gift] = _transfers(session, kind)
    answer = client.post(REVERSE.format(gift.id), json={"reason": "录错了"}, headers=district.clerk)
    assert (answer.status_code, answer.get_json()["error"]) == (409, "not_reversible")
    assert not _transfers(session, "reversal")
    assert verify_bank(session, district.bank).ok
