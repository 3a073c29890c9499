"""The desk and the fund speak plain Chinese: goods by name, fields by their labels, quarters in words."""
from __future__ import annotations

import re

from .conftest import csrf_token, sign_in


def test_the_desk_lists_goods_by_name_without_their_codes(client, make, desk):
    desk.money(100_000)
    desk.item(sku="rice5", name="大米 5kg")
    desk.points(desk.wang, 90)
    sign_in(client, make, desk.bank, "desk", "taizi")
    holder = client.get(f"/banks/hp/desk?resident={desk.wang.id}").get_data(as_text=True)
    shown = re.sub(r"<[^>]+>", " ", holder)                       # what the screen reads, not the form's names
    assert "大米 5kg" in shown and "rice5" not in shown


def test_a_refused_limit_at_the_desk_names_the_goods_not_their_code(client, make, desk):
    desk.money(100_000)
    desk.item(sku="rice5", name="大米 5kg", limit=1)
    desk.points(desk.wang, 90)
    sign_in(client, make, desk.bank, "desk", "taizi")
    holder = client.get(f"/banks/hp/desk?resident={desk.wang.id}").get_data(as_text=True)
    answer = client.post("/banks/hp/desk/redeem", data={
        "resident": desk.wang.id, "key": "k1", "qty:rice5": "2",
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', holder).group(1)})
    text = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    assert answer.status_code == 409
    assert "大米 5kg 每个兑换期限兑 1 件，本期还可兑 1 件" in text and "rice5" not in text and "remaining" not in text
    assert text.count("本期还可兑") == 1  # said once, not again by the field


def test_the_funds_error_names_the_field_by_its_label(client, make, desk, session):
    sign_in(client, make, desk.bank, "clerk", "jifen")
    answer = client.post("/banks/hp/fund", data={"source": "town", "received_on": "2026-10-15",
                                                 "amount_yuan": "十元", "csrf_token": csrf_token(client, "/banks/hp/fund")})
    page = answer.get_data(as_text=True)
    alert = re.search(r'<p class="error" role="alert">(.*?)</p>', page).group(1)
    beside = re.search(r'金额（元） <input name="amount_yuan"[^>]*></label>\s*<p class="field-error" role="alert">(.*?)</p>', page, re.S)
    assert answer.status_code == 422
    # The problem stands under the field its label names, and no internal field name is shown.
    assert beside and "须为金额" in beside.group(1)
    assert "amount_yuan" not in alert and "amount_yuan" not in re.sub(r"<[^>]+>", " ", page)


def test_quarters_read_as_words_on_the_fund_and_the_desk_summary(client, make, desk):
    sign_in(client, make, desk.bank, "supervisor", "jianshi")
    fund = client.get("/banks/hp/fund").get_data(as_text=True)
    assert "2026年第四季度" in fund and "2026年第三季度" in fund and "第4季度" not in fund
    summary = client.get("/banks/hp/desk/summary?quarter=2026-Q4").get_data(as_text=True)
    assert "2026年第四季度 积分兑换汇总" in summary


def test_the_funds_sources_are_named_in_the_pages_language(client, make, desk):
    desk.money(100_000, source="sponsor", donor="某企业")
    sign_in(client, make, desk.bank, "clerk", "jifen")
    chinese = re.sub(r"<[^>]+>", " ", client.get("/banks/hp/fund?lang=zh").get_data(as_text=True))
    english = re.sub(r"<[^>]+>", " ", client.get("/banks/hp/fund?lang=en").get_data(as_text=True))
    assert "社会赞助" in chinese and "镇投入" in chinese
    assert "sponsors" in english and "township" in english
    assert not {"社会赞助", "镇投入", "村投入", "村民捐献"} & set(re.findall(r"[\u4e00-\u9fff]+", english))
