"""Attachments have their own size limit: refused (413, the field and the limit named) before
the body is read, whether it declares its length or streams it; the app-wide cap still holds."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from foundation import attachments
from foundation.models import Attachment
from ground.errors import TooLarge

from .conftest import API, application, station

PNG = b"\x89PNG\r\n\x1a\n"
LIMIT = attachments.MAX_ATTACHMENT_BYTES


def _attachments(session, files):
    session.rollback()
    stored = [p for p in files.rglob("*") if p.is_file()] if files.exists() else []
    return session.execute(select(func.count()).select_from(Attachment)).scalar(), stored


def _multipart(payload: bytes) -> bytes:
    return (b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nphoto\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="site.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + payload + b"\r\n--b--\r\n")


def test_a_photo_over_the_limit_is_refused_naming_the_field_and_nothing_is_stored(client, district, session, files):
    app_id = application(client, district, station(client, district))["id"]
    answer = client.post(f"{API}/applications/{app_id}/attachments", headers=district.clerk,
                         data={"kind": "photo", "file": (io.BytesIO(PNG + b"\x00" * LIMIT), "site.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413
    body = answer.get_json()
    assert body["error"] == "too_large" and "10 MB" in body["fields"]["file"][0]
    assert _attachments(session, files) == (0, [])


def test_a_streamed_photo_without_a_length_is_cut_off_at_the_limit(client, district, session, files):
    app_id = application(client, district, station(client, district))["id"]
    answer = client.post(f"{API}/applications/{app_id}/attachments", headers=district.clerk,
                         input_stream=io.BytesIO(_multipart(PNG + b"\x00" * LIMIT)),
                         content_type="multipart/form-data; boundary=b",
                         environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 413 and answer.get_json()["fields"]["file"]
    assert _attachments(session, files) == (0, [])


def test_a_photo_larger_than_the_app_wide_cap_but_within_its_own_limit_is_kept(client, district, session, files):
    app_id = application(client, district, station(client, district))["id"]
    photo = PNG + b"\x00" * (5 * 2**20)
    answer = client.post(f"{API}/applications/{app_id}/attachments", headers=district.clerk,
                         data={"kind": "photo", "file": (io.BytesIO(photo), "site.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 201 and answer.get_json()["size"] == len(photo)


def test_the_service_refuses_an_oversized_file_from_any_caller(client, district, session, files):
    app_id = application(client, district, station(client, district))["id"]
    with pytest.raises(TooLarge) as refused:
        attachments.add_attachment(session, district.bank, app_id, attachments.Upload("big.png", PNG + b"\x00" * LIMIT),
                                   kind="photo", on_behalf_of=None, by="clerk", clock=district.clock,
                                   instance_path=str(files))
    assert refused.value.status == 413 and refused.value.fields == {"file": ["文件不能超过 10 MB"]}
    assert _attachments(session, files) == (0, [])


def test_a_json_body_over_the_app_wide_cap_is_still_refused(client, district):
    answer = client.post(f"{API}/applicants", headers=district.clerk,
                         data=b'{"name": "' + b"x" * (4 * 2**20) + b'"}', content_type="application/json")
    assert answer.status_code == 413 and answer.get_json()["error"] == "too_large"
