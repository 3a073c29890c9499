"""Money for projects: tranches from the fund, spending and the return of what is left; volunteers."""
from __future__ import annotations

from sqlalchemy import func, select

from foundation.models import LedgerLink, Tranche
from ledger.models import Transfer
from ledger.verify import verify_bank

from .conftest import API, awarded


def _transfers(session):
    session.rollback()
    return session.execute(select(func.count()).select_from(Transfer)).scalar()


def test_tranches_move_money_from_the_fund_to_the_project_restricted_first(client, district, session):
    district.fund(restricted=300_000, unrestricted=500_000)
    app_id = awarded(client, district, amount=400_000)
    first = client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk,
                        json={"amount": 250_000, "memo": "首期"})
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["from_restricted"], first.get_json()["from_unrestricted"]) == (250_000, 0)
    second = client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 150_000})
    assert (second.get_json()["from_restricted"], second.get_json()["from_unrestricted"]) == (50_000, 100_000)
    assert district.balance(f"project:{app_id}") == 400_000
    assert (district.balance("fund:projects"), district.balance("fund")) == (0, 400_000)
    shown = client.get(f"{API}/applications/{app_id}", headers=district.clerk).get_json()
    assert (shown["state"], shown["disbursed"]) == ("in_progress", 400_000)
    assert [t["action"] for t in shown["transitions"]][-1] == "start"
    assert verify_bank(session, district.bank).ok


def test_a_tranche_beyond_the_award_is_refused_and_nothing_moves(client, district, session):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district, amount=400_000)
    client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 300_000})
    before = _transfers(session)
    answer = client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 100_001})
    assert answer.status_code == 409 and answer.get_json()["error"] == "tranche_exceeds_award"
    assert answer.get_json()["fields"] == {"amount": ["≤ ¥1,000.00"]}
    assert _transfers(session) == before
    assert session.execute(select(func.count()).select_from(Tranche)).scalar() == 1


def test_a_tranche_the_fund_cannot_cover_is_refused(client, district):
    district.fund(restricted=400_000)
    app_id = awarded(client, district, amount=400_000)
    district.fund(restricted=0)  # nothing new
    from ledger import accounts
    from ground.db import transaction
    from ledger.models import CNY
    from ledger.posting import Draft, post
    with transaction(district.session):  # the fund spends on goods meanwhile
        out = accounts.system_account(district.session, district.bank.id, CNY, "fund:projects")
        goods = accounts.system_account(district.session, district.bank.id, CNY, "spent:goods")
        post(district.session, district.bank.id, [Draft(ledger=CNY, debit_id=out.id, credit_id=goods.id,
             amount=100_000, kind="spend", occurred_on=district.clock.today())], by="t", clock=district.clock)
    answer = client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 400_000})
    assert answer.get_json()["error"] == "insufficient_fund"


def test_a_tranche_before_the_award_is_an_illegal_transition(client, district):
    from .conftest import application, station
    app_id = application(client, district, station(client, district))["id"]
    answer = client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 1})
    assert answer.get_json()["error"] == "illegal_transition"


def test_a_retried_tranche_with_the_same_key_pays_once(client, district, session):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district)
    headers = {**district.clerk, "Idempotency-Key": "tranche-1"}
    first = client.post(f"{API}/applications/{app_id}/tranches", headers=headers, json={"amount": 100_000})
    again = client.post(f"{API}/applications/{app_id}/tranches", headers=headers, json={"amount": 100_000})
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert district.balance(f"project:{app_id}") == 100_000
    other = client.post(f"{API}/applications/{app_id}/tranches", headers=headers, json={"amount": 5})
    assert other.get_json()["error"] == "idempotency_mismatch"


