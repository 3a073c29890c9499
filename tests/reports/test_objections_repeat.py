"""An objection is filed once: the same one again is the one still open, from a card, the office
or the API; a card's day has a limit, the office's none."""
from datetime import date

import pytest

from reports import objections
from reports.models import Objection

from .helpers import at, deed


@pytest.fixture
def entry(session, make, clock):
    bank = make.bank()
    wang = make.resident(bank, name="王五")
    [done] = deed(session, bank, "patrol", [wang], date(2026, 10, 5), clock, quantity=3).transfers
    return bank, wang, done


def _file(session, bank, wang, entry, text, **more):
    return objections.file_objection_once(session, bank, resident_id=wang.id, transfer_id=entry.id,
                                          month=None, text=text, filed_by=more.pop("by", "clerk"),
                                          clock=more.pop("clock", at(2026, 10, 14)), **more)


def test_the_same_text_against_the_same_open_entry_is_the_objection_already_filed(session, entry):
    bank, wang, done = entry
    first = _file(session, bank, wang, done, "只巡逻了两小时")
    again = _file(session, bank, wang, done, "  只巡逻了两小时\n")
    assert first.new and not again.new and again.objection.id == first.objection.id
    other = _file(session, bank, wang, done, "只巡逻了一小时")
    assert other.new and session.query(Objection).count() == 2


def test_a_card_past_its_day_is_refused_with_429_and_writes_nothing(session, entry):
    bank, wang, done = entry
    for n in range(objections.OBJECTIONS_PER_DAY):
        _file(session, bank, wang, done, f"第 {n} 条", by="card:AAAA-BBBB", per_day=objections.OBJECTIONS_PER_DAY)
    with pytest.raises(objections.TooManyObjections) as refused:
        _file(session, bank, wang, done, "再来一条", by="card:AAAA-BBBB", per_day=objections.OBJECTIONS_PER_DAY)
    assert refused.value.status == 429 and refused.value.code == "too_many_objections"
    assert session.query(Objection).count() == objections.OBJECTIONS_PER_DAY
    # Another card, or the office, is not counted with this one.
    assert _file(session, bank, wang, done, "再来一条", by="card:CCCC-DDDD", per_day=5).new
    assert _file(session, bank, wang, done, "办公室代填", by="clerk").new


def test_the_api_answers_the_same_objection_twice_with_one_id_and_keys_still_replay(
        session, entry, make, client):
    bank, wang, done = entry
    clerk = make.token(bank, "clerk")
    body = {"resident": wang.id, "transfer": done.id, "text": "时长记错了"}
    first = client.post("/api/v1/banks/hp/objections", headers=clerk, json=body)
    second = client.post("/api/v1/banks/hp/objections", headers=clerk, json={**body, "text": " 时长记错了 "})
    assert first.status_code == 201 and second.get_json()["id"] == first.get_json()["id"]
    keyed = {**clerk, "Idempotency-Key": "k1"}
    replayed = [client.post("/api/v1/banks/hp/objections", headers=keyed, json={**body, "text": "另一条"})
                for _twice in range(2)]
    assert [r.status_code for r in replayed] == [201, 201]
    assert replayed[0].get_json()["id"] == replayed[1].get_json()["id"] != first.get_json()["id"]
    mismatch = client.post("/api/v1/banks/hp/objections", headers=keyed, json={**body, "text": "第三条"})
    assert mismatch.status_code == 409 and mismatch.get_json()["error"] == "idempotency_mismatch"
    session.rollback()
    assert session.query(Objection).count() == 2


@pytest.mark.parametrize("text, said", [
    ("   ", "请填写异议内容"),
    ("错" * 501, "最多 500 个字，您写了 501 个字"),
])
def test_the_service_says_which_is_wrong_empty_or_too_long(session, entry, text, said):
    from ground.errors import ValidationError
    from ground.i18n import render

    bank, wang, done = entry
    with pytest.raises(ValidationError) as refused:
        _file(session, bank, wang, done, text)
    assert render(refused.value.fields) == {"text": [said]}
