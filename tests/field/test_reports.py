"""A resident's own report (积分申报): held for a reviewer with its photos, five a day per card."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from field.models import Photo, Report
from ledger.models import PendingDeed

from .conftest import gps_exif, jpeg


@pytest.fixture
def card_client(app):
    """A program posting the card's forms as API.md has them: no page fetched, no CSRF token."""
    assert app.config.get("WTF_CSRF_ENABLED", True)
    return app.test_client()


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _report(client, token, *, photos=(), **form):
    data = {"rule": "cleanup", "occurred_on": "2026-10-14", "memo": "扫了村口的路", **form}
    data["photos"] = [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]
    return client.post(f"/c/{token}/reports", data=data, content_type="multipart/form-data")


def test_a_report_waits_for_a_reviewer_marked_as_the_residents_with_its_photos(card_client, village, session):
    token = village["cards"][0].token
    answer = _report(card_client, token, photos=[jpeg((3000, 2000), exif=gps_exif())])
    assert answer.status_code == 302, answer.data.decode()[:500]
    [item] = card_client.get("/api/v1/banks/hp/pending", headers=village["reviewer"]).get_json()["items"]
    assert (item["source"], item["rule"], item["resident"]) == ("resident", "cleanup", village["people"][0].id)
    assert len(item["evidence"]) == 1
    photo = card_client.get(f"/api/v1/banks/hp/photos/{item['evidence'][0]}", headers=village["reviewer"])
    assert b"VillagePhone" not in photo.data
    assert "待审核".encode() in card_client.get(f"/c/{token}").data


def test_the_resident_sees_on_the_card_page_a_rejection_and_why(card_client, village):
    token = village["cards"][0].token
    _report(card_client, token)
    [item] = card_client.get("/api/v1/banks/hp/pending", headers=village["reviewer"]).get_json()["items"]
    card_client.post(f"/api/v1/banks/hp/pending/{item['id']}/reject", json={"reason": "当天没有看到"},
                     headers=village["reviewer"])
    page = card_client.get(f"/c/{token}").data.decode()
    assert "未通过" in page and "当天没有看到" in page


def test_the_resident_sees_an_approval_on_the_card_page(card_client, village):
    token = village["cards"][0].token
    _report(card_client, token, rule="patrol")
    [item] = card_client.get("/api/v1/banks/hp/pending", headers=village["reviewer"]).get_json()["items"]
    card_client.post(f"/api/v1/banks/hp/pending/{item['id']}/approve", headers=village["reviewer"])
    assert "已通过".encode() in card_client.get(f"/c/{token}").data


def test_a_sixth_report_in_a_day_is_refused_with_429(card_client, village, session):
    token = village["cards"][0].token
    for n in range(5):
        assert _report(card_client, token, memo=f"扫了村口的路，第 {n + 1} 次").status_code == 302
    sixth = _report(card_client, token, memo="又扫了一次")
    assert sixth.status_code == 429 and "5".encode() in sixth.data
    assert _count(session, PendingDeed) == 5 and _count(session, Report) == 5
    # Another card of the village has its own five.
    assert _report(card_client, village["cards"][1].token).status_code == 302


def test_a_report_with_a_file_that_is_not_a_photo_is_refused_and_nothing_held(card_client, village, session):
    answer = _report(card_client, village["cards"][0].token, photos=[b"not a photo"])
    assert answer.status_code == 422 and "JPEG".encode() in answer.data
    assert "扫了村口的路".encode() in answer.data  # the form comes back as typed
    assert _count(session, PendingDeed) == 0 and _count(session, Photo) == 0


def test_a_report_with_five_photos_or_bad_fields_is_refused(card_client, village, session):
    token = village["cards"][0].token
    assert _report(card_client, token, photos=[jpeg((50, 50))] * 5).status_code == 422
    for form in ({"rule": "litter"}, {"rule": "nosuch"}, {"occurred_on": "2026-13-01"},
                 {"occurred_on": "2026-10-16"}, {"memo": ""}, {"memo": "x" * 501}, {"memo": "a\x00b"}):
        assert _report(card_client, token, **form).status_code in (409, 422), form
    assert _count(session, PendingDeed) == 0


def test_a_rule_that_needs_a_photo_needs_one_in_a_report_too(card_client, village, session):
    token = village["cards"][0].token
    assert _report(card_client, token, rule="planting").status_code == 422
    assert _report(card_client, token, rule="planting", photos=[jpeg((50, 50))]).status_code == 302


