"""Dates given to the foundation: inside the cycle's years, and points or gifts inside the open months."""
from __future__ import annotations

from sqlalchemy import func, select

from foundation.models import Application
from ledger.models import Transfer

from .conftest import API, application, awarded, decision, score_all, station, to_review
from .test_wishes import _claim, _published

ABSURD = ["0001-01-01", "9999-12-31", "2100-01-01", 20261014]


def _count(session, table) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(table)).scalar()


def test_an_application_with_an_absurd_start_or_end_is_a_422_naming_it(client, district, session):
    applicant = station(client, district)
    for field in ("starts_on", "ends_on"):
        for day in ABSURD:
            body = {"applicant": applicant["id"], "title": "修路灯", "purpose": "夜里太黑",
                    "budget": [{"item": "灯", "amount": 500_000}], "amount_requested": 500_000,
                    "starts_on": "2026-11-01", "ends_on": "2026-12-01", field: day}
            answer = client.post(f"{API}/applications", headers=district.clerk, json=body)
            assert answer.status_code == 422, (field, day)
            assert field in answer.get_json()["fields"], (field, day)
    assert _count(session, Application) == 0


def test_a_council_meeting_of_year_one_is_refused(client, district):
    app_id = application(client, district, station(client, district))["id"]
    to_review(client, district, app_id)
    score_all(client, district, app_id)
    for day in ABSURD:
        answer = client.post(f"{API}/applications/{app_id}/decision", headers=district.reviewers[0][1],
                             json=decision(met_on=day))
        assert answer.status_code == 422 and "met_on" in answer.get_json()["fields"], day


def test_volunteers_credited_beyond_backdate_days_are_refused_too_old_and_earn_nothing(client, district, session):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district)
    before = _count(session, Transfer)
    for day, code in [("2026-08-30", "too_old"), ("0001-01-01", "validation_error"),
                      ("9999-12-31", "validation_error")]:
        answer = client.post(f"{API}/applications/{app_id}/volunteers", headers=district.clerk,
                             json={"residents": [district.li.id], "quantity": 1, "occurred_on": day})
        assert answer.status_code == 422 and answer.get_json()["error"] == code, day
        assert "occurred_on" in answer.get_json()["fields"], day
    progress = client.post(f"{API}/applications/{app_id}/progress", headers=district.clerk,
                           json={"reported_on": "9999-12-31", "percent": 60, "text": "装好 4 个"})
    assert progress.status_code == 422 and "reported_on" in progress.get_json()["fields"]
    assert _count(session, Transfer) == before


def test_a_gift_delivered_beyond_backdate_days_is_too_old_and_posts_nothing(client, district, session):
    wish_id = _published(client, district)
    assert "deadline" in _claim(client, district, wish_id, deadline="9999-12-31").get_json()["fields"]
    donor = _claim(client, district, wish_id).get_json()["claim"]["donors"][0]
    for day, code in [("2026-08-30", "too_old"), ("0001-01-01", "validation_error")]:
        answer = client.post(f"{API}/wishes/{wish_id}/delivery", headers=district.clerk,
                             json={"delivered_on": day, "gifts": [{"donor": donor["id"], "value": 100}]})
        assert answer.status_code == 422 and answer.get_json()["error"] == code, day
        assert "delivered_on" in answer.get_json()["fields"], day
    assert _count(session, Transfer) == 0
