"""Activities: published, signed up for from a card, attended by check-in, closed with one team deed once."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from cards.services import revoke_card
from ledger.models import PendingDeed, Transfer


def _count(session, model=Transfer):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _activity(client, village, **body):
    body = {"title": "清理河道", "rule": "cleanup", "starts_at": "2026-10-15T08:00",
            "ends_at": "2026-10-15T18:00", "place": "村口", "capacity": 20, **body}
    answer = client.post("/api/v1/banks/hp/activities", json=body, headers=village["clerk"])
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def _check_in(client, village, activity, card):
    return client.post(f"/api/v1/banks/hp/activities/{activity}/checkins", json={"card": card},
                       headers=village["clerk"])


def test_checked_in_residents_get_one_team_deed_when_the_activity_closes(client, village, session):
    activity = _activity(client, village)
    first, second = village["cards"][0], village["cards"][1]
    answer = _check_in(client, village, activity, f"https://village.example/c/{first.token}")
    assert answer.status_code == 201 and answer.get_json() == {"resident": village["people"][0].id, "name": "王大"}
    assert _check_in(client, village, activity, second.card.number.replace("-", "").lower()).status_code == 201
    closed = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    assert closed.status_code == 201
    assert [t["resident"] for t in closed.get_json()["transfers"]] == [p.id for p in village["people"][:2]]
    listed = client.get("/api/v1/banks/hp/activities", headers=village["clerk"]).get_json()["items"]
    assert (listed[0]["checkins"], listed[0]["closed_at"] is not None) == (2, True)


def test_an_activity_closed_twice_answers_the_first_result_and_posts_nothing_new(client, village, session):
    activity = _activity(client, village)
    _check_in(client, village, activity, village["cards"][0].token)
    first = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    again = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["reviewer"])
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert _count(session) == 1


def test_closing_under_a_rule_that_needs_review_holds_the_deed(client, village, session):
    activity = _activity(client, village, rule="mediation")
    _check_in(client, village, activity, village["cards"][0].token)
    closed = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    assert closed.status_code == 202 and len(closed.get_json()["pending"]) == 1
    assert _count(session) == 0 and _count(session, PendingDeed) == 1


def test_the_same_person_checked_in_twice_is_409(client, village):
    activity = _activity(client, village)
    assert _check_in(client, village, activity, village["cards"][0].token).status_code == 201
    again = _check_in(client, village, activity, village["cards"][0].card.number)
    assert again.status_code == 409 and again.get_json()["error"] == "already_checked_in"


def test_a_revoked_card_is_refused_at_check_in(client, village, make):
    activity = _activity(client, village)
    revoke_card(make.session, village["bank"], resident_id=village["people"][2].id, by="test", clock=make.clock)
    answer = _check_in(client, village, activity, village["cards"][2].token)
    assert answer.status_code == 422 and "card" in answer.get_json()["fields"]


def test_a_card_of_another_bank_is_refused_at_check_in(client, village, make):
    from cards.services import issue_cards

    other = make.bank(code="xc", name="新村")
    stranger = make.resident(other, "外人")
    [card] = issue_cards(make.session, other, resident_ids=[stranger.id], by="test", clock=make.clock)
    activity = _activity(client, village)
    for text in (card.token, card.card.number, "not a card"):
        answer = _check_in(client, village, activity, text)
        assert answer.status_code == 422 and "card" in answer.get_json()["fields"]


def test_closing_with_no_one_checked_in_is_refused_and_a_closed_activity_takes_no_check_ins(client, village,
                                                                                           session):
    activity = _activity(client, village)
    empty = client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    assert empty.status_code == 422
    _check_in(client, village, activity, village["cards"][0].token)
    client.post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
    late = _check_in(client, village, activity, village["cards"][1].token)
    assert late.status_code == 409 and late.get_json()["error"] == "activity_closed"


def test_bad_activities_are_refused_naming_the_field(client, village, session):
    for body, field in (({"ends_at": "2026-10-15T07:00"}, "ends_at"), ({"rule": "nosuch"}, "rule"),
                        ({"rule": "litter"}, "rule"), ({"starts_at": "15/10/2026"}, "starts_at"),
                        ({"capacity": 0}, "capacity"), ({"title": "x" * 101}, "title")):
        answer = client.post("/api/v1/banks/hp/activities", headers=village["clerk"], json={
            "title": "清理河道", "rule": "cleanup", "starts_at": "2026-10-15T08:00",
            "ends_at": "2026-10-15T18:00", **body})
        assert answer.status_code == 422 and field in answer.get_json()["fields"], (body, answer.get_json())
    assert client.get("/api/v1/banks/hp/activities", headers=village["clerk"]).get_json()["items"] == []


def test_residents_see_open_activities_on_their_card_and_sign_up_once(app, village, session):
    client = app.test_client()
    activity = _activity(client, village, capacity=1)
    token = village["cards"][0].token
    page = client.get(f"/c/{token}/activities")
    assert page.status_code == 200 and "清理河道".encode() in page.data
    # The card's address is the form's secret: no CSRF token from the page is needed.
    signed = client.post(f"/c/{token}/activities/{activity}/signup")
    assert signed.status_code == 302
    assert "已报名".encode() in client.get(f"/c/{token}/activities").data
    other = village["cards"][1].token
    offered = client.get(f"/c/{other}/activities").get_data(as_text=True)
    box = offered.split('id="activity-', 1)[1].split("</main>", 1)[0]
    assert "名额已满" in box and "<button" not in box          # a full activity offers no sign-up
    full = client.post(f"/c/{other}/activities/{activity}/signup")
    page = full.get_data(as_text=True)
    assert full.status_code == 409 and re.search(r'id="activity-\d+">.*?名额已满', page, re.S)  # said beside it
    listed = client.get("/api/v1/banks/hp/activities", headers=village["clerk"]).get_json()["items"]
    assert listed[0]["signups"] == 1
    again = client.post(f"/c/{token}/activities/{activity}/signup", headers={"Accept": "application/json"})
    assert again.status_code == 200 and again.get_json()["resident"] == village["people"][0].id
    assert client.post(f"/c/{token}/activities/99999/signup",
                       headers={"Accept": "application/json"}).status_code == 404


def test_two_closes_at_the_same_moment_post_one_deed_and_answer_alike(app, village, session):
    from concurrent.futures import ThreadPoolExecutor

    client = app.test_client()
    activity = _activity(client, village)
    for card in village["cards"]:
        _check_in(client, village, activity, card.token)

    def close(_):
        answer = app.test_client().post(f"/api/v1/banks/hp/activities/{activity}/close", headers=village["clerk"])
        return answer.status_code, answer.get_json()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(close, range(2))
    assert first == second and first[0] == 201
    assert _count(session) == 3


def test_one_card_scanned_twice_at_the_same_moment_checks_in_once(app, village, session):
    from concurrent.futures import ThreadPoolExecutor

    from field.models import Checkin

    activity = _activity(app.test_client(), village)

    def scan(_):
        return _check_in(app.test_client(), village, activity, village["cards"][0].token).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sorted(pool.map(scan, range(2))) == [201, 409]
    assert _count(session, Checkin) == 1


def test_closing_an_activity_with_a_body_it_does_not_read_is_refused_and_posts_nothing(client, village, session):
    activity = _activity(client, village)
    assert _check_in(client, village, activity, village["cards"][0].token).status_code == 201
    path = f"/api/v1/banks/hp/activities/{activity}/close"
    for raw, status in (("{", 400), ('{"x": 1}', 422)):
        answer = client.post(path, data=raw, content_type="application/json", headers=village["clerk"])
        assert answer.status_code == status, raw
    assert _count(session) == 0
    assert client.post(path, headers=village["clerk"]).status_code == 201


def test_an_activity_reads_the_same_times_when_made_listed_and_on_the_phone(client, village):
    made = client.post("/api/v1/banks/hp/activities", headers=village["clerk"], json={
        "title": "清理河道", "rule": "cleanup", "starts_at": "2026-10-15T08:00", "ends_at": "2026-10-15T18:00"})
    listed = client.get("/api/v1/banks/hp/activities", headers=village["clerk"]).get_json()["items"][0]
    assert made.get_json()["starts_at"] == listed["starts_at"] == "2026-10-15T08:00:00+08:00"
    assert made.get_json()["ends_at"] == listed["ends_at"] == "2026-10-15T18:00:00+08:00"


def test_a_resident_withdraws_a_sign_up_before_the_activity_starts_freeing_the_place(app, village, session):
    client = app.test_client()
    activity = _activity(client, village, capacity=1, starts_at="2026-10-16T08:00", ends_at="2026-10-16T18:00")
    mine, other = village["cards"][0].token, village["cards"][1].token
    assert client.post(f"/c/{mine}/activities/{activity}/signup").status_code == 302
    assert "取消报名" in client.get(f"/c/{mine}/activities").get_data(as_text=True)
    gone = client.post(f"/c/{mine}/activities/{activity}/withdraw")
    assert gone.status_code == 302 and gone.headers["Location"].endswith(f"withdrawn={activity}")
    assert "已取消报名" in client.get(gone.headers["Location"]).get_data(as_text=True)
    assert client.post(f"/c/{other}/activities/{activity}/signup").status_code == 302   # the place is free
    again = client.post(f"/c/{mine}/activities/{activity}/withdraw", headers={"Accept": "application/json"})
    assert again.status_code == 200                                                    # nothing to take back


def test_a_sign_up_stands_once_the_activity_has_begun(app, village, session):
    client = app.test_client()
    activity = _activity(client, village)                      # began at 08:00 today; it is 10:00
    token = village["cards"][0].token
    assert client.post(f"/c/{token}/activities/{activity}/signup").status_code == 302
    assert "取消报名" not in client.get(f"/c/{token}/activities").get_data(as_text=True)
    late = client.post(f"/c/{token}/activities/{activity}/withdraw", headers={"Accept": "application/json"})
    assert (late.status_code, late.get_json()["error"]) == (409, "activity_started")
    listed = client.get("/api/v1/banks/hp/activities", headers=village["clerk"]).get_json()["items"]
    assert listed[0]["signups"] == 1