def test_a_revoked_or_unknown_card_cannot_report(card_client, village, make, session):
    from cards.services import revoke_card

    revoke_card(make.session, village["bank"], resident_id=village["people"][0].id, by="test", clock=make.clock)
    assert _report(card_client, village["cards"][0].token).status_code == 404
    assert _count(session, PendingDeed) == 0


def test_a_program_posting_a_report_reads_json_answers(card_client, village, session):
    token = village["cards"][0].token
    ask = {"Accept": "application/json"}
    data = {"rule": "cleanup", "occurred_on": "2026-10-14", "memo": "扫路", "photos": [(io.BytesIO(jpeg()), "a.jpg")]}
    answer = card_client.post(f"/c/{token}/reports", data=data, headers=ask, content_type="multipart/form-data")
    assert answer.status_code == 201
    [held] = answer.get_json()["pending"]
    assert held["source"] == "resident" and len(held["evidence"]) == 1
    bad = card_client.post(f"/c/{token}/reports", data={"rule": "nosuch"}, headers=ask)
    assert bad.status_code == 422 and {"rule", "memo"} <= set(bad.get_json()["fields"])
    same = card_client.post(f"/c/{token}/reports", headers=ask, content_type="multipart/form-data",
                            data={**data, "photos": [(io.BytesIO(jpeg()), "a.jpg")]})
    assert same.status_code == 200 and same.get_json()["pending"][0]["id"] == held["id"]  # as a retry
    for n in range(4):
        _report(card_client, token, memo=f"扫路 {n}")
    sixth = card_client.post(f"/c/{token}/reports", headers=ask,
                             data={"rule": "cleanup", "occurred_on": "2026-10-14", "memo": "扫路，又一次"})
    assert sixth.status_code == 429 and sixth.get_json()["error"] == "too_many_reports"
    assert _count(session, PendingDeed) == 5


def test_the_same_report_sent_twice_is_held_once_and_the_resident_told(card_client, village, session):
    token = village["cards"][0].token
    photo = jpeg((800, 600))
    first = _report(card_client, token, photos=[photo])
    again = _report(card_client, token, photos=[photo])                  # Back, and send again
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"].endswith("sent=1&again=1")
    assert "已经提交过".encode() in card_client.get(again.headers["Location"]).data
    assert _count(session, PendingDeed) == 1 and _count(session, Photo) == 1
    # Other words, or other photos, are another report; so is the same once the first is decided.
    assert "again" not in _report(card_client, token, memo="扫了河边的路").headers["Location"]
    assert "again" not in _report(card_client, token).headers["Location"]   # without the photo
    assert _count(session, PendingDeed) == 3


def test_a_residents_reports_stay_on_the_card_issued_after_their_old_one(card_client, village):
    old = village["cards"][0].token
    _report(card_client, old)
    [item] = card_client.get("/api/v1/banks/hp/pending", headers=village["reviewer"]).get_json()["items"]
    card_client.post(f"/api/v1/banks/hp/pending/{item['id']}/reject", json={"reason": "当天没有看到"},
                     headers=village["reviewer"])
    new = card_client.post(f"/api/v1/banks/hp/residents/{village['people'][0].id}/card",
                           headers=village["clerk"]).get_json()["token"]
    for page in (f"/c/{new}", f"/c/{new}/reports"):
        text = card_client.get(page).data.decode()
        assert "未通过" in text and "当天没有看到" in text, page


def test_a_photo_too_big_for_a_report_is_said_beside_the_photos_and_the_words_kept(card_client, village, session):
    answer = _report(card_client, village["cards"][0].token, memo="帮五保户收稻",
                     photos=[b"\xff\xd8" + b"0" * (8 * 1024 * 1024 + 10)])
    page = answer.data.decode()
    assert answer.status_code == 413 and "8 MB" in page and "帮五保户收稻" in page
    assert 'name="rule"' in page                                  # the card's own form, not an error page
    assert _count(session, PendingDeed) == 0


def test_a_report_says_how_many_times_or_hours_and_a_bad_number_is_refused_beside_it(card_client, village, session):
    token = village["cards"][0].token
    assert _report(card_client, token, rule="patrol", quantity="3").status_code == 302
    [item] = card_client.get("/api/v1/banks/hp/pending", headers=village["reviewer"]).get_json()["items"]
    assert (item["quantity"], item["points"]) == (3, 6)                       # 2 points an hour
    for bad in ("0", "1001", "1.5", "x", "10" * 10):
        refused = _report(card_client, token, quantity=bad, memo=f"第 {bad} 次")
        assert refused.status_code == 422 and 'id="quantity-error"' in refused.data.decode(), bad
    assert _count(session, PendingDeed) == 1
