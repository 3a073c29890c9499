"""The card's objection form: filed once, answered by a page of its own, a few a day, and told
exactly what is wrong with the text."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from ground.clock import FixedClock
from reports.models import Objection

from .test_cards import _issue, _path


def _filed(session) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(Objection)).scalar()


def _object(client, card, **form):
    return client.post(f"{_path(card)}/object", data=form)


@pytest.fixture
def holder(client, desk):
    """王大's card, with one entry of October to object to."""
    entry = desk.points(desk.wang, 30).transfers[0].id
    return _issue(client, desk, desk.wang), entry


def test_a_filed_objection_redirects_to_a_page_that_shows_it_so_a_reload_files_nothing(
        client, holder, session):
    card, entry = holder
    answer = _object(client, card, entry=entry, text="那天我不在村里")
    assert answer.status_code == 303
    shown = answer.headers["Location"]
    assert re.search(r"/object\?filed=\d+$", shown)
    for _reload in range(3):
        page = client.get(shown)
        assert page.status_code == 200
        assert "异议已登记" in page.get_data(as_text=True) and "那天我不在村里" in page.get_data(as_text=True)
    assert _filed(session) == 1


def test_the_filed_page_shows_only_the_cards_own_objections(client, desk, holder, session):
    card, entry = holder
    shown = _object(client, card, entry=entry, text="那天我不在村里").headers["Location"]
    neighbour = _issue(client, desk, desk.li)
    page = client.get(shown.replace(card["token"], neighbour["token"])).get_data(as_text=True)
    assert "那天我不在村里" not in page and "异议已登记" not in page


def test_a_personal_card_shows_neither_the_list_nor_the_filed_page_of_a_household_members_objection(
        client, desk, holder, session):
    card, entry = holder
    shown = _object(client, card, entry=entry, text="那天我不在村里").headers["Location"]
    brother = _issue(client, desk, desk.wang2)  # 王二, of 王大's household, with a card of his own
    assert "那天我不在村里" in client.get(_path(card)).get_data(as_text=True)
    assert "那天我不在村里" not in client.get(_path(brother)).get_data(as_text=True)
    page = client.get(shown.replace(card["token"], brother["token"])).get_data(as_text=True)
    assert "那天我不在村里" not in page and "异议已登记" not in page
    # Nor may his card object in his brother's name to his brother's entry.
    assert _object(client, brother, entry=entry, text="替他说").status_code != 303
    assert _filed(session) == 1


def test_the_same_objection_sent_again_is_not_filed_again_the_resident_sees_the_first(
        client, desk, holder, session):
    card, entry = holder
    first = _object(client, card, entry=entry, text="那天我不在村里")
    again = _object(client, card, entry=entry, text="  那天我不在村里 \r\n")  # the same, once trimmed
    assert again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"] + "&again=1"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "已经登记过" in page and "那天我不在村里" in page
    assert _filed(session) == 1
    # A missing deed of a month, sent twice: filed once too.
    missing = [_object(client, card, month="2026-10", text="少记了一次巡逻") for _twice in range(2)]
    assert missing[1].headers["Location"] == missing[0].headers["Location"] + "&again=1"
    assert _filed(session) == 2
    # Other words, or the same entry once the first objection is answered: a new objection.
    assert "again" not in _object(client, card, entry=entry, text="只有两小时").headers["Location"]
    assert _filed(session) == 3
    oid = int(first.headers["Location"].rsplit("=", 1)[1])
    assert client.post(f"/api/v1/banks/hp/objections/{oid}/reject", headers=desk.reviewer,
                       json={"reason": "有巡逻记录"}).status_code == 200
    assert "again" not in _object(client, card, entry=entry, text="那天我不在村里").headers["Location"]
    assert _filed(session) == 4


def test_a_card_files_five_objections_a_day_the_sixth_answers_429_and_files_nothing(
        app, client, desk, holder, session):
    card, entry = holder
    for n in range(5):
        assert _object(client, card, month="2026-10", text=f"第 {n + 1} 条").status_code == 303
    refused = _object(client, card, month="2026-10", text="第 6 条")
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    assert "每张卡每天最多提出 5 条异议" in text and "请明天再来" in text
    assert "第 6 条" in text                                  # what was typed is not lost
    assert _filed(session) == 5
    # One already filed, sent again, is shown, not refused.
    assert _object(client, card, month="2026-10", text="第 1 条").status_code == 303
    # The office files for residents without a card's limit.
    assert client.post("/api/v1/banks/hp/objections", headers=desk.clerk,
                       json={"resident": desk.wang.id, "month": "2026-10", "text": "办公室代填"}
                       ).status_code == 201
    # The next day in the village, the card files again.
    app.extensions["zongzhi.clock"] = FixedClock(at=datetime(2026, 10, 15, 16, 30, tzinfo=timezone.utc))
    assert _object(client, card, month="2026-10", text="第 6 条").status_code == 303
    assert _filed(session) == 7


@pytest.mark.parametrize("typed, status, said", [
    ("", 422, "请填写异议内容"),
    ("  \r\n ", 422, "请填写异议内容"),
    ("错" * 501, 422, "最多 500 个字，您写了 501 个字"),
    ("错" * 10_000, 422, "最多 500 个字，您写了 10000 个字"),
])
def test_an_empty_or_too_long_objection_is_told_why_and_files_nothing(client, holder, session,
                                                                     typed, status, said):
    card, entry = holder
    answer = _object(client, card, entry=entry, text=typed)
    page = answer.get_data(as_text=True)
    assert answer.status_code == status and said in page
    assert "不能为空，最长" not in page
    assert _filed(session) == 0


def test_a_refused_long_objection_comes_back_cut_to_the_limit_keeping_the_page_small(client, holder):
    card, entry = holder
    page = _object(client, card, entry=entry, text="错" * 10_000).get_data(as_text=True)
    [typed] = re.findall(r"<textarea[^>]*>([^<]*)</textarea>", page)
    assert typed == "错" * 500
    assert page.count("错") <= 500 + 10 and len(page.encode()) < 8_000


def test_the_objection_messages_speak_english_after_the_switch(client, holder):
    card, entry = holder
    client.get(f"{_path(card)}?lang=en")
    empty = _object(client, card, entry=entry, text=" ").get_data(as_text=True)
    assert "Write what the objection is about." in empty
    long = _object(client, card, entry=entry, text="x" * 600).get_data(as_text=True)
    assert "At most 500 characters: you wrote 600." in long
