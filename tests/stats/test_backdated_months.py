"""A month's residents are everyone who could take part in it, so its figures never contradict
themselves: deeds dated back before anyone was registered, and residents who moved away since."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, timezone

import pytest

from ground.clock import FixedClock
from stats import services, upkeep

#: 1 December 2026, 10:00 in the village: the bank opens today, and November is still open.
OPENING_DAY = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
NOVEMBER_30 = date(2026, 11, 30)


@pytest.fixture
def clock():
    return FixedClock(at=OPENING_DAY)


@pytest.fixture
def bank(make):
    return make.bank()


def _bank_month(client, make, bank, month):
    answer = client.get(f"/api/v1/banks/hp/stats?from={month}&to={month}", headers=make.token(bank, "supervisor"))
    assert answer.status_code == 200, answer.get_json()
    [row] = answer.get_json()["months"]
    return row["residents"], row["active_residents"], row["participation_percent"]


def _county_bank(client, make, month):
    answer = client.get(f"/api/v1/county/stats?month={month}", headers=make.token(None, "admin"))
    assert answer.status_code == 200, answer.get_json()
    [row] = answer.get_json()["banks"]
    return row["residents"], row["active_residents"], row["participation_percent"]


def _open_data_month(client, month):
    answer = client.get("/api/v1/banks/hp/open-data/2026.zip")
    assert answer.status_code == 200
    data = zipfile.ZipFile(io.BytesIO(answer.data)).read("months.csv").decode("utf-8-sig")
    [row] = [r for r in csv.DictReader(io.StringIO(data)) if r["month"] == month]
    percent = row["participation_percent"]
    return int(row["residents"]), int(row["active_residents"]), float(percent) if percent else None


def _everywhere(client, make, session, clock, bank, month) -> set:
    """The month's (residents, active, participation) as every reader of the figures gives it."""
    number = int(month.replace("-", ""))
    [county_month] = services.county(session, number, number, number, clock=clock)[1]
    return {_bank_month(client, make, bank, month), _county_bank(client, make, month),
            _open_data_month(client, month),
            (county_month["residents"], county_month["active_residents"], county_month["participation_percent"])}


@pytest.mark.parametrize("counted", [False, True], ids=["before the daily close", "after the daily close"])
def test_deeds_dated_back_before_anyone_registered_count_those_who_did_them_as_the_months_residents(
        client, make, session, clock, bank, counted):
    team = [make.resident(bank, name) for name in ("王大", "王二", "李四")]
    make.deed(bank, "cleanup", team, occurred_on=NOVEMBER_30)
    if counted:
        upkeep.catch_up(session, bank)
    session.commit()
    # The bank's figures, the county's (its banks and its months) and the open data agree.
    assert _everywhere(client, make, session, clock, bank, "2026-11") == {(3, 3, 100.0)}
    assert _everywhere(client, make, session, clock, bank, "2026-12") == {(3, 0, 0.0)}


def test_a_penalty_dated_back_counts_its_resident_but_someone_registered_later_with_nothing_does_not(
        client, make, session, clock, bank):
    wang, li = make.resident(bank, "王大"), make.resident(bank, "李四")
    make.resident(bank, "赵六")  # registered today, nothing dated in November
    make.deed(bank, "cleanup", [wang], occurred_on=NOVEMBER_30)
    make.deed(bank, "litter", [li], occurred_on=NOVEMBER_30)
    session.commit()
    assert _everywhere(client, make, session, clock, bank, "2026-11") == {(2, 1, 50.0)}
    assert _everywhere(client, make, session, clock, bank, "2026-12") == {(3, 0, 0.0)}


def test_a_resident_who_moved_away_stays_among_the_residents_of_the_months_of_their_deeds_only(
        client, make, session, clock, bank):
    from ledger import people, reversals

    wang, li, zhao = (make.resident(bank, name) for name in ("王大", "李四", "赵六"))
    november = make.deed(bank, "cleanup", [wang, li], occurred_on=NOVEMBER_30)
    deed = next(t for t in november.transfers if t.doer_id == li.id)
    # 李四 and 赵六 move away today; 李四's November deed is reversed today, the reversal dated today.
    for who in (li, zhao):
        people.set_resident_active(session, bank, who.id, False, reason="迁出本村", by="test", clock=clock)
    reversals.reverse_transfer(session, bank, deed.id, reason="登记错了", by="test", clock=clock)
    session.commit()
    # November: 王大 and 李四 took part (the reversal counts in the month it is dated); 赵六 left no trace.
    assert _everywhere(client, make, session, clock, bank, "2026-11") == {(2, 2, 100.0)}
    # December: 王大 alone; a reversal is no deed of 李四's in it.
    assert _everywhere(client, make, session, clock, bank, "2026-12") == {(1, 0, 0.0)}


def test_no_month_of_a_year_ever_has_more_taking_part_than_residents(client, make, session, clock, bank):
    team = [make.resident(bank, name) for name in ("王大", "王二", "李四")]
    for day, who in ((date(2026, 10, 20), team[:1]), (date(2026, 11, 3), team[1:]), (NOVEMBER_30, team)):
        make.deed(bank, "cleanup", who, occurred_on=day)
    session.commit()
    months = services.bank_months(session, bank, 202601, 202612, clock=clock)
    assert all(m["active_residents"] <= m["residents"] for m in months)
    assert all(m["participation_percent"] is None or 0 <= m["participation_percent"] <= 100 for m in months)
    assert [(m["month"], m["residents"], m["participation_percent"]) for m in months[-3:]] == [
        ("2026-10", 1, 100.0), ("2026-11", 3, 100.0), ("2026-12", 3, 0.0)]


def test_the_banks_dashboard_shows_the_backdated_month_with_its_residents(signed_in, make, session, bank):
    team = [make.resident(bank, name) for name in ("王大", "王二", "李四")]
    make.deed(bank, "cleanup", team, occurred_on=NOVEMBER_30)
    session.commit()
    page = signed_in(make.user(bank, "supervisor")).get("/banks/hp/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    november = re.search(r"<tr><td>2026年11月</td><td class=\"num\">(\d+)</td>\s*<td class=\"num\">([^<]+)</td>", html)
    assert november and november.groups() == ("3", "100.0%")
