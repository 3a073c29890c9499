"""Pages that used to lead nowhere: a refused day, a whole village's cards, the card page's month."""
from __future__ import annotations

import re

from .conftest import text


def test_a_future_day_comes_back_in_the_form_with_its_reason_and_no_register(clerk, village, make):
    make.deed(village["bank"], "patrol", [village["people"]["王大"]], quantity=2)
    answer = clerk.get("/banks/hp/register?day=2027-05-01")
    page = text(answer)
    assert answer.status_code == 422
    assert "日期不能晚于今天" in page and 'value="2027-05-01"' in page
    assert "王大" not in page and "2026年10月15日" not in page and "记分员签字" not in page


def test_a_day_that_is_no_date_comes_back_with_its_reason_and_no_register(clerk, village, make):
    make.deed(village["bank"], "patrol", [village["people"]["王大"]], quantity=2)
    answer = clerk.get("/banks/hp/register?day=2026-13-01")
    assert answer.status_code == 422 and "王大" not in text(answer)


def test_a_past_day_shows_that_days_register(clerk, village, make):
    make.deed(village["bank"], "patrol", [village["people"]["王大"]], quantity=2)
    page = text(clerk.get("/banks/hp/register?day=2026-10-14"))
    assert "2026年10月14日" in page and "王大" not in page and "当天没有登记" in page


def test_two_residents_of_the_same_name_are_told_apart_in_the_picker(clerk, village, session, clock):
    from ledger import people

    for home, relation, phone in (("E01", "户主", None), ("W01", "子", "13900001234")):
        people.create_resident(session, village["bank"], name="熊建国", household=home,
                               relation=relation, phone=phone, clock=clock)
    page = text(clerk.post("/banks/hp/deeds/new", data={"q": "xjg", "idem": "k"}))
    found = re.findall(r'name="r" value="\d+"> 熊建国 <span class="muted who">([^<]*)</span>', page)
    assert found == ["E01 户主", "W01 子 尾号1234"]


def test_two_residents_of_the_same_name_are_told_apart_at_the_desk(sign_in, village, session, clock):
    from ledger import people

    for home, relation, phone in (("E01", "户主", "13900005678"), ("W01", "女", None)):
        people.create_resident(session, village["bank"], name="熊建国", household=home,
                               relation=relation, phone=phone, clock=clock)
    page = text(sign_in(village["users"]["desk"]).get("/banks/hp/desk?q=xjg"))
    found = re.findall(r'熊建国 <span class="muted who">([^<]*)</span>', page)
    assert found == ["E01 户主 尾号5678", "W01 女"]
