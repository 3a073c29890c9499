"""An activity's deed is dated on its day: a day no deed may be dated is refused when the activity
is made, and nobody is checked in before the day comes. Today is 15 October 2026 in the village;
the rule file lets deeds be dated 45 days back, to 31 August."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from field import activities
from field.models import Activity, Checkin
from ground.clock import FixedClock
from ledger import periods
from ledger.models import Transfer


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _create(client, village, starts_at, ends_at=None, lang=None):
    body = {"title": "清理河道", "rule": "cleanup", "starts_at": starts_at,
            "ends_at": ends_at or starts_at.replace("T08:00", "T18:00")}
    headers = {**village["clerk"], **({"Accept-Language": lang} if lang else {})}
    return client.post("/api/v1/banks/hp/activities", json=body, headers=headers)


def _check_in(client, village, activity, card, lang=None):
    headers = {**village["clerk"], **({"Accept-Language": lang} if lang else {})}
    return client.post(f"/api/v1/banks/hp/activities/{activity}/checkins", json={"card": card}, headers=headers)


@pytest.mark.parametrize("starts_at", ["2026-08-30T08:00", "2026-08-30T23:30:00+08:00", "2026-08-30T15:59:00Z"])
def test_an_activity_dated_beyond_the_backdate_window_is_too_old_naming_starts_at_and_nothing_is_written(
        client, village, session, starts_at):
    answer = _create(client, village, starts_at)
    body = answer.get_json()
    assert answer.status_code == 422 and body["error"] == "too_old", body
    assert list(body["fields"]) == ["starts_at"] and "2026-08-31" in body["fields"]["starts_at"][0]
    assert _count(session, Activity) == 0


def test_the_audit_s_activity_of_1_september_made_on_1_december_is_too_old(session, village):
    from ground.errors import TooOld

    first_of_december = FixedClock(at=datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))
    starts = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)
    with pytest.raises(TooOld) as refused:
        activities.create_activity(session, village["bank"], title="t", rule_code="cleanup", quantity=1,
                                   starts_at=starts, ends_at=starts.replace(hour=10), place=None,
                                   capacity=None, by="test", clock=first_of_december)
    assert list(refused.value.fields) == ["starts_at"]
    assert _count(session, Activity) == 0


def test_the_day_is_the_village_s_so_a_start_late_on_30_august_in_utc_is_31_august_and_accepted(
        client, village):
    answer = _create(client, village, "2026-08-30T16:30:00Z", "2026-08-31T02:00:00Z")
    assert answer.status_code == 201, answer.get_json()


def test_the_too_old_refusal_of_an_activity_reads_as_a_deed_s_in_english(client, village):
    body = _create(client, village, "2026-08-30T08:00", lang="en").get_json()
    assert body["error"] == "too_old"
    assert body["message"] == "2026-08-30 is too old: the earliest day allowed is 2026-08-31 (45 days back)"


def test_an_activity_in_a_sealed_month_is_refused_as_period_sealed_and_nothing_is_written(
        client, village, session, make):
    periods.seal_month(session, village["bank"].id, "2026-09", by="test", clock=make.clock)
    session.commit()
    answer = _create(client, village, "2026-09-20T08:00")
    body = answer.get_json()
    assert answer.status_code == 409 and body["error"] == "period_sealed", body
    assert list(body["fields"]) == ["starts_at"]
    assert _count(session, Activity) == 0
    # October is open: an activity in it is made as before.
    assert _create(client, village, "2026-10-01T08:00").status_code == 201


def test_an_activity_ending_before_it_starts_is_refused_naming_ends_at(client, village, session):
    answer = _create(client, village, "2026-10-20T08:00", "2026-10-19T18:00")
    assert answer.status_code == 422 and list(answer.get_json()["fields"]) == ["ends_at"]
    assert _count(session, Activity) == 0


def test_an_activity_still_to_come_is_made_but_takes_no_check_in_before_its_day(client, village, session):
    answer = _create(client, village, "2026-10-16T08:00")
    assert answer.status_code == 201
    activity = answer.get_json()["id"]
    early = _check_in(client, village, activity, village["cards"][0].token)
    body = early.get_json()
    assert early.status_code == 409 and body["error"] == "not_started"
    assert body["message"] == "活动 2026-10-16 才开始，开始当天才能签到"
    english = _check_in(client, village, activity, village["cards"][0].token, lang="en").get_json()
    assert english["message"] == "the activity starts on 2026-10-16: check-ins open that day"
    assert _count(session, Checkin) == 0


def test_an_activity_starting_later_today_takes_check_ins_and_closes_with_a_deed_dated_today(
        client, village, session):
    activity = _create(client, village, "2026-10-15T18:00", "2026-10-15T20:00").get_json()["id"]
    assert _check_in(client, village, activity, village["cards"][0].token).status_code == 201
    closed = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    assert closed.status_code == 201, closed.get_json()
    [transfer] = closed.get_json()["transfers"]
    assert transfer["resident"] == village["people"][0].id and transfer["occurred_on"] == "2026-10-15"


def test_an_activity_days_back_within_the_window_closes_with_its_deed_dated_on_its_day(
        client, village, session):
    activity = _create(client, village, "2026-08-31T08:00").get_json()["id"]
    for card in village["cards"][:2]:
        assert _check_in(client, village, activity, card.token).status_code == 201
    closed = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    assert closed.status_code == 201, closed.get_json()
    assert {t["occurred_on"] for t in closed.get_json()["transfers"]} == {"2026-08-31"}


def test_an_activity_made_ahead_checks_in_on_its_day_and_closes_with_its_deed(client, village, session):
    activity = _create(client, village, "2026-10-20T08:00").get_json()["id"]
    on_the_day = FixedClock(at=datetime(2026, 10, 20, 1, 0, tzinfo=timezone.utc))  # 09:00 in the village
    bank = session.merge(village["bank"])
    resident = activities.check_in(session, bank, activity, village["cards"][1].token, by="test",
                                   clock=on_the_day)
    assert resident.id == village["people"][1].id
    outcome = activities.close_activity(session, bank, activity, by="test", clock=on_the_day)
    session.commit()
    assert outcome.kind == "posted"
    [transfer] = outcome.transfers
    assert transfer.occurred_on == date(2026, 10, 20) and transfer.doer_id == village["people"][1].id
    assert _count(session, Transfer) == 1
