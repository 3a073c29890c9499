"""What a card's page says line by line: months as the reader reads them, reversed entries marked
and not objected to, and the month's rank as the notice gives it."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

from ground.clock import FixedClock
from reports.services import content_of, publish_notice

from .test_cards import _issue, _path

#: After October, in the village: when October's notice goes up.
NOVEMBER = FixedClock(at=datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc))


def _publish(session, bank, month, clock):
    snapshot = publish_notice(session, bank, month, by="test", clock=clock)
    session.commit()
    return snapshot


def test_months_read_2026年10月_in_chinese_and_oct_2026_in_english_everywhere_on_the_page(
        client, desk, make, session):
    make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=date(2026, 9, 3))
    _publish(session, desk.bank, "2026-09", FixedClock(at=datetime(2026, 10, 12, 0, 0, tzinfo=timezone.utc)))
    card = _issue(client, desk, desk.wang)
    chinese = client.get(_path(card)).get_data(as_text=True)
    headings = re.findall(r"<h2>([^<]+?) <span", chinese)
    assert headings == ["2026年10月", "2026年9月", "2026年8月"]
    assert "最新公示：2026年9月" in chinese and "2026-09 " not in chinese and "：2026-09" not in chinese
    english = client.get(_path(card) + "?lang=en").get_data(as_text=True)
    assert re.findall(r"<h2>([^<]+?) <span", english) == ["Oct 2026", "Sep 2026", "Aug 2026"]
    assert "Latest notice: Sep 2026" in english
    assert not re.search(r"\b\d{1,2}/2026\b", english) and "notice: 2026-09" not in english
    form = client.get(_path(card) + "/object").get_data(as_text=True)
    assert ">Oct 2026</option>" in form


def test_a_reversed_entry_is_marked_and_neither_it_nor_its_reversal_takes_an_objection(
        client, desk, make):
    kept = make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=date(2026, 10, 2)).transfers[0].id
    undone = make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=date(2026, 10, 9)).transfers[0].id
    reversal = client.post(f"/api/v1/banks/hp/transfers/{undone}/reverse", headers=desk.clerk,
                           json={"reason": "登记有误"}).get_json()["transfer"]["id"]
    card = _issue(client, desk, desk.wang)
    page = client.get(_path(card)).get_data(as_text=True)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page)
    [undone_row] = [r for r in rows if "已冲正" in r]
    assert "10-09" in undone_row and "环境整治" in undone_row and "object?entry" not in undone_row
    [reversal_row] = [r for r in rows if "冲正：环境整治" in r]
    assert "object?entry" not in reversal_row and "已冲正" not in reversal_row
    assert f"object?entry={kept}" in page
    assert f"object?entry={undone}" not in page and f"object?entry={reversal}" not in page
    # Nor does the form take them, asked directly.
    form = client.get(f"{_path(card)}/object?entry={undone}").get_data(as_text=True)
    assert f'name="entry" value="{undone}"' not in form
    english = client.get(_path(card) + "?lang=en").get_data(as_text=True)
    assert ">reversed</span>" in english


def _rank(page: str) -> tuple[int, int]:
    found = re.search(r"本月排名：第 (\d+) 名（共 (\d+) [人户]）", page)
    return int(found.group(1)), int(found.group(2))


def _october(desk, make):
    """October's deeds: a penalty, a reversal, a resident with none (who still ranks)."""
    make.deed(desk.bank, "cleanup", [desk.wang], quantity=10, occurred_on=date(2026, 10, 3))
    make.deed(desk.bank, "litter", [desk.wang], occurred_on=date(2026, 10, 4))
    undone = make.deed(desk.bank, "cleanup", [desk.li], quantity=20, occurred_on=date(2026, 10, 5))
    make.deed(desk.bank, "cleanup", [desk.li], quantity=2, occurred_on=date(2026, 10, 6))
    return undone.transfers[0].id


def test_the_cards_rank_is_the_rank_octobers_notice_gives_every_resident(client, desk, make, session):
    undone = _october(desk, make)
    client.post(f"/api/v1/banks/hp/transfers/{undone}/reverse", headers=desk.clerk, json={"reason": "误登"})
    people = (desk.wang, desk.wang2, desk.li)
    cards = {p.id: _issue(client, desk, p) for p in people}
    live = {pid: _rank(client.get(_path(card)).get_data(as_text=True)) for pid, card in cards.items()}
    # October over, its notice frozen: each resident's rank and the count are the card's.
    notice = content_of(_publish(session, desk.bank, "2026-10", NOVEMBER))
    frozen = {row["id"]: (row["rank"], len(notice["residents"])) for row in notice["residents"]}
    assert live == frozen
    assert live[desk.wang2.id] == (3, 3)        # no points this month, ranked all the same


def test_a_household_cards_rank_is_the_households_rank_on_the_notice(client, household_desk, make, session):
    d = household_desk
    _october(d, make)
    card = client.post("/api/v1/banks/hp/households/E01/card", headers=d.clerk).get_json()
    live = _rank(client.get(_path(card)).get_data(as_text=True))
    notice = content_of(_publish(session, d.bank, "2026-10", NOVEMBER))
    [home] = [row for row in notice["households"] if row["code"] == "E01"]
    assert live == (home["rank"], len(notice["households"]))


def test_once_the_months_notice_is_frozen_the_card_shows_the_notices_rank(client, desk, make, session):
    _october(desk, make)
    card = _issue(client, desk, desk.wang2)
    _publish(session, desk.bank, "2026-10", NOVEMBER)
    # A deed dated in October after the notice froze: the card keeps the notice's rank.
    make.deed(desk.bank, "cleanup", [desk.wang2], quantity=30, occurred_on=date(2026, 10, 14))
    assert _rank(client.get(_path(card)).get_data(as_text=True)) == (3, 3)


def test_a_resident_registered_since_is_counted_once_the_ranks_are_kept_no_longer(
        client, desk, make, monkeypatch):
    from cards import services

    make.deed(desk.bank, "cleanup", [desk.wang])
    card = _issue(client, desk, desk.wang)
    assert _rank(client.get(_path(card)).get_data(as_text=True)) == (1, 3)
    make.resident(desk.bank, "赵六")                     # no entry: the chain head stays
    monkeypatch.setattr(services, "RANKS_KEPT_S", 0)
    assert _rank(client.get(_path(card)).get_data(as_text=True)) == (1, 4)
