"""Deeds sent in batches: each stands alone, as if posted with its own key, and a resent batch writes nothing."""
from __future__ import annotations

from sqlalchemy import func, select

from ledger.models import Transfer


def _count(session):
    session.rollback()
    return session.execute(select(func.count()).select_from(Transfer)).scalar()


def _deed(village, key, **body):
    return {"key": key, "rule": "cleanup", "residents": [village["people"][0].id],
            "occurred_on": "2026-10-14", **body}


def test_a_bad_deed_in_a_batch_gets_its_own_error_and_the_others_post(client, village, session):
    batch = {"deeds": [_deed(village, "a"), _deed(village, "b", rule="nosuch"),
                       _deed(village, "c", rule="mediation")]}
    answer = client.post("/api/v1/banks/hp/deeds/batch", json=batch, headers=village["clerk"])
    assert answer.status_code == 200
    results = answer.get_json()["results"]
    assert [(r["key"], r["status"]) for r in results] == [("a", 201), ("b", 422), ("c", 202)]
    assert "rule" in results[1]["body"]["fields"]
    assert _count(session) == 1


def test_a_resent_batch_answers_the_same_and_writes_nothing_new(client, village, session):
    batch = {"deeds": [_deed(village, f"k{i}") for i in range(3)]}
    first = client.post("/api/v1/banks/hp/deeds/batch", json=batch, headers=village["clerk"]).get_json()
    again = client.post("/api/v1/banks/hp/deeds/batch", json=batch, headers=village["clerk"]).get_json()
    assert again == first and _count(session) == 3


def test_a_batch_deed_and_a_single_post_with_the_same_key_are_one_deed(client, village, session):
    client.post("/api/v1/banks/hp/deeds/batch", json={"deeds": [_deed(village, "same")]},
                headers=village["clerk"])
    body = {k: v for k, v in _deed(village, "same").items() if k != "key"}
    single = client.post("/api/v1/banks/hp/deeds", json=body,
                         headers={**village["clerk"], "Idempotency-Key": "same"})
    assert single.status_code == 201 and _count(session) == 1


def test_a_key_reused_with_another_deed_answers_409_for_that_deed_alone(client, village, session):
    client.post("/api/v1/banks/hp/deeds/batch", json={"deeds": [_deed(village, "x")]}, headers=village["clerk"])
    answer = client.post("/api/v1/banks/hp/deeds/batch", headers=village["clerk"],
                         json={"deeds": [_deed(village, "x", quantity=2), _deed(village, "y")]}).get_json()
    assert [(r["status"], r["body"].get("error")) for r in answer["results"]] == [
        (409, "idempotency_mismatch"), (201, None)]


def test_a_batch_may_name_residents_by_the_cards_a_phone_scanned(client, village, session):
    card = village["cards"][1]
    deed = {k: v for k, v in _deed(village, "scan").items() if k != "residents"}
    answer = client.post("/api/v1/banks/hp/deeds/batch", headers=village["clerk"],
                         json={"deeds": [{**deed, "cards": [f"http://x/c/{card.token}"]},
                                         {**deed, "key": "num", "cards": [card.card.number]}]})
    results = answer.get_json()["results"]
    assert [r["status"] for r in results] == [201, 201]
    assert results[0]["body"]["transfers"][0]["resident"] == village["people"][1].id


def test_a_batch_over_200_deeds_or_without_keys_is_refused(client, village, session):
    too_many = {"deeds": [_deed(village, str(i)) for i in range(201)]}
    answer = client.post("/api/v1/banks/hp/deeds/batch", json=too_many, headers=village["clerk"])
    assert answer.status_code == 422 and "deeds" in answer.get_json()["fields"]
    not_objects = client.post("/api/v1/banks/hp/deeds/batch", json={"deeds": ["text"]},
                              headers=village["clerk"])
    assert not_objects.status_code == 422
    keyless = {"deeds": [{k: v for k, v in _deed(village, "a").items() if k != "key"},
                         _deed(village, "\u0000")]}
    results = client.post("/api/v1/banks/hp/deeds/batch", json=keyless,
                          headers=village["clerk"]).get_json()["results"]
    assert [(r["status"], list(r["body"]["fields"])) for r in results] == [(422, ["key"]), (422, ["key"])]
    assert _count(session) == 0


def test_a_batch_of_another_banks_is_404_and_a_desk_may_not_send_one(client, village, make):
    assert client.post("/api/v1/banks/nosuch/deeds/batch", json={"deeds": []},
                       headers=village["clerk"]).status_code == 404
    assert client.post("/api/v1/banks/hp/deeds/batch", json={"deeds": [_deed(village, "a")]},
                       headers=make.token(village["bank"], "desk")).status_code == 403


def test_a_key_that_is_not_text_is_refused_and_not_echoed_while_the_others_post(client, village, session):
    raw = ('{"deeds": [{"key": "ok-1", "rule": "cleanup", "residents": [%d], "occurred_on": "2026-10-14"},'
           ' {"key": "\\ud800", "rule": "cleanup", "residents": [%d], "occurred_on": "2026-10-14"}]}'
           % (village["people"][0].id, village["people"][0].id))
    answer = client.post("/api/v1/banks/hp/deeds/batch", data=raw, content_type="application/json",
                         headers=village["clerk"])
    assert answer.status_code == 200
    results = answer.get_json()["results"]
    assert [(r["key"], r["status"]) for r in results] == [("ok-1", 201), (None, 422)]
    assert list(results[1]["body"]["fields"]) == ["key"]
    assert _count(session) == 1


def test_a_bad_card_in_a_batch_deed_is_named_by_its_place_and_its_fault(client, village, session):
    deeds = [_deed(village, "long", cards=["A" * 100_000]), _deed(village, "nul", cards=["ok", "a\u0000b"]),
             _deed(village, "none", cards=[])]
    for deed in deeds:
        del deed["residents"]
    results = client.post("/api/v1/banks/hp/deeds/batch", json={"deeds": deeds}, headers=village["clerk"],
                          ).get_json()["results"]
    assert [r["status"] for r in results] == [422, 422, 422]
    said = [r["body"]["fields"]["cards"] for r in results]
    assert said[0] == ["第 1 张卡：长度不能超过 300"]
    assert said[1] == ["第 2 张卡：不能含控制字符或不成对的代理字符"]
    assert said[2] == ["须为 1 到 200 张卡"]
    assert _count(session) == 0
