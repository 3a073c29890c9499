"""Applicants and applications over the API: entry, the state machine, files, roles and walls."""
from __future__ import annotations

from sqlalchemy import func, select

from foundation.models import Application, Attachment, Transition

from .conftest import API, application, station, to_review

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%fake but typed\n"


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def test_a_station_applies_and_every_transition_records_who_and_when(client, district, session):
    applicant = station(client, district, members=[district.li.id, district.zhou.id])
    assert [m["name"] for m in applicant["members"]] == ["李四", "周五"]
    app = application(client, district, applicant)
    assert (app["state"], app["amount_requested"], app["entered_by"]) == ("draft", 500_000, "clerk")
    to_review(client, district, app["id"])
    shown = client.get(f"{API}/applications/{app['id']}", headers=district.supervisor).get_json()
    assert shown["state"] == "in_review"
    assert [(t["action"], t["from"], t["to"], t["by"]) for t in shown["transitions"]] == [
        ("create", "", "draft", "clerk"), ("submit", "draft", "submitted", "clerk"),
        ("screen", "submitted", "screening", "clerk"), ("review", "screening", "in_review", "clerk")]
    assert all(t["at"].startswith("2026-10-15T02:00") for t in shown["transitions"])
    assert [b["amount"] for b in shown["budget"]] == [400_000, 100_000]


def test_an_out_of_order_transition_is_refused_and_changes_nothing(client, district, session):
    app = application(client, district, station(client, district))
    before = _count(session, Transition)
    answer = client.post(f"{API}/applications/{app['id']}/review", headers=district.clerk)
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["error"] == "illegal_transition" and "草稿" in body["message"]
    assert _count(session, Transition) == before
    assert session.get(Application, app["id"]).state == "draft"


def test_an_application_can_be_withdrawn_before_the_decision_but_not_after(client, district):
    app = application(client, district, station(client, district))
    to_review(client, district, app["id"])
    answer = client.post(f"{API}/applications/{app['id']}/withdraw", headers=district.clerk,
                         json={"note": "申请人撤回"})
    assert answer.status_code == 200 and answer.get_json()["state"] == "withdrawn"
    again = client.post(f"{API}/applications/{app['id']}/submit", headers=district.clerk)
    assert again.get_json()["error"] == "illegal_transition"


BAD_APPLICATIONS = [
    ({"amount_requested": 499_999}, "budget"),
    ({"ends_on": "2026-10-01"}, "ends_on"),
    ({"amount_requested": 0}, "amount_requested"),
    ({"amount_requested": 12.5}, "amount_requested"),
    ({"budget": []}, "budget"),
    ({"title": "  "}, "title"),
    ({"applicant": 999}, "applicant"),
]


def test_a_bad_application_is_refused_with_the_field_and_nothing_is_written(client, district, session):
    # One database for the whole table: each case must leave it as it found it.
    applicant = station(client, district)
    for change, field in BAD_APPLICATIONS:
        body = {"applicant": applicant["id"], "title": "修路灯", "purpose": "夜里太黑",
                "budget": [{"item": "灯", "amount": 500_000}], "amount_requested": 500_000,
                "starts_on": "2026-11-01", "ends_on": "2026-12-01", **change}
        answer = client.post(f"{API}/applications", headers=district.clerk, json=body)
        assert answer.status_code == 422, change
        assert field in answer.get_json()["fields"], change
        assert _count(session, Application) == 0, change


def test_an_applicant_needs_real_residents_of_this_bank(client, district, make):
    other = make.bank("xz", "新庄村")
    outsider = make.resident(other, "外村人")
    answer = client.post(f"{API}/applicants", headers=district.clerk, json={
        "kind": "group", "name": "巡逻小组", "members": [district.li.id, outsider.id]})
    assert answer.status_code == 422
    assert answer.get_json()["fields"]["members"] == [f"居民 {outsider.id} 不存在"]


def test_supervisors_read_but_may_not_write_and_another_bank_sees_nothing(client, district, make):
    app = application(client, district, station(client, district))
    assert client.get(f"{API}/applications", headers=district.supervisor).status_code == 200
    refused = client.post(f"{API}/applications/{app['id']}/submit", headers=district.supervisor)
    assert refused.status_code == 403
    other = make.bank("xz", "新庄村")
    stranger = make.token(other, "reviewer")
    assert client.get(f"{API}/applications/{app['id']}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/banks/xz/foundation/applications/{app['id']}",
                      headers=stranger).status_code == 404


