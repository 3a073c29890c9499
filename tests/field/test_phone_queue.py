"""The phone app's queue in a browser, as the audit on a 360 px phone found it wanting: whose
deeds a shared phone sends, what becomes of a deed or a photo the server refuses, the date a deed
takes, how a card reads, how a refusal reads, and the app's own words after a switch of language."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from field.models import Evidence, Photo
from ledger.models import Transfer

from ..browsing import PASSWORD, assert_accessible, sideways_scroll
from .conftest import jpeg

TODAY = "2026-10-15"  # the server's clock in the tests (tests/conftest.py NOW)


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


@pytest.fixture
def phone(browser, village, make):
    """A 360 x 740 phone (Chinese) and two grid workers who share it."""
    make.user(village["bank"], "clerk", name="grid")
    make.user(village["bank"], "clerk", name="grid2")
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    yield context
    context.close()


def _open(context, live_server):
    page = context.new_page()
    page.goto(f"{live_server}/m/")
    return page


def _sign_in(page, name):
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#signin-form button")
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#rules li').length > 0")


def _deed(page, cards, *, rule=("hjzz", "cleanup"), quantity=None, day=None, memo=None, photos=None):
    for card in cards:
        page.fill("#number", card)
        page.press("#number", "Enter")
    page.fill("#rule-q", rule[0])
    page.click(f"#rules li[data-code={rule[1]}]")
    if quantity is not None:
        page.fill("#quantity", str(quantity))
    if day is not None:
        page.fill("#day", day)
    if memo is not None:
        page.fill("#memo", memo)
    if photos is not None:
        page.set_input_files("#photo", files=photos)
    page.click("#submit")


def _waiting(page, n, timeout=20000):
    page.wait_for_function(f"() => document.querySelector('#waiting').textContent === '待发送 {n} 条'",
                           timeout=timeout)


# --- 1. a shared phone: each worker's deeds go under their own name -------------------------------

def test_deeds_left_at_sign_out_wait_for_their_worker_and_never_post_under_the_next_one(
        phone, village, session, live_server, artifacts):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    phone.set_offline(True)
    _deed(page, [village["cards"][1].card.number], memo="grid 记的")
    _waiting(page, 1)

    # Signing out with a deed waiting asks first, saying how many; saying no keeps the worker in.
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#signout")
    page.wait_for_timeout(300)
    assert asked and "还有 1 条未发送" in asked[0] and "grid" in asked[0]
    assert page.is_visible("#work")
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")

    # The sign-in screen says whose deeds wait on this phone.
    page.wait_for_function("() => !document.querySelector('#others').hidden")
    assert "grid 的 1 条" in page.inner_text("#others")
    page.screenshot(path=str(artifacts / "phone-signin-others-waiting.png"), full_page=True)

    # Another worker signs in with a signal: grid's deed is not sent under grid2's name.
    phone.set_offline(False)
    _sign_in(page, "grid2")
    _waiting(page, 0)
    page.evaluate("() => send()")
    page.wait_for_timeout(800)
    assert _count(session, Transfer) == 0
    assert "grid 的 1 条" in page.inner_text("#others")
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("#signout")  # nothing of grid2's waits: no question
    page.wait_for_selector("#signin:not([hidden])")
    assert len(asked) == 2

    # grid signs in again: the deed goes, under grid's name.
    _sign_in(page, "grid")
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已入账')", timeout=20000)
    session.rollback()
    assert session.execute(select(Transfer.recorded_by, Transfer.memo)).all() == [("grid", "grid 记的")]
    page.wait_for_function("() => document.querySelector('#others').hidden")


# --- 2. a deed the server refuses is kept, with its reason, to fix and resend or to drop ----------

def test_a_refused_deed_stays_on_the_phone_with_its_reason_and_is_fixed_and_resent(
        phone, village, session, live_server, artifacts):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    phone.set_offline(True)
    _deed(page, ["2345-6789"], memo="卡号输错了")           # no such card
    _deed(page, [village["cards"][2].card.number], rule=("yjxl", "patrol"), quantity=5)  # 10 points, 8 a day
    _waiting(page, 2)
    assert "没有信号" in page.inner_text("#notice")

    phone.set_offline(False)
    page.wait_for_function("() => document.querySelectorAll('#refused li').length === 2", timeout=20000)
    _waiting(page, 0)
    assert page.inner_text("#net") == "在线"
    assert "没有信号" not in page.inner_text("#notice")
    assert "2 条未被接受" in page.inner_text("#notice")
    assert page.inner_text("#refused-part h2") == "未被接受"
    assert page.inner_text("#sent") == ""  # nothing sent went under 已发送
    refused = page.inner_text("#refused")
    assert "卡无效" in refused and "卡号 2345-6789" in refused
    assert "王三「夜间巡逻」当天上限 8 分，还可得 8 分，本次 10 分超出上限" in refused
    assert _count(session, Transfer) == 0
    assert sideways_scroll(page) == 0
    page.locator("#refused-part").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "phone-refused.png"), full_page=True)
    assert_accessible(page, "the phone app with refused deeds")

    # A reload forgets nothing.
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#refused li').length === 2")

    # Fixed: the wrong card out, the right one in, sent again and posted.
    first = page.locator("#refused li", has_text="2345-6789")
    first.locator("button", has_text="修改后重发").click()
    assert page.input_value("#memo") == "卡号输错了" and page.inner_text("#rule-chosen") == "已选：环境整治"
    assert page.inner_text("#people li span") == "卡号 2345-6789"
    page.click("#people li button")
    page.fill("#number", village["cards"][1].card.number)
    page.press("#number", "Enter")
    page.click("#submit")
    page.wait_for_function("() => document.querySelectorAll('#refused li').length === 1", timeout=20000)
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已入账：环境整治 1次 · 1人')",
                           timeout=20000)
    session.rollback()
    assert session.execute(select(Transfer.memo)).scalars().all() == ["卡号输错了"]

    # Dropped: asked first, then gone for good.
    page.once("dialog", lambda d: d.accept())
    page.locator("#refused li").first.locator("button", has_text="放弃").click()
    page.wait_for_selector("#refused-part", state="hidden")
    page.reload()
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_timeout(300)
    assert page.locator("#refused li").count() == 0 and page.is_hidden("#refused-part")
    assert "已入账：环境整治 1次 · 1人" in page.inner_text("#sent")  # the sent log is kept too


# --- 3. photos: one the phone can tell is no photo never goes; one the server refuses is said -------

def test_a_photo_that_is_not_one_is_refused_at_once_and_one_the_server_refuses_is_named(
        phone, village, session, live_server):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    number = village["cards"][1].card.number
    _deed(page, [number], photos=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}])
    page.wait_for_function("() => document.querySelector('#notice').className === 'err'")
    assert page.inner_text("#notice") == "notes.jpg 不是 JPEG 或 PNG 照片，请换一张"
    assert page.inner_text("#waiting") == "待发送 0 条" and _count(session, Photo) == 0

    # A JPEG's first bytes and nothing readable after: only the server can tell.
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    page.set_input_files("#photo", files=[
        {"name": "lane.jpg", "mimeType": "image/jpeg", "buffer": jpeg((400, 300))},
        {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": broken}])
    page.click("#submit")
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已入账')", timeout=20000)
    line = page.inner_text("#sent li")
    assert line.startswith("已入账：环境整治 1次 · 1人")
    assert "1 张照片未能上传：broken.jpg（" in line
    assert page.get_attribute("#sent li", "class") == "warn"
    assert _count(session, Evidence) == 1 and _count(session, Photo) == 1


# --- 4. the date: today after each deed, never in the future, never further back than allowed ------

def test_the_date_is_today_for_each_deed_and_a_future_one_is_refused_at_once(
        phone, village, session, live_server, artifacts):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    page.wait_for_function(f"() => document.querySelector('#day').max === '{TODAY}'")
    assert page.input_value("#day") == TODAY
    assert page.get_attribute("#day", "min") == "2026-08-31"  # 45 days back, the rule file's default

    page.fill("#day", "2026-10-16")
    page.wait_for_function("() => document.querySelector('#day-error').textContent !== ''")
    assert page.inner_text("#day-error") == f"日期不能晚于今天（{TODAY}）"
    assert page.get_attribute("#day", "aria-invalid") == "true"
    _deed(page, [village["cards"][1].card.number])
    assert page.inner_text("#notice") == f"日期不能晚于今天（{TODAY}）"
    assert page.inner_text("#waiting") == "待发送 0 条"
    page.screenshot(path=str(artifacts / "phone-future-date.png"))

    page.fill("#day", "2026-08-30")
    page.click("#submit")
    assert "2026-08-31" in page.inner_text("#notice") and page.inner_text("#waiting") == "待发送 0 条"

    page.fill("#day", "2026-10-10")
    assert page.inner_text("#day-error") == ""
    page.click("#submit")
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已入账')", timeout=20000)
    assert page.input_value("#day") == TODAY  # the next deed is today's again
    session.rollback()
    assert [d.isoformat() for d in session.execute(select(Transfer.occurred_on)).scalars()] == ["2026-10-10"]


# --- 5. a card however typed; the sent line says quantity, unit and people ------------------------

def test_a_card_typed_in_lower_case_is_the_same_card_and_the_sent_line_says_how_many_of_what(
        phone, village, session, live_server):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    number = village["cards"][1].card.number  # as printed: "ABCD-EFGH"
    page.fill("#number", number.replace("-", "").lower())
    page.press("#number", "Enter")
    assert page.inner_text("#people li span") == f"卡号 {number}"
    page.fill("#number", number)
    page.press("#number", "Enter")
    assert page.inner_text("#notice") == "这张卡已经扫过了"
    assert page.locator("#people li").count() == 1
    page.fill("#number", village["cards"][2].card.number.lower())
    page.press("#number", "Enter")
    page.fill("#rule-q", "yjxl")
    page.click("#rules li[data-code=patrol]")
    assert page.inner_text("#rules li[data-code=patrol]") == "夜间巡逻（每小时 +2 分）"
    assert page.inner_text("#unit") == "小时"
    page.fill("#quantity", "2")
    page.click("#submit")
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已入账')", timeout=20000)
    assert page.inner_text("#sent li") == "已入账：夜间巡逻 2小时 · 2人"


# --- 6. a refusal says each thing once, and names a card rather than a database id -----------------

def test_a_refusal_reads_once_and_names_the_card_not_an_id(phone, village, live_server):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    compose = "([data, cards]) => problemText(data, cards)"
    future = {"error": "validation_error", "message": "日期不能晚于今天",
              "fields": {"occurred_on": ["日期不能晚于今天（2026-12-01）"]}}
    assert page.evaluate(compose, [future, ["R3F6-69UQ"]]) == "日期不能晚于今天（2026-12-01）"
    cap = {"error": "cap_exceeded", "message": "王三「夜间巡逻」当天上限 8 分，还可得 8 分，本次 10 分超出上限",
           "fields": {"residents": ["1：当天还可得 8 分"]}}
    assert page.evaluate(compose, [cap, ["r3f669uq"]]) == cap["message"]
    other = {"error": "validation_error", "message": "请求内容有误", "fields": {"residents": ["17：已停用"]}}
    assert page.evaluate(compose, [other, ["r3f669uq"]]) == "请求内容有误：卡号 R3F6-69UQ：已停用"
    place = {"error": "validation_error", "message": "请求内容有误",
             "fields": {"cards": ["第 2 张卡：须为文本"], "quantity": ["须为正整数"]}}
    assert page.evaluate(compose, [place, ["AAAA-BBBB", "cccc-dddd"]]) == \
        "请求内容有误：卡号 CCCC-DDDD：须为文本；须为正整数"
    card = {"error": "validation_error", "message": "卡无效", "fields": {"card": ["不是本村的有效卡"]}}
    assert page.evaluate(compose, [card, ["AAAA-BBBB"]]) == "卡无效：不是本村的有效卡"
    # The server's own answer, as the phone reads it: not a bare id, not said twice.
    phone.set_offline(True)
    _deed(page, [village["cards"][2].card.number], rule=("yjxl", "patrol"), quantity=5)
    phone.set_offline(False)
    page.wait_for_selector("#refused li .why", timeout=20000)
    why = page.inner_text("#refused li .why")
    assert why == "王三「夜间巡逻」当天上限 8 分，还可得 8 分，本次 10 分超出上限"
    assert str(village["people"][2].id) + "：" not in why


# --- 7. the app's own words follow a switch of language, earlier ones too --------------------------

def test_after_a_switch_to_english_the_notice_and_the_sent_log_are_english(
        phone, village, live_server, artifacts):
    page = _open(phone, live_server)
    _sign_in(page, "grid")
    _deed(page, [village["cards"][1].card.number])
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已入账')", timeout=20000)
    page.wait_for_function("() => document.querySelector('#notice').textContent === '已全部发送'")
    page.click("#langs button[data-lang=en]")
    page.wait_for_function("() => document.querySelector('#scan').textContent === 'Scan card'")
    # The log is read back from the phone's store: redrawn a moment after the words change.
    page.wait_for_function("() => document.querySelector('#sent li').textContent.startsWith('Posted')")
    assert page.inner_text("#sent li") == "Posted: 环境整治, 1 次 · 1 person"
    assert page.inner_text("#notice") == "All sent"
    assert page.inner_text("#rules li[data-code=cleanup]") == "环境整治 (+3 points per 次)"
    page.screenshot(path=str(artifacts / "phone-english-sent.png"), full_page=True)
    page.click("#langs button[data-lang=zh]")
    page.wait_for_function("() => document.querySelector('#scan').textContent === '扫卡'")
    page.wait_for_function("() => document.querySelector('#sent li').textContent.startsWith('已入账')")
    assert page.inner_text("#sent li") == "已入账：环境整治 1次 · 1人"
