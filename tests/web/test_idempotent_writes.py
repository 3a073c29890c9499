"""Every creating or acting write of the API honours the Idempotency-Key: the same key and body
answers the first answer and writes nothing, another body under it is 409, and the key is the
sender's own. And the desk reads a resident's transfers and the bank's photos."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from cards.models import Card
from cards.services import find_card, issue_cards
from field.models import Activity, Checkin, Photo
from ledger.models import Household, Resident, Transfer
from redemption.models import CatalogItem, RedemptionWindow
from reports import objections, services as reports_services
from reports.models import Objection

from ..conftest import HOUSEHOLD_RULES
from ..field.conftest import jpeg
from ..retrying import KeyedWrite

API = "/api/v1/banks/hp"


@dataclass
class Write(KeyedWrite):
    """A write of the village's API, sent by a user of one role."""

    role: str = "clerk"
    #: The bank whose users write (the village's unless said).
    bank: object = None
    status: int = 201
    upload: bool = False


def _count(session, model, *where) -> int:
    session.rollback()  # see what the requests committed
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar()


@pytest.fixture
def village(make, session):
    """A bank with a household of two residents (each with a card) and a user of each role."""
    bank = make.bank()
    home = make.household(bank, "E01", "王家")
    people = [make.resident(bank, name, home) for name in ("王大", "王二")]
    cards = issue_cards(session, bank, resident_ids=[p.id for p in people], by="test", clock=make.clock)
    return {"bank": bank, "home": home, "people": people, "cards": cards}


def _activity(session, village, clock):
    from field import activities

    return activities.create_activity(
        session, village["bank"], title="清理河道", rule_code="cleanup", quantity=1,
        starts_at=datetime(2026, 10, 15, 0, 0, tzinfo=timezone.utc),
        ends_at=datetime(2026, 10, 15, 10, 0, tzinfo=timezone.utc), place=None, capacity=None,
        by="test", clock=clock)


def _objections(session, village, clock, n=2):
    """September's notice out, and an objection against each of n September entries."""
    from ledger import deeds

    bank, people = village["bank"], village["people"]
    entries = [deeds.post_deed(session, bank, rule_code="patrol", resident_ids=[people[i % 2].id],
                               quantity=1 + i, occurred_on=date(2026, 9, 5 + i), memo=None, by="test",
                               clock=clock).transfers[0] for i in range(n)]
    reports_services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    return entries, [objections.file_objection(session, bank, resident_id=people[i % 2].id,
                                               transfer_id=e.id, month=None, text="时长记错了",
                                               filed_by="test", clock=clock) for i, e in enumerate(entries)]


def _households(session, village, make, clock):
    return Write(f"{API}/households", {"code": "E09", "name": "李家"}, f"{API}/households",
                 {"code": "E10"}, lambda: _count(session, Household))


def _residents(session, village, make, clock):
    return Write(f"{API}/residents", {"name": "李四", "household": "E01"}, f"{API}/residents",
                 {"name": "李五", "household": "E01"}, lambda: _count(session, Resident))


def _catalog(session, village, make, clock):
    return Write(f"{API}/catalog", {"sku": "oil", "name": "食用油", "points": 50, "cost_fen": 3000},
                 f"{API}/catalog", {"sku": "rice", "name": "大米", "points": 80, "cost_fen": 5000},
                 lambda: _count(session, CatalogItem))


def _windows(session, village, make, clock):
    return Write(f"{API}/redemption-windows", {"opens_on": "2026-12-01", "closes_on": "2026-12-10"},
                 f"{API}/redemption-windows", {"opens_on": "2026-12-15", "closes_on": "2026-12-20"},
                 lambda: _count(session, RedemptionWindow), role="reviewer")


def _resident_card(session, village, make, clock):
    wang, er = village["people"]
    return Write(f"{API}/residents/{wang.id}/card", None, f"{API}/residents/{er.id}/card", None,
                 lambda: _count(session, Card))


def _household_card(session, village, make, clock):
    bank = make.bank("hh", "户户村综治银行", rules=HOUSEHOLD_RULES)
    make.household(bank, "F01", "赵家")
    make.household(bank, "F02", "钱家")
    return Write("/api/v1/banks/hh/households/F01/card", None, "/api/v1/banks/hh/households/F02/card",
                 None, lambda: _count(session, Card, Card.household_id.is_not(None)), bank=bank)