def test_the_list_pages_newest_first_and_filters_by_state(client, district):
    applicant = station(client, district)
    ids = [application(client, district, applicant, title=f"项目{i}")["id"] for i in range(3)]
    client.post(f"{API}/applications/{ids[0]}/submit", headers=district.clerk)
    first = client.get(f"{API}/applications?limit=2", headers=district.clerk).get_json()
    assert [a["id"] for a in first["items"]] == [ids[2], ids[1]]
    rest = client.get(f"{API}/applications?limit=2&cursor={first['next_cursor']}", headers=district.clerk).get_json()
    assert [a["id"] for a in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    submitted = client.get(f"{API}/applications?state=submitted", headers=district.clerk).get_json()
    assert [a["id"] for a in submitted["items"]] == [ids[0]]
    assert client.get(f"{API}/applications?state=nonsense", headers=district.clerk).status_code == 422


def test_the_signed_paper_form_is_kept_under_the_instance_folder_with_who_entered_it(client, district, files):
    application_ = application(client, district, station(client, district))
    answer = client.post(f"{API}/applications/{application_['id']}/attachments", headers=district.clerk,
                         data={"kind": "paper_form", "file": (__import__("io").BytesIO(PDF), "申请表.pdf")},
                         content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["kind"], body["on_behalf_of"], body["entered_by"]) == ("paper_form", "南湖社区公益站", "clerk")
    assert body["content_type"] == "application/pdf" and body["filename"] == "申请表.pdf"
    from pathlib import Path
    stored = list((Path(files) / "foundation" / "hp" / str(application_["id"])).iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == PDF
    download = client.get(f"{API}/applications/{application_['id']}/attachments/{body['id']}",
                          headers=district.supervisor)
    assert download.status_code == 200 and download.data == PDF


def test_a_file_that_is_not_a_photo_or_pdf_is_refused(client, district, session, app):
    application_ = application(client, district, station(client, district))
    import io
    answer = client.post(f"{API}/applications/{application_['id']}/attachments", headers=district.clerk,
                         data={"kind": "photo", "file": (io.BytesIO(b"MZ\x90\x00evil"), "photo.jpg")},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "file" in answer.get_json()["fields"]
    assert _count(session, Attachment) == 0
    png = client.post(f"{API}/applications/{application_['id']}/attachments", headers=district.clerk,
                      data={"kind": "photo", "file": (io.BytesIO(PNG), "site.png")},
                      content_type="multipart/form-data")
    assert png.status_code == 201 and png.get_json()["content_type"] == "image/png"


def test_sending_to_review_without_reviewers_is_refused(client, make, session, clock):
    from web.auth import create_token

    from .conftest import FOUNDATION_RULES
    bank = make.bank(rules=FOUNDATION_RULES)
    member = make.resident(bank, "李四")
    clerk = make.user(bank, "clerk", name="c")
    headers = {"Authorization": f"Bearer {create_token(session, 'c', clock=clock)}"}
    applicant = client.post(f"{API}/applicants", headers=headers,
                            json={"kind": "group", "name": "组", "members": [member.id]}).get_json()
    app_id = client.post(f"{API}/applications", headers=headers, json={
        "applicant": applicant["id"], "title": "t", "purpose": "p", "budget": [{"item": "x", "amount": 100}],
        "amount_requested": 100, "starts_on": "2026-11-01", "ends_on": "2026-11-02"}).get_json()["id"]
    for action in ("submit", "screen"):
        client.post(f"{API}/applications/{app_id}/{action}", headers=headers)
    answer = client.post(f"{API}/applications/{app_id}/review", headers=headers)
    assert answer.status_code == 409 and answer.get_json()["error"] == "no_reviewers"
    assert session.get(Application, app_id).state == "screening"
    assert clerk.role == "clerk"


def test_the_openapi_document_describes_the_foundation(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/banks/{bank}/foundation/applications/{application_id}/decision" in paths
    assert "/api/v1/banks/{bank}/foundation/wishes/{wish_id}/claims" in paths
