"""The county's view across banks: each bank's month from its own figures, ranked, notices checked."""
from __future__ import annotations

import pytest

from .conftest import Village


@pytest.fixture
def two_villages(make, session, clock, client):
    heping = Village(make, session, clock)
    heping.live_a_month(client)
    xinzhuang = Village(make, session, clock, code="xz", name="新庄村综治银行")
    # 新庄: all three take part, and the fund has nothing: a coverage warning.
    make.deed(xinzhuang.bank, "cleanup", [xinzhuang.wang, xinzhuang.wang2, xinzhuang.li], quantity=2)
    return heping, xinzhuang


def _county(client, make, query="month=2026-10"):
    answer = client.get(f"/api/v1/county/stats?{query}", headers=make.token(None, "admin"))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_each_bank_of_the_county_shows_its_own_month(client, make, two_villages):
    body = _county(client, make)
    assert body["month"] == "2026-10"
    banks = {b["code"]: b for b in body["banks"]}
    hp, xz = banks["hp"], banks["xz"]
    assert (hp["residents"], hp["participation_percent"], hp["points"], hp["penalty_points"]) == (3, 33.3, 36, 5)
    assert hp["objections"] == {"filed": 1, "upheld": 0} and hp["fund_fen"] == 75_000
    assert (xz["residents"], xz["participation_percent"], xz["points"], xz["penalty_points"]) == (3, 100.0, 18, 0)
    assert xz["coverage_percent"] == 0 and xz["coverage_warning"] is True
    assert hp["coverage_warning"] is False


def test_banks_with_a_coverage_warning_come_first_then_by_participation(client, make, two_villages):
    assert [b["code"] for b in _county(client, make)["banks"]] == ["xz", "hp"]


def test_a_notice_not_posted_by_its_day_is_late_and_one_posted_is_not(app, client, make, session,
                                                                       two_villages):
    from reports import services as reports

    heping, _ = two_villages
    september = {b["code"]: b for b in _county(client, make, "month=2026-09")["banks"]}
    # The notice of September was due on 1 October at 08:00: neither bank has posted it.
    assert all(b["notice_late"] and not b["notice_posted"] for b in september.values())
    reports.publish_notice(session, heping.bank, "2026-09", by="test", clock=heping.clock)
    september = {b["code"]: b for b in _county(client, make, "month=2026-09")["banks"]}
    assert september["hp"]["notice_posted"] and not september["hp"]["notice_late"]
    assert september["xz"]["notice_late"]
    # October's notice is not due until November.
    assert not any(b["notice_late"] for b in _county(client, make)["banks"])


def test_a_month_before_any_transfer_shows_every_bank_at_nothing(client, make, two_villages):
    banks = _county(client, make, "month=2026-01")["banks"]
    assert {b["code"] for b in banks} == {"hp", "xz"}
    assert all(b["points"] == 0 and b["residents"] == 0 and b["participation_percent"] is None for b in banks)


@pytest.mark.parametrize("role", ["clerk", "reviewer", "supervisor", "desk"])
def test_only_the_county_admin_reads_the_county(client, make, role):
    bank = make.bank()
    assert client.get("/api/v1/county/stats", headers=make.token(bank, role)).status_code == 403


@pytest.mark.parametrize("month", ["2026-13", "26-10", "abc", "2100-01", "%00"])
def test_a_bad_month_is_refused_naming_it(client, make, month):
    answer = client.get(f"/api/v1/county/stats?month={month}", headers=make.token(None, "admin"))
    assert answer.status_code == 422 and list(answer.get_json()["fields"]) == ["month"]


def test_a_resident_no_longer_active_leaves_the_residents_of_every_month_without_a_deed_of_theirs(
        client, make, session, two_villages):
    from ledger import people
    from stats import services

    heping, _ = two_villages
    # 王二's only deed is dated in September: October no longer counts him, September still does.
    people.set_resident_active(session, heping.bank, heping.wang2.id, False, reason="迁出本村", by="test",
                               clock=heping.clock)
    session.commit()
    banks = {b["code"]: b for b in _county(client, make)["banks"]}
    assert (banks["hp"]["residents"], banks["hp"]["participation_percent"]) == (2, 50.0)
    assert banks["xz"]["residents"] == 3
    # The county's months: none registered by September's end, but 王二's deed is dated in it;
    # five of six still active by October's.
    _, months = services.county(session, 202610, 202609, 202610, clock=heping.clock)
    assert [(m["month"], m["residents"]) for m in months] == [("2026-09", 1), ("2026-10", 5)]
