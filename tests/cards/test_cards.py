"""Cards: issued with a secret only its holder has, revoked at once, opening the holder's page."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from cards.models import Card
from cards.services import token_in
from ground.clock import FixedClock
from reports.models import Objection

from ..redemption.conftest import csrf_token


def _issue(client, desk, resident):
    answer = client.post(f"/api/v1/banks/hp/residents/{resident.id}/card", headers=desk.clerk)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _path(card) -> str:
    return "/c/" + card["token"]


def test_a_card_token_is_a_long_random_secret_of_which_only_the_hash_is_kept(client, desk, session):
    card = _issue(client, desk, desk.wang)
    assert len(card["token"]) >= 22 and len(set(card["token"])) > 10      # ≥ 128 bits, url-safe
    assert card["url"] == "http://localhost/c/" + card["token"]
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", card["number"])
    session.rollback()
    [stored] = session.execute(select(Card)).scalars().all()
    assert stored.token_hash == hashlib.sha256(card["token"].encode()).hexdigest()
    assert card["token"] not in repr(stored.model_dump())
    assert _issue(client, desk, desk.li)["token"] != card["token"]


def test_reissuing_a_card_kills_the_old_one_at_once(client, desk):
    old, new = _issue(client, desk, desk.wang), _issue(client, desk, desk.wang)
    assert client.get(_path(old)).status_code == 404
    assert client.get(_path(new)).status_code == 200


def test_a_revoked_card_opens_nothing(client, desk):
    card = _issue(client, desk, desk.wang)
    answer = client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card/revoke", headers=desk.clerk)
    assert answer.get_json() == {"revoked": 1}
    page = client.get(_path(card))
    assert page.status_code == 404 and "找不到这张积分卡" in page.get_data(as_text=True)
    assert desk.wang.name not in page.get_data(as_text=True)


def test_only_clerks_issue_cards_and_only_for_their_own_bank(client, desk, make):
    assert client.post(f"/api/v1/banks/hp/residents/{desk.wang.id}/card",
                       headers=desk.desk).status_code == 403
    other = make.bank(code="xz")
    stranger = make.resident(other, "外村人")
    assert client.post(f"/api/v1/banks/hp/residents/{stranger.id}/card",
                       headers=desk.clerk).status_code == 404


def test_household_cards_exist_only_when_points_are_kept_per_household(client, desk):
    refused = client.post("/api/v1/banks/hp/households/E01/card", headers=desk.clerk)
    assert refused.status_code == 422


def test_a_household_card_shows_the_households_points(client, household_desk):
    d = household_desk
    d.points(d.wang, 30)
    d.points(d.wang2, 15)
    answer = client.post("/api/v1/banks/hp/households/E01/card", headers=d.clerk)
    assert answer.status_code == 201
    text = client.get(_path(answer.get_json())).get_data(as_text=True)
    assert "王家" in text and "本户积分" in text and ">45<" in text


def test_the_page_shows_the_holders_points_entries_rank_and_the_next_window(client, desk, make):
    desk.points(desk.wang, 30)
    desk.points(desk.li, 60)
    make.deed(desk.bank, "litter", [desk.wang])
    card = _issue(client, desk, desk.wang)
    page = client.get(_path(card))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "王大" in text and "E01" in text and card["number"] in text
    assert ">25<" in text                                  # 30 - 5
    assert "环境整治" in text and "乱扔垃圾" in text and "+30" in text and "-5" in text
    assert "第 2 名" in text and "共 3 人" in text         # ranked as the notice ranks: everyone
    assert "积分超市开放中" in text and "2026年10月20日" in text
    assert "李四" not in text and "王二" not in text      # nobody else, but the rank
    assert "<script" not in text
    assert page.headers["Cache-Control"] == "private, no-store"


def test_an_unknown_token_gets_a_friendly_404_and_guessing_beyond_the_limit_answers_429(app, client):
    app.config["CARD_GUESS_LIMIT"] = 3
    for _ in range(3):
        page = client.get("/c/" + "x" * 32)
        assert page.status_code == 404 and "找不到这张积分卡" in page.get_data(as_text=True)
    limited = client.get("/c/" + "y" * 32)
    assert limited.status_code == 429 and "请稍后再试" in limited.get_data(as_text=True)
    assert 1 <= int(limited.headers["Retry-After"]) <= 600
    other = client.get("/c/" + "z" * 32, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 404


def test_an_address_no_card_could_have_gets_the_cards_own_404_in_the_readers_language(client):
    for address in ("/c/" + "x" * 2000, "/c/abc/def/ghi", "/c/" + "长" * 300):
        page = client.get(address)
        assert page.status_code == 404 and "找不到这张积分卡" in page.get_data(as_text=True), address
    english = client.get("/c/" + "x" * 2000 + "?lang=en")
    assert english.status_code == 404 and "找不到这张积分卡" not in english.get_data(as_text=True)


def test_a_valid_card_opens_from_an_address_that_guessed_many_times_as_behind_one_carrier_nat(client, desk):
    """One guesser among a village that shares one address never locks the village out."""
    card, neighbour = _issue(client, desk, desk.wang), _issue(client, desk, desk.li)
    village = {"REMOTE_ADDR": "100.64.0.1"}
    answers = [client.get("/c/" + "x" * 31 + f"{n:x}", environ_base=village).status_code for n in range(25)]
    assert answers[:20] == [404] * 20 and set(answers[20:]) == {429}
    assert client.get(_path(card), environ_base=village).status_code == 200
    assert client.get(_path(neighbour), environ_base=village).status_code == 200
    object_page = client.get(_path(card) + "/object", environ_base=village)
    assert object_page.status_code == 200
    assert client.get("/c/" + "y" * 32, environ_base=village).status_code == 429  # guesses still refused


def test_opening_valid_cards_never_counts_toward_the_limit(app, client, desk):
    app.config["CARD_GUESS_LIMIT"] = 2
    card = _issue(client, desk, desk.wang)
    assert {client.get(_path(card)).status_code for _ in range(10)} == {200}
    assert client.get("/c/" + "x" * 32).status_code == 404


def test_failed_guesses_are_forgotten_after_the_window(app, client):
    import time

    app.config.update(CARD_GUESS_LIMIT=2, CARD_GUESS_WINDOW=1)
    client.get("/c/" + "x" * 32), client.get("/c/" + "x" * 32)
    assert client.get("/c/" + "x" * 32).status_code == 429
    time.sleep(1.1)
    assert client.get("/c/" + "x" * 32).status_code == 404


@pytest.mark.parametrize("typed, token", [
    ("http://192.168.1.5:8000/c/AbCdEfGhIjKlMnOpQrStUvWxYz012345", "AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ("https://zz.example.cn/c/AbCdEfGhIjKlMnOpQrStUv_-/\n", "AbCdEfGhIjKlMnOpQrStUv_-"),
    ("AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("王大", None),
    ("zhangsan", None),
])
def test_the_desk_reads_a_token_from_what_the_scanner_typed(typed, token):
    assert token_in(typed) == token


def test_a_resident_objects_to_an_entry_from_the_card_page(client, desk, session):
    outcome = desk.points(desk.wang, 30)
    card = _issue(client, desk, desk.wang)
    entry = outcome.transfers[0].id
    page = client.get(_path(card)).get_data(as_text=True)
    assert f"/object?entry={entry}" in page
    form = f"{_path(card)}/object?entry={entry}"
    answer = client.post(form, data={"entry": entry, "text": "那天我不在村里",
                                     "csrf_token": csrf_token(client, form)})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert "异议已登记" in client.get(answer.headers["Location"]).get_data(as_text=True)
    session.rollback()
    [objection] = session.execute(select(Objection)).scalars().all()
    assert (objection.resident_id, objection.transfer_id, objection.month) == (desk.wang.id, entry, "2026-10")
    assert objection.filed_by == f"card:{card['number']}"


def test_a_cards_forms_need_no_csrf_token_its_address_is_their_secret(app, client, desk, session):
    desk.points(desk.wang, 30)
    card = _issue(client, desk, desk.wang)
    stranger = app.test_client()  # never fetched the page: no session, no token
    answer = stranger.post(f"{_path(card)}/object", data={"month": "2026-10", "text": "少记了一次巡逻"})
    assert answer.status_code == 303
    assert "异议已登记" in stranger.get(answer.headers["Location"]).get_data(as_text=True)
    session.rollback()
    assert session.execute(select(Objection)).scalar_one().filed_by == f"card:{card['number']}"
    # A staff screen's form still needs its token.
    assert stranger.post("/banks/hp/cards", data={"all": "1"}).status_code == 400


def test_an_empty_objection_is_refused_and_files_nothing(client, desk, session):
    desk.points(desk.wang, 30)
    card = _issue(client, desk, desk.wang)
    form = f"{_path(card)}/object"
    answer = client.post(form, data={"month": "2026-10", "text": " ",
                                     "csrf_token": csrf_token(client, form)})
    assert answer.status_code == 422
    session.rollback()
    assert session.execute(select(Objection)).first() is None


def test_last_months_entries_show_under_their_month(app, client, desk, make, clock):
    make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=clock.today().replace(month=9, day=3))
    card = _issue(client, desk, desk.wang)
    text = client.get(_path(card)).get_data(as_text=True)
    assert "2026年9月" in text and "09-03" in text
    app.extensions["zongzhi.clock"] = FixedClock(at=datetime(2027, 1, 3, 2, 0, tzinfo=timezone.utc))
    later = client.get(_path(card)).get_data(as_text=True)
    # A new month: nobody has points yet. The notice would rank everyone first together; the
    # card says there is nothing yet rather than a first place nobody earned (a holder without
    # points in a month where others have some is shown the place the notice gives).
    assert "09-03" not in later and "本月暂无记分" in later and "第 1 名" not in later


def test_the_page_links_the_latest_public_notice_which_opens_without_login(app, client, desk, session,
                                                                          make, clock):
    from reports.services import publish_notice

    make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=clock.today().replace(day=3))
    card = _issue(client, desk, desk.wang)
    assert "查看" not in client.get(_path(card)).get_data(as_text=True)
    publish_notice(session, desk.bank, "2026-09",
                   by="test", clock=FixedClock(at=datetime(2026, 10, 1, 0, 0, tzinfo=timezone.utc)))
    text = client.get(_path(card)).get_data(as_text=True)
    [link] = re.findall(r'href="(/n/hp/2026-09/[0-9a-f]{16})"', text)
    notice = client.get(link)
    assert notice.status_code == 200
    assert "2026年9月" in notice.get_data(as_text=True)


def _redis_answers() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="no Redis at 127.0.0.1:6379")
def test_two_server_processes_with_redis_count_one_addresses_failures_together(database_url, clock):
    """Counters in Redis are shared: guesses spread over two servers are refused as one."""
    import secrets

    from zongzhi.app import create_app

    config = {"DATABASE_URL": database_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
              "REDIS_URL": "redis://127.0.0.1:6379/0", "CARD_GUESS_LIMIT": 4}
    first, second = create_app(config), create_app(config)
    # An address of this test's own, so parallel runs sharing the Redis never meet.
    address = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    try:
        for app in (first, second, first, second):
            assert app.test_client().get("/c/" + "x" * 32, environ_base=address).status_code == 404
        assert second.test_client().get("/c/" + "y" * 32, environ_base=address).status_code == 429
        assert first.test_client().get("/c/" + "y" * 32, environ_base=address).status_code == 429
    finally:
        for app in (first, second):
            app.extensions["zongzhi.engine"].dispose()


def test_each_page_a_card_opens_is_titled_by_what_it_is(client, desk):
    card = _issue(client, desk, desk.wang)
    titles = {path: re.search(r"<title>([^<]*)</title>", client.get(_path(card) + path).get_data(as_text=True)).group(1)
              for path in ("", "/object", "/reports", "/activities")}
    assert titles[""].startswith("王大") and "提出异议" in titles["/object"]
    assert "积分申报" in titles["/reports"] and "活动报名" in titles["/activities"]
    missing = client.get("/c/" + "x" * 32).get_data(as_text=True)
    assert "<title>找不到这张积分卡</title>" in missing
