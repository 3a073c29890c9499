"""Photos as evidence: what is kept of a phone's photo, what is refused, and deeds that carry them."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select

from field.models import Evidence, Photo
from ledger.models import Transfer

from .conftest import gps_exif, jpeg, upload


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _deed(client, village, **body):
    body = {"rule": "cleanup", "residents": [village["people"][0].id], "occurred_on": "2026-10-14", **body}
    return client.post("/api/v1/banks/hp/deeds", json=body, headers=village["clerk"])


def test_a_phone_photo_is_kept_without_its_gps_and_no_larger_than_1600_px(client, village, session):
    answer = upload(client, village["clerk"], jpeg((4000, 3000), exif=gps_exif()))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["width"], body["height"]) == (1600, 1200)
    shown = client.get(f"/api/v1/banks/hp/photos/{body['id']}", headers=village["clerk"])
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    kept = Image.open(io.BytesIO(shown.data))
    assert kept.size == (1600, 1200)
    assert not kept.getexif() and b"VillagePhone" not in shown.data and "exif" not in kept.info


def test_a_png_with_transparency_is_kept_as_a_jpeg(client, village):
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 0, 0)).save(out, "PNG")
    answer = upload(client, village["clerk"], out.getvalue(), name="a.png")
    assert answer.status_code == 201
    assert (answer.get_json()["width"], answer.get_json()["height"]) == (300, 200)


def test_a_file_that_is_not_an_image_is_refused_and_nothing_kept(client, village, session):
    answer = upload(client, village["clerk"], b"%PDF-1.4 not a photo at all", name="x.jpg")
    assert answer.status_code == 422 and "file" in answer.get_json()["fields"]
    assert _count(session, Photo) == 0


def test_a_photo_cut_short_is_refused_even_after_a_notice_was_printed(client, village, session):
    import weasyprint  # noqa: F401  (printing a notice imports it, and it tells Pillow to make do)

    whole = jpeg((3000, 2000), color="red")
    for cut in (whole[:2000], whole[: len(whole) // 2]):
        answer = upload(client, village["clerk"], cut)
        assert answer.status_code == 422 and "file" in answer.get_json()["fields"]
    assert _count(session, Photo) == 0
    assert upload(client, village["clerk"], whole).status_code == 201


def test_a_gif_is_refused_as_not_a_jpeg_or_png(client, village):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    assert upload(client, village["clerk"], out.getvalue(), name="x.gif").status_code == 422


def test_a_photo_over_8_mb_is_refused_with_413(client, village, session):
    answer = upload(client, village["clerk"], b"\xff\xd8" + b"0" * (8 * 1024 * 1024 + 10))
    assert answer.status_code == 413
    assert _count(session, Photo) == 0


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring a huge size with next to no data: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + \
        chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_from_its_header_before_it_is_decoded(client, village, session,
                                                                              monkeypatch):
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    answer = upload(client, village["clerk"], _png_header_only(50_000, 50_000), name="bomb.png")
    assert answer.status_code == 422 and "file" in answer.get_json()["fields"]
    assert decoded == [] and _count(session, Photo) == 0


def test_a_photo_is_seen_only_by_its_banks_staff(client, village, make):
    photo = upload(client, village["clerk"], jpeg()).get_json()["id"]
    other = make.bank(code="xc", name="新村")
    assert client.get(f"/api/v1/banks/xc/photos/{photo}", headers=make.token(other, "clerk")).status_code == 404
    assert client.get(f"/api/v1/banks/hp/photos/{photo}").status_code == 401


def test_a_deed_carries_its_photos_as_evidence_on_every_transfer(client, village, session):
    ids = [upload(client, village["clerk"], jpeg()).get_json()["id"] for _ in range(2)]
    team = [p.id for p in village["people"][:2]]
    answer = _deed(client, village, residents=team, evidence=ids)
    assert answer.status_code == 201, answer.get_json()
    assert [t["evidence"] for t in answer.get_json()["transfers"]] == [ids, ids]
    shown = client.get(f"/api/v1/banks/hp/transfers/{answer.get_json()['transfers'][0]['id']}",
                       headers=village["clerk"])
    assert shown.get_json()["evidence"] == ids


@pytest.mark.parametrize("rule, photos", [("cleanup", 2), ("cleanup", 0), ("mediation", 1),
                                          ("mediation", 0)])
def test_a_deeds_first_answer_shows_the_photos_its_replay_and_a_read_show(client, village, rule,
                                                                         photos):
    """The first answer says what the deed was given as evidence; a replay and a read ask the database."""
    ids = [upload(client, village["clerk"], jpeg()).get_json()["id"] for _ in range(photos)]
    headers = {**village["clerk"], "Idempotency-Key": f"photos-{rule}-{photos}"}
    body = {"rule": rule, "residents": [p.id for p in village["people"][:2]],
            "occurred_on": "2026-10-14", "evidence": ids}
    first = client.post("/api/v1/banks/hp/deeds", json=body, headers=headers)
    again = client.post("/api/v1/banks/hp/deeds", json=body, headers=headers)
    assert first.status_code == again.status_code == (202 if rule == "mediation" else 201)
    assert first.get_json() == again.get_json()
    if rule == "mediation":
        answered = first.get_json()["pending"]
        assert [(p["evidence"], p["source"]) for p in answered] == [(ids, "clerk")] * 2
        assert client.get("/api/v1/banks/hp/pending", headers=headers).get_json()["items"] == answered
    else:
        answered = first.get_json()["transfers"]
        assert [t["evidence"] for t in answered] == [ids, ids]
        assert [client.get(f"/api/v1/banks/hp/transfers/{t['id']}", headers=headers).get_json()
                for t in answered] == answered


def test_a_deed_with_five_photos_is_refused(client, village, session):
    ids = [upload(client, village["clerk"], jpeg()).get_json()["id"] for _ in range(5)]
    answer = _deed(client, village, evidence=ids)
    assert answer.status_code == 422 and "evidence" in answer.get_json()["fields"]
    assert _count(session, Transfer) == 0


def test_a_photo_of_another_bank_is_refused_as_evidence_and_nothing_posted(client, village, session, make):
    other = make.bank(code="xc", name="新村")
    theirs = upload(client, make.token(other, "clerk"), jpeg(), bank="xc").get_json()["id"]
    answer = _deed(client, village, evidence=[theirs])
    assert answer.status_code == 422 and "evidence" in answer.get_json()["fields"]
    assert _count(session, Transfer) == 0 and _count(session, Evidence) == 0


def test_a_rule_that_requires_evidence_refuses_a_deed_without_a_photo(client, village, session):
    answer = _deed(client, village, rule="planting")
    assert answer.status_code == 422 and "evidence" in answer.get_json()["fields"]
    photo = upload(client, village["clerk"], jpeg()).get_json()["id"]
    assert _deed(client, village, rule="planting", evidence=[photo]).status_code == 201


def test_a_deed_held_for_review_shows_its_photos_in_the_queue_and_after_approval(client, village, session,
                                                                                make, signed_in):
    photo = upload(client, village["clerk"], jpeg()).get_json()["id"]
    held = _deed(client, village, rule="mediation", evidence=[photo])
    assert held.status_code == 202
    [pending] = held.get_json()["pending"]
    assert pending["evidence"] == [photo] and pending["source"] == "clerk"
    queue = client.get("/api/v1/banks/hp/pending", headers=village["reviewer"]).get_json()["items"]
    assert queue[0]["evidence"] == [photo]
    page = signed_in(make.user(village["bank"], "reviewer")).get("/banks/hp/pending")
    assert f"/api/v1/banks/hp/photos/{photo}".encode() in page.data
    approved = client.post(f"/api/v1/banks/hp/pending/{pending['id']}/approve", headers=village["reviewer"])
    assert approved.get_json()["transfers"][0]["evidence"] == [photo]
    transfer_page = signed_in(make.user(village["bank"], "clerk")).get(
        f"/banks/hp/transfers/{approved.get_json()['transfers'][0]['id']}")
    assert f"/api/v1/banks/hp/photos/{photo}".encode() in transfer_page.data


def test_rules_check_names_the_line_of_an_unknown_evidence_mode(tmp_path):
    from rules import loading

    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - code: planting\n    name: 义务植树\n    category: 环境卫生\n"
                    "    points: 4\n    evidence: sometimes\n", encoding="utf-8")
    try:
        loading.parse(path.read_text(encoding="utf-8"), str(path))
    except loading.RuleFileInvalid as invalid:
        problems = [str(p) for p in invalid.problems]
    else:
        problems = []
    assert any("evidence" in p and f"{path}:" in p for p in problems), problems
