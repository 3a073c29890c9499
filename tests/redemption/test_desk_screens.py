"""The desk's screen: scan a card, pick goods, confirm, print the receipt; undo a mistake."""
from __future__ import annotations

import re

import pytest
import subprocess

from sqlalchemy import func, select

from redemption.models import Redemption

from .conftest import csrf_token, sign_in


def _desk(client, make, desk):
    desk.money(100_000)
    desk.item()
    desk.points(desk.wang, 90)
    sign_in(client, make, desk.bank, "desk", "taizi")


def test_a_scanned_card_opens_its_holder_and_a_confirmed_pick_prints_a_receipt(client, make, desk, session):
    card = client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card", headers=desk.clerk).get_json()
    _desk(client, make, desk)
    screen = client.get("/banks/hp/desk").get_data(as_text=True)
    assert 'id="scan" name="scan" autofocus' in screen
    scanned = client.post("/banks/hp/desk/scan", data={"scan": card["url"] + "\n",
                                                       "csrf_token": csrf_token(client, "/banks/hp/desk")})
    assert scanned.status_code == 302 and scanned.location.endswith(f"resident={desk.wang.id}")
    holder = client.get(scanned.location).get_data(as_text=True)
    assert "王大" in holder and ">90<" in holder and "大米 5kg" in holder
    key = re.search(r'name="key" value="([0-9a-f]+)"', holder).group(1)
    form = {"resident": desk.wang.id, "key": key, "qty:rice": "2",
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', holder).group(1)}
    done = client.post("/banks/hp/desk/redeem", data=form)
    assert done.status_code == 302
    again = client.post("/banks/hp/desk/redeem", data=form)          # a double click
    assert again.location == done.location
    session.rollback()
    assert session.execute(select(func.count()).select_from(Redemption)).scalar() == 1
    receipt = client.get(done.location).get_data(as_text=True)
    assert "积分兑换凭证" in receipt and "兑换后余额" in receipt and "30 分" in receipt
    pdf = client.get(done.location + ".pdf")
    info = subprocess.run(["pdfinfo", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert "297.638 x 419.528 pts" in info                               # A6
    assert desk.balance(desk.wang) == 30 and desk.stock() == 8


def test_a_name_typed_at_the_desk_searches_by_pinyin(client, make, desk):
    _desk(client, make, desk)
    scanned = client.post("/banks/hp/desk/scan", data={"scan": "wd", "csrf_token": csrf_token(client, "/banks/hp/desk")})
    found = client.get(scanned.location).get_data(as_text=True)
    assert "王大" in found and "李四" not in found


def test_a_refused_pick_says_why_and_takes_nothing(client, make, desk):
    _desk(client, make, desk)
    holder = client.get(f"/banks/hp/desk?resident={desk.wang.id}").get_data(as_text=True)
    answer = client.post("/banks/hp/desk/redeem", data={
        "resident": desk.wang.id, "key": "k1", "qty:rice": "4",
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', holder).group(1)})
    assert answer.status_code == 409
    assert "积分不足" in answer.get_data(as_text=True)
    assert desk.balance(desk.wang) == 90 and desk.stock() == 10


def test_a_clerk_undoes_a_same_day_mistake_from_the_receipt(client, make, desk):
    desk.money(100_000)
    desk.item()
    desk.points(desk.wang, 90)
    body = desk.redeem(client, desk.wang, [("rice", 1)]).get_json()
    sign_in(client, make, desk.bank, "clerk", "jifen")
    path = f"/banks/hp/desk/receipts/{body['id']}"
    page = client.get(path).get_data(as_text=True)
    assert "当天更正" in page
    line = body["lines"][0]["id"]
    answer = client.post(f"{path}/lines/{line}/reverse", data={"reason": "拿错了", "csrf_token": csrf_token(client, path)})
    assert answer.status_code == 302
    assert desk.balance(desk.wang) == 90 and desk.stock() == 10
    assert "已冲正" in client.get(path).get_data(as_text=True)


def test_a_correction_refused_comes_back_with_its_reason_as_typed_beside_the_line(client, make, desk):
    from ..forms import read_form

    desk.money(100_000)
    desk.item()
    desk.points(desk.wang, 90)
    body = desk.redeem(client, desk.wang, [("rice", 1)]).get_json()
    sign_in(client, make, desk.bank, "clerk", "jifen")
    path = f"/banks/hp/desk/receipts/{body['id']}"
    line = body["lines"][0]["id"]
    typed = "拿" * 501
    answer = client.post(f"{path}/lines/{line}/reverse", data={"reason": typed, "csrf_token": csrf_token(client, path)})
    assert answer.status_code == 422
    values, beside = read_form(answer.get_data(as_text=True))
    assert values["reason"] == [typed] and beside["reason"]
    assert desk.stock() == 9  # nothing undone: the rice is still out


def test_the_desk_screen_needs_a_desk_user(client, make, desk):
    assert client.get("/banks/hp/desk").status_code == 302                  # to sign in
    sign_in(client, make, desk.bank, "supervisor", "jian")
    assert client.get("/banks/hp/desk").status_code == 403


def test_a_household_card_asks_which_member_is_at_the_desk(client, make, household_desk):
    d = household_desk
    card = client.post("/api/v1/banks/hp/households/E01/card", headers=d.clerk).get_json()
    sign_in(client, make, d.bank, "desk", "taizi")
    scanned = client.post("/banks/hp/desk/scan", data={"scan": card["url"],
                                                       "csrf_token": csrf_token(client, "/banks/hp/desk")})
    assert scanned.location.endswith("household=E01")
    page = client.get(scanned.location).get_data(as_text=True)
    assert "王大" in page and "王二" in page and "李四" not in page
    assert client.get("/banks/hp/desk?household=NOPE").status_code == 404


@pytest.mark.parametrize("typed", ["-1", "abc", "1000000000000000000", "1001"])
def test_a_wrong_quantity_at_the_desk_is_said_once_beside_its_goods_by_name(client, make, desk, session, typed):
    _desk(client, make, desk)
    holder = client.get(f"/banks/hp/desk?resident={desk.wang.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', holder).group(1)
    answer = client.post("/banks/hp/desk/redeem", data={"resident": desk.wang.id, "qty:rice": typed,
                                                        "key": "k1", "csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    banner = re.search(r'<p class="error" role="alert">(.*?)</p>', page).group(1)
    assert banner == "请改正标出的数量" and "quantity" not in page and "第 1 项" not in page
    beside = re.search(r'name="qty:rice"[^>]*aria-invalid="true"[^>]*>\s*<p class="field-error" '
                       r'id="wrong-\d+" role="alert">(.*?)</p>', page)
    assert beside and beside.group(1) == "须为 1 到 1000 之间的整数"
    assert f'value="{typed}"' in page  # what was typed stays in the box
    assert desk.balance(desk.wang) == 90 and desk.stock() == 10


def test_a_limit_at_the_desk_is_said_once(client, make, desk):
    _desk(client, make, desk)
    desk.item(sku="oil", name="菜籽油", points=10, cost_fen=1500, stock=10, limit=1)
    holder = client.get(f"/banks/hp/desk?resident={desk.wang.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', holder).group(1)
    answer = client.post("/banks/hp/desk/redeem", data={"resident": desk.wang.id, "qty:oil": "2",
                                                        "key": "k2", "csrf_token": token})
    banner = re.search(r'<p class="error" role="alert">(.*?)</p>', answer.get_data(as_text=True)).group(1)
    assert answer.status_code == 409 and banner == "菜籽油 每个兑换期限兑 1 件，本期还可兑 1 件"


def test_a_quantity_typed_as_no_number_at_the_desk_is_refused_and_takes_nothing(client, make, desk, session):
    """"²" or 10^30 typed as a quantity, or a resident past 64 bits: refused by name, nothing taken."""
    _desk(client, make, desk)
    holder = client.get(f"/banks/hp/desk?resident={desk.wang.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', holder).group(1)
    for form in ({"resident": desk.wang.id, "qty:rice": "²"},
                 {"resident": desk.wang.id, "qty:rice": "1000000000000000000000000000000"},
                 {"resident": desk.wang.id, "qty:rice": "1001"},
                 {"resident": "99999999999999999999", "qty:rice": "1"},
                 {"resident": desk.wang.id, "qty:rice\x00": "1"}):
        answer = client.post("/banks/hp/desk/redeem", data={**form, "key": "k1", "csrf_token": token})
        assert answer.status_code == 422, (form, answer.status_code)
    for query in ("resident=99999999999999999999", "resident=%C2%B2", "q=%00", "household=E%00"):
        assert client.get(f"/banks/hp/desk?{query}").status_code == 422, query
    session.rollback()
    assert session.execute(select(func.count()).select_from(Redemption)).scalar() == 0
    assert desk.balance(desk.wang) == 90 and desk.stock() == 10


def test_a_residents_statement_and_page_count_a_redemption_against_the_balance(client, make, desk, session):
    desk.money(100_000)
    desk.item()
    desk.points(desk.wang, 90)
    assert desk.redeem(client, desk.wang, [("rice", 2)]).status_code == 201   # 60 points spent
    sign_in(client, make, desk.bank, "clerk", "xiaoli")
    statement = client.get(f"/banks/hp/residents/{desk.wang.id}/statement").get_data(as_text=True)
    rows = re.findall(r"<tr><td>\d+</td>.*?</tr>", statement, re.S)
    redeemed = [r for r in rows if "兑换" in r]
    assert len(redeemed) == 1 and ">-60<" in redeemed[0], rows
    total = re.search(r"期间合计</th><th class=\"num\">([^<]+)<", statement).group(1)
    assert total == "+30"                                                      # 90 earned − 60 spent
    assert "当前余额：<strong>30</strong>" in statement
    page = client.get(f"/banks/hp/residents/{desk.wang.id}?kind=redemption").get_data(as_text=True)
    assert "-60" in page and "+90" not in page
