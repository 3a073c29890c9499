"""The fund: receipts by source and restriction, coverage of the points out, the quarter's disclosure."""
from __future__ import annotations

import subprocess
from datetime import date

import pytest
from sqlalchemy import select

from ledger.models import Transfer
from redemption.services import catalog
from redemption.services import fund as the_fund

from .conftest import sign_in


def _receipt(client, desk, **body):
    body = {"source": "town", "received_on": "2026-10-10", "amount_fen": 500_000, **body}
    return client.post("/api/v1/banks/hp/fund/receipts", json=body, headers=desk.clerk)


def test_a_receipt_credits_the_fund_its_restriction_names(client, desk):
    answers = [_receipt(client, desk),
               _receipt(client, desk, source="sponsor", donor="县农商行", amount_fen=200_000,
                        restriction="goods"),
               _receipt(client, desk, source="donor", donor="熊建国", amount_fen=5_000,
                        restriction="projects", memo="修路")]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.get_json() for a in answers]
    fund = client.get("/api/v1/banks/hp/fund", headers=desk.supervisor).get_json()
    assert (fund["unrestricted_fen"], fund["goods_only_fen"], fund["projects_only_fen"]) == (
        500_000, 200_000, 5_000)
    assert fund["available_fen"] == 700_000   # money for projects cannot honour points
    listed = client.get("/api/v1/banks/hp/fund/receipts", headers=desk.supervisor).get_json()["items"]
    assert [(r["source"], r["donor"]) for r in listed] == [("donor", "熊建国"), ("sponsor", "县农商行"),
                                                          ("town", None)]


@pytest.mark.parametrize("body, field", [
    ({"source": "bank"}, "source"),
    ({"amount_fen": 0}, "amount_fen"),
    ({"amount_fen": 12.5}, "amount_fen"),
    ({"amount_fen": "100"}, "amount_fen"),
    ({"restriction": "food"}, "restriction"),
    ({"received_on": "2026-10-16"}, "received_on"),
    ({"received_on": "yesterday"}, "received_on"),
])
def test_bad_receipts_are_refused_and_change_nothing(client, desk, session, body, field):
    answer = _receipt(client, desk, **body)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["fields"]
    session.rollback()
    assert session.execute(select(Transfer.id)).first() is None


def test_supervisors_read_the_fund_but_do_not_write_it(client, desk):
    assert _receipt(client, desk).status_code == 201
    refused = client.post("/api/v1/banks/hp/fund/receipts", headers=desk.supervisor,
                          json={"source": "town", "received_on": "2026-10-10", "amount_fen": 1})
    assert refused.status_code == 403
    assert client.get("/api/v1/banks/hp/fund", headers=desk.desk).status_code == 403


def test_coverage_warns_when_the_fund_falls_below_the_rules_threshold(client, desk):
    desk.points(desk.wang, 300)                        # 300 points × ¥0.10 = ¥30.00
    desk.money(3_000)
    fund = client.get("/api/v1/banks/hp/fund", headers=desk.supervisor).get_json()["coverage"]
    assert (fund["liability_fen"], fund["percent"], fund["warning"]) == (3_000, 100, True)
    desk.money(600)
    fund = client.get("/api/v1/banks/hp/fund", headers=desk.supervisor).get_json()["coverage"]
    assert (fund["percent"], fund["warning"]) == (120, False)


def test_the_fund_screen_shows_the_coverage_warning_to_the_supervisor(client, desk, make):
    desk.points(desk.wang, 300)
    sign_in(client, make, desk.bank, "supervisor", "jianshi")
    page = client.get("/banks/hp/fund")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "保障率低于 120%" in text and "登记收入" not in text


def test_a_spent_receipt_cannot_be_reversed(client, desk, session):
    receipt = desk.money(5_000)
    desk.item(sku="soap", name="肥皂", points=5, cost_fen=500, stock=6)
    answer = client.post(f"/api/v1/banks/hp/transfers/{receipt.transfer_id}/reverse",
                         json={"reason": "录错了"}, headers=desk.clerk)
    assert (answer.status_code, answer.get_json()["error"]) == (409, "insufficient_funds")
    desk.money(5_000)
    assert client.post(f"/api/v1/banks/hp/transfers/{receipt.transfer_id}/reverse",
                       json={"reason": "录错了"}, headers=desk.clerk).status_code == 201


def test_the_quarters_disclosure_reconciles_money_and_goods(client, desk, session, clock):
    desk.money(100_000, source="town")
    desk.money(20_000, source="sponsor", donor="县农商行", restriction="goods")
    desk.item(sku="rice", name="大米", points=30, cost_fen=2500, stock=10)        # ¥250 from the fund
    catalog.stock_in(session, desk.bank, "rice", quantity=2, source="donation", cost_fen=4000,
                      donor="熊建国", by="test", clock=clock)
    desk.points(desk.wang, 90)
    assert desk.redeem(client, desk.wang, [("rice", 3)]).status_code == 201
    data = the_fund.disclosure(session, desk.bank, 2026, 4, clock=clock)
    money, goods = data["money"], data["goods"]
    assert money["opening_fen"] == 0
    assert [(r["source"], r["fen"]) for r in money["receipts"]] == [("town", 100_000), ("sponsor", 20_000)]
    assert money["uses_fen"] == 25_000 and money["closing_fen"] == 95_000
    assert money["opening_fen"] + money["receipts_fen"] - money["uses_fen"] == money["closing_fen"]
    assert [(r["source"], r["fen"]) for r in goods["receipts"]] == [("donor", 4000)]
    assert goods["opening_fen"] + goods["receipts_fen"] - goods["uses_fen"] == goods["closing_fen"]
    assert goods["closing_fen"] == 29_000 - 29_000 * 3 // 12        # moving average cost
    assert data["coverage"].points_outstanding == 0
    pdf = client.get("/api/v1/banks/hp/fund/disclosures/2026-Q4.pdf", headers=desk.supervisor)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.data, capture_output=True,
                          check=True).stdout.decode()
    for words in ("财务公开", "镇投入", "社会赞助", "县农商行", "熊建国", "期末余额", "¥950.00",
                  "理事会（签字）", "监事（签字）", "保障率", "社区基金工作", "收到微项目申请"):
        assert words in text, words


def test_a_later_quarter_opens_with_the_last_ones_closing(session, desk, clock):
    desk.money(100_000)
    data = the_fund.disclosure(session, desk.bank, 2027, 1, clock=clock)
    assert data["money"]["opening_fen"] == 100_000 and data["money"]["receipts"] == []
    assert data["first"] == date(2027, 1, 1)