def _card_revoke(session, village, make, clock):
    wang, er = village["people"]
    return Write(f"{API}/residents/{wang.id}/card/revoke", None, f"{API}/residents/{er.id}/card/revoke",
                 None, lambda: _count(session, Card, Card.revoked_at.is_not(None)), status=200)


def _card_sheet(session, village, make, clock):
    wang, er = village["people"]
    return Write(f"{API}/card-sheets", {"residents": [wang.id]}, f"{API}/card-sheets",
                 {"residents": [er.id]}, lambda: _count(session, Card), status=200)


def _photos(session, village, make, clock):
    return Write(f"{API}/photos", jpeg(color="green"), f"{API}/photos", jpeg(color="red"),
                 lambda: _count(session, Photo), upload=True)


def _activities(session, village, make, clock):
    body = {"title": "清理河道", "rule": "cleanup", "starts_at": "2026-10-15T08:00",
            "ends_at": "2026-10-15T18:00"}
    return Write(f"{API}/activities", body, f"{API}/activities", {**body, "title": "修路"},
                 lambda: _count(session, Activity))


def _checkins(session, village, make, clock):
    activity = _activity(session, village, clock)
    first, second = village["cards"]
    path = f"{API}/activities/{activity.id}/checkins"
    return Write(path, {"card": first.token}, path, {"card": second.token},
                 lambda: _count(session, Checkin))


def _objection_filed(session, village, make, clock):
    entries, _filed = _objections(session, village, clock, n=2)
    wang = village["people"][0]
    return Write(f"{API}/objections", {"resident": wang.id, "transfer": entries[0].id, "text": "只巡逻了一小时"},
                 f"{API}/objections", {"resident": wang.id, "transfer": entries[0].id, "text": "另一条"},
                 lambda: _count(session, Objection))


def _objection_rejected(session, village, make, clock):
    _entries, filed = _objections(session, village, clock, n=2)
    return Write(f"{API}/objections/{filed[0].id}/reject", {"reason": "核实无误"},
                 f"{API}/objections/{filed[1].id}/reject", {"reason": "核实无误"},
                 lambda: _count(session, Objection, Objection.status == "rejected"), role="reviewer",
                 status=200)


def _objection_upheld(session, village, make, clock):
    _entries, filed = _objections(session, village, clock, n=2)
    return Write(f"{API}/objections/{filed[0].id}/uphold", {"correction": "reverse", "reason": "核实"},
                 f"{API}/objections/{filed[1].id}/uphold", {"correction": "reverse", "reason": "核实"},
                 lambda: _count(session, Transfer, Transfer.reverses_id.is_not(None)), role="reviewer",
                 status=200)


WRITES = {
    "households": _households, "residents": _residents, "catalog": _catalog,
    "redemption_windows": _windows, "resident_card": _resident_card,
    "household_card": _household_card, "card_revoke": _card_revoke, "card_sheet": _card_sheet,
    "photos": _photos, "activities": _activities, "checkins": _checkins,
    "objection_filed": _objection_filed, "objection_rejected": _objection_rejected,
    "objection_upheld": _objection_upheld,
}


@pytest.fixture(params=sorted(WRITES))
def write(request, session, village, make, clock) -> Write:
    return WRITES[request.param](session, village, make, clock)


def _send(client, headers, path, body, *, upload=False, key=None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    if upload:
        return client.post(path, headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body), "p.jpg")})
    if body is None:
        return client.post(path, headers=headers)
    return client.post(path, headers=headers, json=body)


def _answer(response):
    return response.get_json() if response.is_json else response.get_data()


def test_the_same_key_and_body_again_answers_the_first_answer_and_writes_nothing(
        client, make, village, write):
    headers = make.token(write.bank or village["bank"], write.role)
    before = write.rows()
    first = _send(client, headers, write.path, write.body, upload=write.upload, key="retry-1")
    assert first.status_code == write.status, _answer(first)
    assert write.rows() == before + 1
    again = _send(client, headers, write.path, write.body, upload=write.upload, key="retry-1")
    assert again.status_code == first.status_code
    assert _answer(again) == _answer(first)
    assert write.rows() == before + 1


