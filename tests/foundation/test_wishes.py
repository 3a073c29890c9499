"""The wish board (微心愿): collection, verification, the wall, claims, delivery, thanks, expiry."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from foundation import wishes
from foundation.models import Claim, LedgerLink
from ground.clock import FixedClock
from ledger.models import Transfer
from ledger.verify import verify_bank

from .conftest import API


def _published(client, district, title="一台助听器"):
    wish = client.post(f"{API}/wishes", headers=district.clerk, json={
        "resident": district.wang.id, "title": title, "description": "耳朵背，听不清孙子说话",
        "estimated_value": 30_000}).get_json()
    assert wish["state"] == "collected"
    assert client.post(f"{API}/wishes/{wish['id']}/verify", headers=district.reviewers[0][1]).status_code == 200
    assert client.post(f"{API}/wishes/{wish['id']}/publish", headers=district.clerk).get_json()["state"] == "published"
    return wish["id"]


def _claim(client, district, wish_id, donors=None, **extra):
    return client.post(f"{API}/wishes/{wish_id}/claims", headers=district.clerk, json={
        "donors": donors or [{"resident": district.li.id}], **extra})


def test_a_wish_from_collection_to_thanks_records_an_in_kind_gift_outside_the_fund(client, district, session):
    district.fund(unrestricted=100_000)
    wish_id = _published(client, district)
    claim = _claim(client, district, wish_id, donors=[
        {"resident": district.li.id}, {"kind": "unit", "name": "南岸药房", "phone": "023-62881234"}])
    assert claim.status_code == 201, claim.get_json()
    body = claim.get_json()
    assert body["state"] == "claimed" and body["claim"]["deadline"] == "2026-10-25"  # claim_days: 10
    li, shop = body["claim"]["donors"]
    delivered = client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk, json={
        "delivered_on": "2026-10-15", "gifts": [{"donor": li["id"], "value": 10_000},
                                                 {"donor": shop["id"], "value": 25_000}]})
    assert delivered.status_code == 200 and delivered.get_json()["state"] == "delivered"
    assert (district.balance("source:donor"), district.balance("source:sponsor")) == (-10_000, -25_000)
    assert district.balance("inkind:received") == 35_000
    confirmed = client.post(f"{API}/wishes/{wish_id}/confirmation", headers=district.clerk,
                            json={"thanks": "谢谢李四和药房，现在听得清了"})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["state"] == "fulfilled" and confirmed.get_json()["fulfilled_on"] == "2026-10-15"
    assert (district.balance("inkind:received"), district.balance("inkind:given")) == (0, 35_000)
    # The fund's free cash is exactly what it was: in-kind value never counts as money.
    assert client.get(f"{API}/fund", headers=district.clerk).get_json()["free"] == 100_000
    # The resident donor earned points through the donor rule, linked to the wish.
    assert district.balance(f"resident:{district.li.id}", ledger="PTS") == 5
    purposes = session.execute(select(LedgerLink.purpose).where(LedgerLink.wish_id == wish_id)).scalars().all()
    assert sorted(purposes) == ["donor", "inkind", "inkind"]  # one link per event
    assert verify_bank(session, district.bank).ok


def test_the_public_wall_masks_names_and_hides_phones(client, district):
    wish_id = _published(client, district)
    _claim(client, district, wish_id, donors=[{"kind": "person", "name": "欧阳娜娜", "phone": "13900001111"}])
    page = client.get("/p/hp/foundation").get_data(as_text=True)
    assert "王**" in page and "王大明" not in page
    assert "欧**" in page and "欧阳娜娜" not in page and "13900001111" not in page
    collected = client.post(f"{API}/wishes", headers=district.clerk, json={
        "resident": district.zhou.id, "title": "未审核的心愿", "description": "还没审核"})
    assert collected.status_code == 201
    assert "未审核的心愿" not in client.get("/p/hp/foundation").get_data(as_text=True)


def test_a_claim_on_a_fulfilled_wish_is_refused(client, district, session):
    wish_id = _published(client, district)
    donor = _claim(client, district, wish_id).get_json()["claim"]["donors"][0]
    client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk,
                json={"delivered_on": "2026-10-15", "gifts": [{"donor": donor["id"], "value": 100}]})
    client.post(f"{API}/wishes/{wish_id}/confirmation", headers=district.clerk, json={"thanks": "谢谢"})
    answer = _claim(client, district, wish_id, donors=[{"resident": district.zhou.id}])
    assert answer.status_code == 409 and answer.get_json()["error"] == "wish_not_open"
    assert session.execute(select(func.count()).select_from(Claim)).scalar() == 1


def test_a_wish_cannot_be_claimed_before_it_is_verified_and_published(client, district):
    wish = client.post(f"{API}/wishes", headers=district.clerk, json={
        "resident": district.wang.id, "title": "书包", "description": "孩子上学"}).get_json()
    assert _claim(client, district, wish["id"]).get_json()["error"] == "wish_not_open"
    assert client.post(f"{API}/wishes/{wish['id']}/publish", headers=district.clerk).get_json()["error"] == \
        "illegal_transition"
    assert client.post(f"{API}/wishes/{wish['id']}/verify", headers=district.clerk).status_code == 403


def test_an_expired_claim_puts_the_wish_back_on_the_wall(client, district, session):
    wish_id = _published(client, district)
    _claim(client, district, wish_id, deadline="2026-10-20")
    assert wishes.expire_claims(session, district.bank, clock=district.clock) == []
    later = FixedClock(at=datetime(2026, 10, 21, 2, 0, tzinfo=timezone.utc))
    assert wishes.expire_claims(session, district.bank, clock=later) == [wish_id]
    assert wishes.expire_claims(session, district.bank, clock=later) == []
    session.rollback()
    assert wishes.get_wish(session, district.bank, wish_id).state == "published"
    assert [c.status for c in session.execute(select(Claim)).scalars()] == ["expired"]
    second = _claim(client, district, wish_id, donors=[{"resident": district.zhou.id}])
    assert second.status_code == 201 and second.get_json()["claim"]["donors"][0]["name"] == "周五"


def test_delivery_after_the_deadline_is_refused(client, district, app, session):
    wish_id = _published(client, district)
    donor = _claim(client, district, wish_id, deadline="2026-10-15").get_json()["claim"]["donors"][0]
    app.extensions["zongzhi.clock"] = FixedClock(at=district.clock.at + timedelta(days=1))
    answer = client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk,
                         json={"delivered_on": "2026-10-16", "gifts": [{"donor": donor["id"], "value": 100}]})
    assert answer.status_code == 409 and answer.get_json()["error"] == "claim_expired"
    assert session.execute(select(func.count()).select_from(Transfer)).scalar() == 0


def test_bad_claims_and_deliveries_are_refused_with_fields(client, district):
    wish_id = _published(client, district)
    outsider = _claim(client, district, wish_id, donors=[{"kind": "person", "name": "张三"}])
    assert outsider.status_code == 422 and "donors" in outsider.get_json()["fields"]
    twice = _claim(client, district, wish_id, donors=[{"resident": district.li.id}, {"resident": district.li.id}])
    assert twice.status_code == 422
    past = _claim(client, district, wish_id, deadline="2026-10-01")
    assert "deadline" in past.get_json()["fields"]
    donor = _claim(client, district, wish_id).get_json()["claim"]["donors"][0]
    missing = client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk,
                          json={"delivered_on": "2026-10-15", "gifts": [{"donor": donor["id"] + 1, "value": 100}]})
    assert missing.status_code == 422 and "gifts" in missing.get_json()["fields"]
    zero = client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk,
                       json={"delivered_on": "2026-10-15", "gifts": [{"donor": donor["id"], "value": 0}]})
    assert zero.status_code == 422


def test_a_rejected_wish_keeps_its_reason_and_never_reaches_the_wall(client, district):
    wish = client.post(f"{API}/wishes", headers=district.clerk, json={
        "resident": district.wang.id, "title": "一部新手机", "description": "想要最新款"}).get_json()
    no_reason = client.post(f"{API}/wishes/{wish['id']}/reject", headers=district.reviewers[0][1])
    assert no_reason.status_code == 422
    rejected = client.post(f"{API}/wishes/{wish['id']}/reject", headers=district.reviewers[0][1],
                           json={"reason": "不属于困难帮扶"}).get_json()
    assert (rejected["state"], rejected["reject_reason"]) == ("rejected", "不属于困难帮扶")


def test_the_daily_close_of_the_cycle_puts_overdue_claims_back_on_the_wall(client, district, app, session):
    from cycle import jobs, runs
    from tests.reports.helpers import at

    wish_id = _published(client, district)
    _claim(client, district, wish_id, deadline="2026-10-20")
    job = jobs.JOBS["daily"]
    sessions = app.extensions["zongzhi.sessions"]
    [outcome] = runs.run_by_hand(sessions, [district.bank], job, jobs.parse(job, "2026-10-21"),
                                 clock=at(2026, 10, 21, 21, 1))
    assert outcome.status == "done", outcome.message
    assert "1 个微心愿认领过期" in outcome.message
    session.rollback()
    assert wishes.get_wish(session, district.bank, wish_id).state == "published"


def _delivered(client, district, donors):
    wish_id = _published(client, district)
    claimed = _claim(client, district, wish_id, donors=donors).get_json()["claim"]["donors"]
    delivered = client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk, json={
        "delivered_on": "2026-10-15", "gifts": [{"donor": d["id"], "value": 1_000} for d in claimed]})
    assert delivered.status_code == 200, delivered.get_json()
    return wish_id


def test_a_confirmation_refused_after_its_checks_credits_no_one_and_hands_nothing_on(client, district, session):
    wish_id = _published(client, district)
    [donor] = _claim(client, district, wish_id).get_json()["claim"]["donors"]
    used = {**district.clerk, "Idempotency-Key": "used-1"}
    assert client.post(f"{API}/wishes/{wish_id}/delivery", headers=used, json={
        "delivered_on": "2026-10-15", "gifts": [{"donor": donor["id"], "value": 1_000}]}).status_code == 200
    # A key already used for another request refuses the whole confirmation, points and all.
    refused = client.post(f"{API}/wishes/{wish_id}/confirmation", headers=used, json={"thanks": "谢谢"})
    assert refused.status_code == 409
    session.rollback()
    assert district.balance(f"resident:{district.li.id}", ledger="PTS") == 0
    assert (district.balance("inkind:received"), district.balance("inkind:given")) == (1_000, 0)
    assert wishes.get_wish(session, district.bank, wish_id).state == "delivered"


def test_a_confirmation_retried_with_its_key_credits_donors_once(client, district, session):
    wish_id = _delivered(client, district, [{"resident": district.li.id}])
    headers = {**district.clerk, "Idempotency-Key": "thanks-1"}
    first = client.post(f"{API}/wishes/{wish_id}/confirmation", headers=headers, json={"thanks": "谢谢"})
    again = client.post(f"{API}/wishes/{wish_id}/confirmation", headers=headers, json={"thanks": "谢谢"})
    assert first.status_code == again.status_code == 200 and first.get_json() == again.get_json()
    assert district.balance(f"resident:{district.li.id}", ledger="PTS") == 5
    assert district.balance("inkind:given") == 1_000
    other = client.post(f"{API}/wishes/{wish_id}/confirmation", headers=headers, json={"thanks": "不同"})
    assert other.status_code == 409 and other.get_json()["error"] == "idempotency_mismatch"
    # The points and the gift handed on are one confirmation: posted by the same request.
    keys = session.execute(select(Transfer.kind, Transfer.idempotency_key)
                           .where(Transfer.kind.in_(("deed", "inkind_given")))).all()
    assert sorted(keys) == [("deed", "thanks-1"), ("inkind_given", "thanks-1")]
    assert verify_bank(session, district.bank).ok
