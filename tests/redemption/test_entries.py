"""The desk's events as entries: a line's points and cost, a purchase's payments, undone together."""
from __future__ import annotations

from sqlalchemy import select

from ledger.models import CNY, Account, Transfer
from ledger.verify import verify_bank


def _cny(session, bank, code):
    session.rollback()
    return session.execute(select(Account.balance).where(
        Account.bank_id == bank.id, Account.ledger == CNY, Account.code == code)).scalar()


def _reverse(client, desk, transfer_id):
    return client.post(f"/api/v1/banks/hp/transfers/{transfer_id}/reverse", json={"reason": "拿错了"},
                       headers=desk.clerk)


def test_each_line_of_a_redemption_is_one_entry_and_undoing_one_leaves_the_other(client, desk, session):
    desk.money(100_000)
    desk.item()                                                         # rice: 30 points, ¥25
    desk.item(sku="oil", name="菜籽油", points=12, cost_fen=1500, stock=5)
    desk.points(desk.wang, 90)
    body = desk.redeem(client, desk.wang, [("rice", 1), ("oil", 2)]).get_json()
    legs = [(t["kind"], t["entry"]) for t in body["transfers"]]
    first, second = body["transfers"][0]["seq"], body["transfers"][2]["seq"]
    assert legs == [("redemption", first), ("goods_cost", first), ("redemption", second), ("goods_cost", second)]
    cost = body["transfers"][3]                                         # the oil line's cost leg
    answer = _reverse(client, desk, cost["id"])
    assert answer.status_code == 201, answer.get_json()
    assert [t["reverses"] for t in answer.get_json()["transfers"]] == [body["transfers"][2]["id"], cost["id"]]
    assert (desk.balance(desk.wang), desk.stock("oil"), desk.stock("rice")) == (90 - 30, 5, 9)
    shown = client.get(f"/api/v1/banks/hp/redemptions/{body['id']}", headers=desk.desk).get_json()
    assert [line["reversed"] for line in shown["lines"]] == [False, True]
    assert verify_bank(session, desk.bank).ok


def test_a_purchase_paid_from_two_accounts_is_one_entry_undone_whole(client, desk, session):
    desk.money(1_000, restriction="goods")
    desk.money(100_000)
    desk.item(stock=4)                                                  # ¥100: ¥10 goods money, ¥90 free
    paid = list(session.execute(select(Transfer).where(Transfer.kind == "goods_purchase")
                                .order_by(Transfer.seq)).scalars())
    assert len(paid) == 2 and paid[0].entry_seq == paid[1].entry_seq == paid[0].seq
    answer = _reverse(client, desk, paid[1].id)
    assert answer.status_code == 201, answer.get_json()
    assert len(answer.get_json()["transfers"]) == 2
    assert (_cny(session, desk.bank, "fund:goods"), _cny(session, desk.bank, "fund")) == (1_000, 100_000)
    assert desk.stock() == 0 and _cny(session, desk.bank, "stock:goods") == 0
    assert verify_bank(session, desk.bank).ok
