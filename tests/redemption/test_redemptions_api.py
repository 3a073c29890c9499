"""Redemptions over HTTP: points, stock and the goods' cost in one go, and every refusal."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from ground.clock import FixedClock
from ledger.models import CNY, Account, Transfer
from ledger.verify import verify_bank
from redemption.services import windows

from .conftest import DESK_RULES, Desk


@pytest.fixture
def stocked(desk):
    desk.money(100_000)
    desk.item()                                            # rice: 30 points, ¥25, 10 in stock
    desk.points(desk.wang, 90)
    return desk


def _count(session, **where):
    session.rollback()
    stmt = select(func.count()).select_from(Transfer)
    for column, value in where.items():
        stmt = stmt.where(getattr(Transfer, column) == value)
    return session.execute(stmt).scalar()


def _cny(session, bank, code):
    session.rollback()
    return session.execute(select(Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == CNY, Account.code == code)).scalar()


def test_a_redemption_debits_points_takes_stock_and_posts_the_goods_cost(client, stocked, session):
    answer = stocked.redeem(client, stocked.wang, [("rice", 2)])
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["points"], body["balance"], body["cost_fen"]) == (60, 30, 5000)
    assert [(t["ledger"], t["kind"], t["amount"]) for t in body["transfers"]] == [
        ("PTS", "redemption", 60), ("CNY", "goods_cost", 5000)]
    assert body["transfers"][0]["account"] == f"resident:{stocked.wang.id}"
    assert body["lines"][0]["sku"] == "rice" and body["lines"][0]["quantity"] == 2
    assert stocked.balance(stocked.wang) == 30
    assert stocked.stock() == 8
    assert _cny(session, stocked.bank, "stock:goods") == 8 * 2500
    assert _cny(session, stocked.bank, "spent:goods") == 5000
    assert verify_bank(session, stocked.bank).ok


def test_the_catalog_lists_price_and_stock_for_the_desk(client, stocked):
    answer = client.get("/api/v1/banks/hp/catalog", headers=stocked.desk)
    assert answer.status_code == 200
    [item] = answer.get_json()["items"]
    assert (item["sku"], item["name"], item["points"], item["stock"]) == ("rice", "大米 5kg", 30, 10)


def test_cannot_redeem_more_than_the_balance(client, stocked, session):
    before = _count(session)
    answer = stocked.redeem(client, stocked.wang, [("rice", 4)])
    assert answer.status_code == 409
    assert answer.get_json()["error"] == "insufficient_points"
    assert "余额 90" in answer.get_json()["message"]
    assert _count(session) == before and stocked.stock() == 10


def test_cannot_redeem_more_than_the_stock(client, stocked, session):
    stocked.points(stocked.wang, 300)
    answer = stocked.redeem(client, stocked.wang, [("rice", 11)])
    assert (answer.status_code, answer.get_json()["error"]) == (409, "out_of_stock")
    assert stocked.balance(stocked.wang) == 390
    # The field's reason is in the reader's language, as the message is.
    assert answer.get_json()["fields"] == {"items": ["大米 5kg：库存 10 件"]}
    english = stocked.redeem(client, stocked.wang, [("rice", 11)], headers={**stocked.desk, "Accept-Language": "en"})
    assert english.get_json()["fields"] == {"items": ["rice: 10 in stock"]}


def test_outside_a_window_the_desk_is_closed_and_says_when_it_opens(app, client, stocked):
    app.extensions["zongzhi.clock"] = FixedClock(at=datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    answer = stocked.redeem(client, stocked.wang, [("rice", 1)])
    assert (answer.status_code, answer.get_json()["error"]) == (409, "window_closed")
    assert "下次兑换期 2027年1月1日 至 2027年1月20日" in answer.get_json()["message"]


def test_a_limit_per_window_counts_what_the_holder_already_took(client, stocked):
    stocked.item(sku="oil", name="菜籽油", points=10, cost_fen=1500, stock=10, limit=2)
    assert stocked.redeem(client, stocked.wang, [("oil", 1)]).status_code == 201
    answer = stocked.redeem(client, stocked.wang, [("oil", 2)])
    assert (answer.status_code, answer.get_json()["error"]) == (409, "limit_exceeded")
    assert "还可兑 1 件" in answer.get_json()["message"]
    assert answer.get_json()["fields"] == {"items": ["菜籽油：本期还可兑 1 件"]}
    english = stocked.redeem(client, stocked.wang, [("oil", 2)], headers={**stocked.desk, "Accept-Language": "en"})
    assert english.get_json()["fields"] == {"items": ["oil: 1 left this window"]}
    assert stocked.redeem(client, stocked.wang, [("oil", 1)]).status_code == 201


def test_a_retried_redemption_returns_the_first_answer_and_writes_nothing(client, stocked, session):
    first = stocked.redeem(client, stocked.wang, [("rice", 1)], key="desk-1-0001")
    again = stocked.redeem(client, stocked.wang, [("rice", 1)], key="desk-1-0001")
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert _count(session, kind="redemption") == 1 and stocked.stock() == 9
    other = stocked.redeem(client, stocked.wang, [("rice", 2)], key="desk-1-0001")
    assert (other.status_code, other.get_json()["error"]) == (409, "idempotency_mismatch")


@pytest.mark.parametrize("body, field", [
    ({"items": [{"sku": "rice", "quantity": 1}]}, "resident"),
    ({"resident": 1, "items": [{"sku": "rice"}]}, "items"),              # quantity is not optional
    ({"resident": 1, "items": []}, "items"),
    ({"resident": 1, "items": [{"sku": "rice", "quantity": 0}]}, "items"),
    ({"resident": 1, "items": [{"sku": "rice", "quantity": "2"}]}, "items"),
    ({"resident": 1, "items": [{"sku": "nope", "quantity": 1}]}, "items"),
    ({"resident": 1, "items": [{"sku": "rice", "quantity": 1}, {"sku": "rice", "quantity": 1}]}, "items"),
    ({"resident": 999, "items": [{"sku": "rice", "quantity": 1}]}, "resident"),
])
def test_bad_redemption_requests_are_refused_field_by_field(client, stocked, session, body, field):
    before = _count(session)
    answer = client.post("/api/v1/banks/hp/redemptions", json=body, headers=stocked.desk)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["fields"]
    assert _count(session) == before


def test_only_the_desk_hands_out_goods_and_another_bank_does_not_exist(client, stocked, make):
    assert stocked.redeem(client, stocked.wang, [("rice", 1)], headers=stocked.clerk).status_code == 403
    other = make.bank(code="xz", rules=DESK_RULES)
    stranger = make.token(other, "desk")
    assert stocked.redeem(client, stocked.wang, [("rice", 1)], headers=stranger).status_code == 404


def test_a_negative_balance_may_not_redeem_unless_the_rules_allow_it(make, session, clock, client):
    # Points per household: Wang Da's penalties put him below zero though the household has points.
    for allowed in (False, True):
        rules = DESK_RULES.replace("account_unit: person", "account_unit: household")
        if allowed:
            rules = rules.replace("  point_value_fen", "  negative_balance_may_redeem: true\n  point_value_fen")
        make.session = session
        desk = Desk.__new__(Desk)
        desk.make, desk.session, desk.clock = make, session, clock
        desk.bank = make.bank(code=f"b{int(allowed)}", rules=rules)
        home = make.household(desk.bank, f"H{int(allowed)}")
        desk.wang, desk.wang2 = make.resident(desk.bank, "王大", home), make.resident(desk.bank, "王二", home)
        desk.__dict__["desk"] = make.token(desk.bank, "desk")
        desk.money(50_000)
        desk.item()
        desk.points(desk.wang2, 60)
        make.deed(desk.bank, "litter", [desk.wang])
        answer = desk.redeem(client, desk.wang, [("rice", 1)])
        if allowed:
            assert answer.status_code == 201, answer.get_json()
        else:
            assert (answer.status_code, answer.get_json()["error"]) == (409, "insufficient_points")
            assert desk.redeem(client, desk.wang2, [("rice", 1)]).status_code == 201


def test_a_household_redeems_from_the_household_account(client, household_desk):
    d = household_desk
    d.money(50_000)
    d.item()
    d.points(d.wang2, 60)
    answer = d.redeem(client, d.wang, [("rice", 1)])
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["account"] == f"household:{d.east.id}"
    assert answer.get_json()["balance"] == 30


# --- reversal -----------------------------------------------------------------------------------

def _reverse(client, desk, transfer_id, headers=None):
    return client.post(f"/api/v1/banks/hp/transfers/{transfer_id}/reverse", json={"reason": "拿错了"},
                       headers=headers or desk.clerk)


@pytest.mark.parametrize("which", ["redemption", "goods_cost"])
def test_reversing_either_transfer_of_a_same_day_mistake_puts_everything_back(
        client, stocked, session, which):
    body = stocked.redeem(client, stocked.wang, [("rice", 2)]).get_json()
    transfer = next(t for t in body["transfers"] if t["kind"] == which)
    assert _reverse(client, stocked, transfer["id"]).status_code == 201
    assert stocked.balance(stocked.wang) == 90
    assert stocked.stock() == 10
    assert _cny(session, stocked.bank, "stock:goods") == 10 * 2500
    assert _cny(session, stocked.bank, "spent:goods") == 0
    assert _count(session, kind="reversal") == 2
    assert verify_bank(session, stocked.bank).ok
    shown = client.get(f"/api/v1/banks/hp/redemptions/{body['id']}", headers=stocked.desk).get_json()
    assert shown["lines"][0]["reversed"] is True
    again = _reverse(client, stocked, body["transfers"][0]["id"])
    assert (again.status_code, again.get_json()["error"]) == (409, "already_reversed")


def test_a_redemption_cannot_be_reversed_after_its_day(app, client, stocked, session):
    body = stocked.redeem(client, stocked.wang, [("rice", 1)]).get_json()
    app.extensions["zongzhi.clock"] = FixedClock(at=datetime(2026, 10, 16, 2, 0, tzinfo=timezone.utc))
    answer = _reverse(client, stocked, body["transfers"][0]["id"])
    assert (answer.status_code, answer.get_json()["error"]) == (409, "reversal_too_late")
    assert _count(session, kind="reversal") == 0 and stocked.stock() == 9


def test_reversed_goods_no_longer_count_against_the_limit(client, stocked):
    stocked.item(sku="oil", name="菜籽油", points=10, cost_fen=1500, stock=5, limit=1)
    body = stocked.redeem(client, stocked.wang, [("oil", 1)]).get_json()
    assert stocked.redeem(client, stocked.wang, [("oil", 1)]).status_code == 409
    _reverse(client, stocked, body["transfers"][0]["id"])
    assert stocked.redeem(client, stocked.wang, [("oil", 1)]).status_code == 201


# --- catalog and stock --------------------------------------------------------------------------

def test_a_purchase_is_paid_from_goods_only_money_first_then_from_the_fund(client, desk, session):
    desk.money(3000, restriction="goods")
    desk.money(10_000)
    client.post("/api/v1/banks/hp/catalog", json={"sku": "soap", "name": "肥皂", "points": 5,
                                                  "cost_fen": 500}, headers=desk.clerk)
    answer = client.post("/api/v1/banks/hp/catalog/soap/stock",
                         json={"quantity": 10, "source": "purchase"}, headers=desk.clerk)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["stock"] == 10 and answer.get_json()["stock_value_fen"] == 5000
    assert sorted((t["debit"], t["amount"]) for t in answer.get_json()["transfers"]) == [
        ("fund", 2000), ("fund:goods", 3000)]
    assert _cny(session, desk.bank, "fund:goods") == 0 and _cny(session, desk.bank, "fund") == 8000


def test_a_purchase_the_fund_cannot_pay_is_refused(client, desk, session):
    desk.money(1000)
    client.post("/api/v1/banks/hp/catalog", json={"sku": "tv", "name": "电视", "points": 3000,
                                                  "cost_fen": 150_000}, headers=desk.clerk)
    answer = client.post("/api/v1/banks/hp/catalog/tv/stock", json={"quantity": 1, "source": "purchase"},
                         headers=desk.clerk)
    assert (answer.status_code, answer.get_json()["error"]) == (409, "insufficient_funds")
    assert desk.stock("tv") == 0 and _cny(session, desk.bank, "fund") == 1000


def test_an_in_kind_gift_is_recorded_at_its_stated_value_as_a_receipt(client, desk, session):
    client.post("/api/v1/banks/hp/catalog", json={"sku": "towel", "name": "毛巾", "points": 8,
                                                  "cost_fen": 600}, headers=desk.clerk)
    answer = client.post("/api/v1/banks/hp/catalog/towel/stock", headers=desk.clerk, json={
        "quantity": 50, "source": "donation", "cost_fen": 25_000, "donor": "县纺织厂",
        "donor_source": "sponsor"})
    assert answer.status_code == 201, answer.get_json()
    [t] = answer.get_json()["transfers"]
    assert (t["debit"], t["credit"], t["amount"]) == ("source:sponsor", "stock:goods", 25_000)
    receipts = client.get("/api/v1/banks/hp/fund/receipts", headers=desk.clerk).get_json()["items"]
    assert receipts[0]["in_kind"] and receipts[0]["donor"] == "县纺织厂" and receipts[0]["item"] == "towel"
    assert _cny(session, desk.bank, "fund") == 0


@pytest.mark.parametrize("body, field", [
    ({"sku": "a b", "name": "x", "points": 1, "cost_fen": 0}, "sku"),
    ({"sku": "a", "name": " ", "points": 1, "cost_fen": 0}, "name"),
    ({"sku": "a", "name": "x", "points": 0, "cost_fen": 0}, "points"),
    ({"sku": "a", "name": "x", "points": 1, "cost_fen": -1}, "cost_fen"),
    ({"sku": "a", "name": "x", "points": 1, "cost_fen": 1.5}, "cost_fen"),
    ({"sku": "a", "name": "x", "points": 1, "cost_fen": 1, "limit_per_window": 0}, "limit_per_window"),
])
def test_bad_catalog_items_are_refused(client, desk, body, field):
    answer = client.post("/api/v1/banks/hp/catalog", json=body, headers=desk.clerk)
    assert answer.status_code == 422 and field in answer.get_json()["fields"]


def test_a_sku_is_unique_in_its_bank(client, desk):
    body = {"sku": "rice", "name": "大米", "points": 30, "cost_fen": 2500}
    assert client.post("/api/v1/banks/hp/catalog", json=body, headers=desk.clerk).status_code == 201
    again = client.post("/api/v1/banks/hp/catalog", json=body, headers=desk.clerk)
    assert (again.status_code, again.get_json()["error"]) == (409, "sku_exists")


def test_a_donation_must_name_its_donor(client, desk):
    client.post("/api/v1/banks/hp/catalog", json={"sku": "a", "name": "x", "points": 1, "cost_fen": 1},
                headers=desk.clerk)
    answer = client.post("/api/v1/banks/hp/catalog/a/stock", json={"quantity": 1, "source": "donation"},
                         headers=desk.clerk)
    assert answer.status_code == 422 and "donor" in answer.get_json()["fields"]


def test_a_purchase_reversed_while_still_on_the_shelf_takes_the_goods_back(client, stocked, session):
    movement = session.execute(select(Transfer).where(Transfer.kind == "goods_purchase")).scalars().first()
    assert _reverse(client, stocked, movement.id).status_code == 201
    assert stocked.stock() == 0 and _cny(session, stocked.bank, "fund") == 100_000


def test_a_purchase_partly_handed_out_cannot_be_reversed(client, stocked, session):
    stocked.redeem(client, stocked.wang, [("rice", 1)])
    movement = session.execute(select(Transfer).where(Transfer.kind == "goods_purchase")).scalars().first()
    answer = _reverse(client, stocked, movement.id)
    assert (answer.status_code, answer.get_json()["error"]) == (409, "out_of_stock")
    assert stocked.stock() == 9


# --- windows ------------------------------------------------------------------------------------

def test_the_council_adds_an_extra_window_and_the_desk_opens_in_it(app, client, stocked):
    app.extensions["zongzhi.clock"] = FixedClock(at=datetime(2026, 10, 25, 2, 0, tzinfo=timezone.utc))
    assert stocked.redeem(client, stocked.wang, [("rice", 1)]).get_json()["error"] == "window_closed"
    clerk_try = client.post("/api/v1/banks/hp/redemption-windows", headers=stocked.clerk,
                            json={"opens_on": "2026-10-24", "closes_on": "2026-10-31"})
    assert clerk_try.status_code == 403
    answer = client.post("/api/v1/banks/hp/redemption-windows", headers=stocked.reviewer,
                         json={"opens_on": "2026-10-24", "closes_on": "2026-10-31", "memo": "重阳节"})
    assert answer.status_code == 201 and answer.get_json()["kind"] == "extra"
    made = stocked.redeem(client, stocked.wang, [("rice", 1)])
    assert made.status_code == 201
    assert made.get_json()["window"] == {"id": answer.get_json()["id"], "kind": "extra",
                                         "opens_on": "2026-10-24", "closes_on": "2026-10-31"}
    listed = client.get("/api/v1/banks/hp/redemption-windows", headers=stocked.desk).get_json()
    assert listed["current"]["opens_on"] == "2026-10-24"


@pytest.mark.parametrize("body, status", [
    ({"opens_on": "2026-10-31", "closes_on": "2026-10-30"}, 422),
    ({"opens_on": "2026-09-01", "closes_on": "2026-09-05"}, 422),
    ({"opens_on": "2026-10-18", "closes_on": "2026-10-25"}, 409),   # overlaps 1-20 October
    ({"opens_on": "2026-11-01"}, 422),
])
def test_bad_extra_windows_are_refused(client, desk, body, status):
    answer = client.post("/api/v1/banks/hp/redemption-windows", json=body, headers=desk.reviewer)
    assert answer.status_code == status, answer.get_json()


def test_the_cycle_opens_and_closes_the_quarters_window_through_the_services(client, stocked, session, clock):
    window = windows.open_window(session, stocked.bank, opens_on=date(2026, 10, 10),
                                  closes_on=date(2026, 10, 16), kind="regular", by="cycle", clock=clock)
    assert windows.open_window(session, stocked.bank, opens_on=date(2026, 10, 10),
                                closes_on=date(2026, 10, 16), kind="regular", by="cycle",
                                clock=clock).id == window.id
    assert windows.current_window(session, stocked.bank, date(2026, 10, 5)) is None   # replaced 1-20
    assert windows.current_window(session, stocked.bank, date(2026, 10, 15)).id == window.id
    windows.close_window(session, stocked.bank, window.id, by="cycle", clock=clock)
    assert windows.current_window(session, stocked.bank, clock.today()) is None
    assert stocked.redeem(client, stocked.wang, [("rice", 1)]).get_json()["error"] == "window_closed"
    assert windows.next_window(session, stocked.bank, clock.today()).opens_on == date(2027, 1, 1)


# --- the quarter's summary ----------------------------------------------------------------------

def test_the_desk_summary_counts_what_was_given_less_what_was_reversed(client, stocked):
    stocked.points(stocked.li, 60)
    stocked.redeem(client, stocked.wang, [("rice", 2)])
    undone = stocked.redeem(client, stocked.li, [("rice", 1)]).get_json()
    _reverse(client, stocked, undone["transfers"][0]["id"])
    summary = client.get("/api/v1/banks/hp/desk-summary/2026-Q4", headers=stocked.supervisor).get_json()
    [rice] = summary["items"]
    assert (rice["quantity"], rice["points"], rice["cost_fen"], rice["stock"]) == (2, 60, 5000, 8)
    assert (summary["visits"], summary["holders"]) == (1, 1)
    pdf = client.get("/api/v1/banks/hp/desk-summary/2026-Q4.pdf", headers=stocked.supervisor)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/api/v1/banks/hp/desk-summary/2026-Q5", headers=stocked.supervisor).status_code == 422


def test_the_openapi_document_describes_the_desk(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/banks/{bank}/catalog", "/api/v1/banks/{bank}/catalog/{sku}/stock",
                 "/api/v1/banks/{bank}/redemption-windows", "/api/v1/banks/{bank}/redemptions",
                 "/api/v1/banks/{bank}/residents/{resident_id}/card", "/api/v1/banks/{bank}/fund/receipts"):
        assert path in paths, path
    assert "409" in paths["/api/v1/banks/{bank}/redemptions"]["post"]["responses"]


def test_an_item_taken_off_the_shelf_is_not_offered_or_redeemed(client, stocked):
    changed = client.patch("/api/v1/banks/hp/catalog/rice", json={"active": False}, headers=stocked.clerk)
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    assert client.get("/api/v1/banks/hp/catalog?active=1", headers=stocked.desk).get_json()["items"] == []
    answer = stocked.redeem(client, stocked.wang, [("rice", 1)])
    assert answer.status_code == 422 and "已下架" in answer.get_json()["fields"]["items"][0]
    assert client.patch("/api/v1/banks/hp/catalog/rice", json={"points": 0},
                        headers=stocked.clerk).status_code == 422
    assert client.patch("/api/v1/banks/hp/catalog/nope", json={"points": 5},
                        headers=stocked.clerk).status_code == 404


def test_the_desk_s_and_the_windows_refusals_answer_in_english_when_asked(client, stocked):
    en = {**stocked.desk, "Accept-Language": "en"}
    twice = client.post("/api/v1/banks/hp/redemptions", headers=en, json={
        "resident": stocked.wang.id, "items": [{"sku": "rice", "quantity": 1}, {"sku": "rice", "quantity": 1}]})
    assert twice.get_json()["fields"]["items"] == ["a sku may appear only once"]
    backwards = client.post("/api/v1/banks/hp/redemption-windows", json={
        "opens_on": "2026-12-20", "closes_on": "2026-12-10"}, headers={**stocked.reviewer, "Accept-Language": "en"})
    assert backwards.get_json()["fields"]["closes_on"] == ["the last day cannot be before the first"]
    bad_sku = client.post("/api/v1/banks/hp/catalog", json={
        "sku": "-x", "name": "毛巾", "points": 5, "cost_fen": 100}, headers={**stocked.clerk, "Accept-Language": "en"})
    assert bad_sku.get_json()["fields"]["sku"][0].startswith("letters, digits")
