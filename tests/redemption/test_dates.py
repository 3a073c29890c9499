"""Dates given to the desk and the fund: inside the cycle's years, and a receipt inside the open months."""
from __future__ import annotations

from sqlalchemy import func, select

from ledger.models import Transfer
from redemption.models import RedemptionWindow

from .conftest import csrf_token, sign_in

ABSURD = ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", 20261010, "20261010"]


def _count(session, table) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(table)).scalar()


def test_a_receipt_dated_absurdly_is_a_422_naming_received_on_and_writes_nothing(client, desk, session):
    for day in ABSURD:
        answer = client.post("/api/v1/banks/hp/fund/receipts", headers=desk.clerk, json={
            "source": "town", "received_on": day, "amount_fen": 500_000})
        assert answer.status_code == 422, day
        assert list(answer.get_json()["fields"]) == ["received_on"], day
    assert _count(session, Transfer) == 0


def test_a_receipt_dated_beyond_backdate_days_is_too_old_and_writes_nothing(client, desk, session):
    refused = client.post("/api/v1/banks/hp/fund/receipts", headers=desk.clerk, json={
        "source": "town", "received_on": "2026-08-30", "amount_fen": 500_000})
    assert refused.status_code == 422 and refused.get_json()["error"] == "too_old"
    assert refused.get_json()["fields"] == {"received_on": ["不能早于 2026-08-31（最多补登 45 天前的记录）"]}
    assert _count(session, Transfer) == 0
    assert client.post("/api/v1/banks/hp/fund/receipts", headers=desk.clerk, json={
        "source": "town", "received_on": "2026-08-31", "amount_fen": 500_000}).status_code == 201


def test_an_extra_window_with_an_absurd_day_is_a_422_naming_it(client, desk, session):
    for field in ("opens_on", "closes_on"):
        for day in ("0001-01-01", "9999-12-31"):
            body = {"opens_on": "2026-10-24", "closes_on": "2026-10-31", field: day}
            answer = client.post("/api/v1/banks/hp/redemption-windows", headers=desk.reviewer, json=body)
            assert answer.status_code == 422, (field, day)
            assert field in answer.get_json()["fields"], (field, day)
    assert _count(session, RedemptionWindow) == 0


def test_a_quarter_outside_the_cycles_years_is_refused_in_paths_and_queries(client, desk, make):
    quarters = ["0001-Q1", "9999-Q4", "1999-Q4", "2100-Q1", "2026-Q5", "2026-Q0", "٢٠٢٦-Q4"]
    for quarter in quarters:
        for url in (f"/api/v1/banks/hp/desk-summary/{quarter}", f"/api/v1/banks/hp/desk-summary/{quarter}.pdf",
                    f"/api/v1/banks/hp/fund/disclosures/{quarter}.pdf"):
            answer = client.get(url, headers=desk.supervisor)
            assert answer.status_code == 422, url
            assert list(answer.get_json()["fields"]) == ["quarter"], url
    sign_in(client, make, desk.bank, "desk", "taizi")
    for quarter in quarters:
        assert client.get("/banks/hp/desk/summary", query_string={"quarter": quarter}).status_code == 422, quarter


def test_the_fund_screen_refuses_a_receipt_of_year_one_and_records_nothing(client, make, desk, session):
    sign_in(client, make, desk.bank, "clerk", "jifen")
    answer = client.post("/banks/hp/fund", data={"source": "town", "received_on": "0001-01-01", "amount_yuan": "100",
                                                 "csrf_token": csrf_token(client, "/banks/hp/fund")})
    assert answer.status_code == 422
    assert "received_on" in answer.get_data(as_text=True)
    assert _count(session, Transfer) == 0