def test_the_same_key_with_another_request_is_409_and_writes_nothing(client, make, village, write):
    headers = make.token(write.bank or village["bank"], write.role)
    _send(client, headers, write.path, write.body, upload=write.upload, key="retry-2")
    after_first = write.rows()
    refused = _send(client, headers, write.other_path, write.other_body, upload=write.upload,
                    key="retry-2")
    assert refused.status_code == 409 and refused.get_json()["error"] == "idempotency_mismatch"
    assert write.rows() == after_first


def test_another_users_request_with_the_same_key_is_a_write_of_its_own(client, make, village, write):
    bank = write.bank or village["bank"]
    mine, theirs = make.token(bank, write.role), make.token(bank, write.role)
    _send(client, mine, write.path, write.body, upload=write.upload, key="retry-3")
    after_first = write.rows()
    other = _send(client, theirs, write.other_path, write.other_body, upload=write.upload, key="retry-3")
    assert other.status_code == write.status, _answer(other)
    assert write.rows() == after_first + 1


def test_a_card_issued_again_under_its_key_keeps_its_token_live_and_revokes_nothing(
        client, make, village, session):
    wang = village["people"][0]
    headers = {**make.token(village["bank"]), "Idempotency-Key": "card-1"}
    issued = client.post(f"{API}/residents/{wang.id}/card", headers=headers).get_json()
    again = client.post(f"{API}/residents/{wang.id}/card", headers=headers).get_json()
    assert again["token"] == issued["token"] and again["url"] == issued["url"]
    session.rollback()
    assert find_card(session, issued["token"]) is not None
    assert _count(session, Card, Card.resident_id == wang.id, Card.revoked_at.is_(None)) == 1
    # The card's secret is not what the key's record keeps.
    from ledger.models import IdempotencyRecord

    kept = session.execute(select(IdempotencyRecord.outcome)).scalars().all()
    assert kept and not any(issued["token"] in outcome for outcome in kept)


def _multipart(boundary: str, data: bytes) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()


def test_a_photo_retried_with_a_new_multipart_boundary_is_the_same_request(client, make, village, session):
    headers = {**make.token(village["bank"]), "Idempotency-Key": "photo-1"}
    data = jpeg()
    first, again = (client.post(f"{API}/photos", headers=headers, data=_multipart(b, data),
                                content_type=f"multipart/form-data; boundary={b}")
                    for b in ("aaaa1111", "bbbb2222"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert _count(session, Photo) == 1


@pytest.mark.parametrize("read", ["transfers", "photo"])
def test_the_desk_reads_a_residents_transfers_and_the_banks_photos(client, make, village, read):
    wang = village["people"][0]
    desk = make.token(village["bank"], "desk")
    if read == "transfers":
        make.deed(village["bank"], "cleanup", [wang])
        answer = client.get(f"{API}/residents/{wang.id}/transfers", headers=desk)
        assert answer.status_code == 200 and answer.get_json()["items"][0]["resident"] == wang.id
    else:
        photo = client.post(f"{API}/photos", headers=make.token(village["bank"]), content_type="multipart/form-data",
                            data={"file": (io.BytesIO(jpeg()), "p.jpg")}).get_json()["id"]
        answer = client.get(f"{API}/photos/{photo}", headers=desk)
        assert answer.status_code == 200 and answer.mimetype == "image/jpeg"


def test_a_household_and_a_resident_made_over_the_api_are_in_the_audit_log_by_their_maker(
        client, make, village, session):
    from ground.audit import AuditEntry

    headers = {**make.token(village["bank"], "clerk"), "Idempotency-Key": "audit-1"}
    home = client.post(f"{API}/households", json={"code": "W09", "name": "吴家"}, headers=headers)
    person = client.post(f"{API}/residents", json={"name": "吴一", "household": "W09"},
                         headers={**headers, "Idempotency-Key": "audit-2"})
    assert (home.status_code, person.status_code) == (201, 201)
    client.post(f"{API}/residents", json={"name": "吴一", "household": "W09"},
                headers={**headers, "Idempotency-Key": "audit-2"})  # a retry: nothing more noted
    session.rollback()
    noted = session.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.actor)
                            .where(AuditEntry.action.in_(["household_create", "resident_create"]))
                            .order_by(AuditEntry.id)).all()
    clerk = noted[0].actor
    assert clerk.startswith("clerk") and [tuple(n) for n in noted] == [
        ("household_create", f"household:{home.get_json()['id']}", clerk),
        ("resident_create", f"resident:{person.get_json()['id']}", clerk)]