def test_completion_spends_and_returns_the_rest_to_the_fund_unrestricted_first(client, district, session):
    district.fund(restricted=300_000, unrestricted=300_000)
    app_id = awarded(client, district, amount=400_000)
    client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 400_000})
    progress = client.post(f"{API}/applications/{app_id}/progress", headers=district.clerk,
                           json={"reported_on": "2026-10-15", "percent": 60, "text": "摄像头已装好 4 个"})
    assert progress.status_code == 201
    answer = client.post(f"{API}/applications/{app_id}/completion", headers=district.clerk, json={
        "spent": [{"item": "摄像头", "amount": 250_000}, {"item": "安装", "amount": 80_000}],
        "report": "6 个摄像头全部装好，楼栋长验收"})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["state"], body["spent"], body["returned"]) == ("completed", 330_000, 70_000)
    assert district.balance(f"project:{app_id}") == 0
    assert district.balance("spent:projects") == 330_000
    # 300,000 restricted + 100,000 unrestricted were drawn; the 70,000 left goes back unrestricted.
    assert (district.balance("fund:projects"), district.balance("fund")) == (0, 270_000)
    # One link per event: the tranche (two legs, restricted and unrestricted) and the completion
    # (the spending and the return), each naming its entry, whose legs say the rest.
    links = session.execute(select(LedgerLink.purpose, LedgerLink.entry_seq)
                            .where(LedgerLink.application_id == app_id).order_by(LedgerLink.id)).all()
    assert [purpose for purpose, _ in links] == ["tranche", "completion"]
    legs = [session.execute(select(Transfer.kind).where(Transfer.bank_id == district.bank.id,
                                                        Transfer.entry_seq == entry)
                            .order_by(Transfer.seq)).scalars().all() for _, entry in links]
    assert legs == [["project_tranche", "project_tranche"], ["project_spend", "project_return"]]
    closed = client.post(f"{API}/applications/{app_id}/close", headers=district.reviewers[0][1])
    assert closed.get_json()["state"] == "closed"
    assert verify_bank(session, district.bank).ok


def test_spending_more_than_was_paid_is_refused(client, district, session):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district, amount=400_000)
    client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 200_000})
    before = _transfers(session)
    answer = client.post(f"{API}/applications/{app_id}/completion", headers=district.clerk, json={
        "spent": [{"item": "摄像头", "amount": 200_001}], "report": "超支"})
    assert answer.get_json()["error"] == "spent_exceeds_disbursed"
    assert _transfers(session) == before
    assert client.get(f"{API}/applications/{app_id}", headers=district.clerk).get_json()["state"] == "in_progress"


def test_volunteers_on_an_awarded_project_earn_points_linked_to_it(client, district, session):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district)
    headers = {**district.clerk, "Idempotency-Key": "vol-1"}
    body = {"residents": [district.li.id, district.zhou.id], "quantity": 3, "occurred_on": "2026-10-14"}
    answer = client.post(f"{API}/applications/{app_id}/volunteers", headers=headers, json=body)
    assert answer.status_code == 201, answer.get_json()
    transfers = answer.get_json()["transfers"]
    assert [(t["resident"], t["amount"], t["rule"]) for t in transfers] == [
        (district.li.id, 6, "project_volunteer"), (district.zhou.id, 6, "project_volunteer")]
    assert transfers[0]["memo"].startswith(f"微项目#{app_id}")
    again = client.post(f"{API}/applications/{app_id}/volunteers", headers=headers, json=body)
    assert [t["id"] for t in again.get_json()["transfers"]] == [t["id"] for t in transfers]
    shown = client.get(f"{API}/applications/{app_id}", headers=district.clerk).get_json()
    assert [(v["name"], v["points"]) for v in shown["volunteers"]] == [("李四", 6), ("周五", 6)]


def test_volunteers_on_a_project_not_awarded_are_refused(client, district):
    from .conftest import application, station
    app_id = application(client, district, station(client, district))["id"]
    answer = client.post(f"{API}/applications/{app_id}/volunteers", headers=district.clerk,
                         json={"residents": [district.li.id], "occurred_on": "2026-10-14"})
    assert answer.get_json()["error"] == "illegal_transition"


def test_a_penalty_rule_cannot_be_used_to_credit_volunteers(client, district, session):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district)
    before = _transfers(session)
    answer = client.post(f"{API}/applications/{app_id}/volunteers", headers=district.clerk, json={
        "residents": [district.li.id], "occurred_on": "2026-10-14", "rule": "litter"})
    assert answer.status_code == 422 and "rule" in answer.get_json()["fields"]
    assert _transfers(session) == before
