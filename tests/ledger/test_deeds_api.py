"""Deeds over HTTP: posting, caps, review, reversal, idempotency, and every bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.models import PendingDeed, Transfer

from ..conftest import HOUSEHOLD_RULES


@pytest.fixture
def village(make):
    """A bank with a clerk and four residents in two households."""
    bank = make.bank()
    east, west = make.household(bank, "E01", "王家"), make.household(bank, "W01", "李家")
    people = [make.resident(bank, n, h) for n, h in
              (("王大", east), ("王二", east), ("李一", west), ("李二", west))]
    return {"bank": bank, "people": people, "clerk": make.token(bank, "clerk")}


def _transfers(session):
    session.rollback()  # end the last read, so the count sees what the requests committed since
    return session.execute(select(func.count()).select_from(Transfer)).scalar()


def _deed(client, village, headers=None, **body):
    body = {"rule": "cleanup", "residents": [village["people"][0].id],
            "occurred_on": "2026-10-14", **body}
    return client.post("/api/v1/banks/hp/deeds", json=body, headers=headers or village["clerk"])


def test_a_team_deed_posts_one_transfer_per_resident(client, village, session):
    ids = [p.id for p in village["people"]]
    answer = _deed(client, village, rule="patrol", residents=ids, quantity=3, memo="夜巡 东片")
    assert answer.status_code == 201, answer.get_json()
    transfers = answer.get_json()["transfers"]
    assert [t["resident"] for t in transfers] == ids
    assert {t["amount"] for t in transfers} == {6}
    assert {t["rule"] for t in transfers} == {"patrol"} and {t["rule_version"] for t in transfers} == {1}
    assert [t["seq"] for t in transfers] == [1, 2, 3, 4]
    assert transfers[0]["account"] == f"resident:{ids[0]}" and transfers[0]["points"] == 6
    account = client.get(f"/api/v1/banks/hp/residents/{ids[0]}/account", headers=village["clerk"])
    assert account.get_json()["balance"] == 6
    assert account.get_json()["earned_this_month"] == 6


def test_a_penalty_rule_takes_points_and_cannot_be_turned_into_a_credit(client, village):
    zhang = village["people"][0].id
    answer = _deed(client, village, rule="litter", residents=[zhang])
    assert answer.status_code == 201
    [t] = answer.get_json()["transfers"]
    assert (t["kind"], t["points"], t["amount"], t["credit"]) == ("penalty", -5, 5, "penalties")
    refused = _deed(client, village, rule="litter", residents=[zhang], quantity=-1)
    assert refused.status_code == 422 and "quantity" in refused.get_json()["fields"]
    balance = client.get(f"/api/v1/banks/hp/residents/{zhang}/account", headers=village["clerk"])
    assert balance.get_json()["balance"] == -5
    assert balance.get_json()["penalties_this_month"] == 5


def test_a_cap_refuses_the_whole_team_and_says_what_is_left(client, village, session):
    first, second = village["people"][0].id, village["people"][1].id
    assert _deed(client, village, rule="patrol", residents=[first], quantity=3).status_code == 201
    answer = _deed(client, village, rule="patrol", residents=[second, first], quantity=2)
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["error"] == "cap_exceeded"
    assert body["message"] == "王大「夜间巡逻」当天上限 8 分，还可得 2 分，本次 4 分超出上限"
    assert body["fields"] == {"residents": [f"{first}：当天还可得 2 分"]}
    assert _transfers(session) == 1
    english = client.post("/api/v1/banks/hp/deeds", headers={**village["clerk"], "Accept-Language": "en"},
                          json={"rule": "patrol", "residents": [first], "quantity": 2,
                                "occurred_on": "2026-10-14"})
    assert english.get_json()["message"] == ("王大: 'patrol' is capped at 8 points per day; 2 remaining, "
                                             "this deed is worth 4")
    assert english.get_json()["fields"] == {"residents": [f"{first}: 2 remaining (day)"]}


def test_reversed_points_no_longer_count_against_the_cap(client, village):
    first = village["people"][0].id
    posted = _deed(client, village, rule="patrol", residents=[first], quantity=4).get_json()
    assert _deed(client, village, rule="patrol", residents=[first], quantity=1).status_code == 409
    tid = posted["transfers"][0]["id"]
    assert client.post(f"/api/v1/banks/hp/transfers/{tid}/reverse", json={"reason": "登记错了人"},
                       headers=village["clerk"]).status_code == 201
    assert _deed(client, village, rule="patrol", residents=[first], quantity=4).status_code == 201


def test_a_deed_needing_review_waits_then_posts_on_approval(client, village, make, session):
    reviewer = make.token(village["bank"], "reviewer")
    first = village["people"][0].id
    answer = _deed(client, village, rule="mediation", residents=[first])
    assert answer.status_code == 202
    [pending] = answer.get_json()["pending"]
    assert _transfers(session) == 0
    assert client.get(f"/api/v1/banks/hp/residents/{first}/account",
                      headers=village["clerk"]).get_json()["balance"] == 0
    listed = client.get("/api/v1/banks/hp/pending", headers=reviewer).get_json()
    assert [p["id"] for p in listed["items"]] == [pending["id"]]
    clerk_try = client.post(f"/api/v1/banks/hp/pending/{pending['id']}/approve", headers=village["clerk"])
    assert clerk_try.status_code == 403
    approved = client.post(f"/api/v1/banks/hp/pending/{pending['id']}/approve", headers=reviewer)
    assert approved.status_code == 201
    assert approved.get_json()["transfers"][0]["amount"] == 10
    again = client.post(f"/api/v1/banks/hp/pending/{pending['id']}/approve", headers=reviewer)
    assert again.status_code == 409 and _transfers(session) == 1
    assert client.get("/api/v1/banks/hp/pending", headers=reviewer).get_json()["items"] == []


def test_an_approval_sent_a_body_it_does_not_read_is_refused_and_posts_nothing(client, village, make, session):
    reviewer = make.token(village["bank"], "reviewer")
    pid = _deed(client, village, rule="mediation").get_json()["pending"][0]["id"]
    path = f"/api/v1/banks/hp/pending/{pid}/approve"
    for raw, status, code in (("{", 400, "malformed_json"), ("[1]", 422, "validation_error"),
                              ('{"points": 1000}', 422, "validation_error")):
        answer = client.post(path, data=raw, content_type="application/json", headers=reviewer)
        assert (answer.status_code, answer.get_json()["error"]) == (status, code), raw
    assert "points" in answer.get_json()["fields"]
    assert _transfers(session) == 0
    # Nothing, or an empty object, is an approval.
    assert client.post(path, json={}, headers=reviewer).status_code == 201
    assert _transfers(session) == 1


def test_a_rejected_deed_needs_a_reason_and_posts_nothing(client, village, make, session):
    reviewer = make.token(village["bank"], "reviewer")
    pid = _deed(client, village, rule="mediation").get_json()["pending"][0]["id"]
    assert client.post(f"/api/v1/banks/hp/pending/{pid}/reject", json={},
                       headers=reviewer).status_code == 422
    rejected = client.post(f"/api/v1/banks/hp/pending/{pid}/reject", json={"reason": "证据不足"},
                           headers=reviewer)
    assert rejected.status_code == 200
    assert rejected.get_json()["status"] == "rejected" and rejected.get_json()["reason"] == "证据不足"
    assert _transfers(session) == 0


def test_pending_deeds_hold_their_cap_allowance(client, village):
    first = village["people"][0].id
    for _ in range(3):
        assert _deed(client, village, rule="mediation", residents=[first]).status_code == 202
    answer = _deed(client, village, rule="mediation", residents=[first])
    assert answer.status_code == 409 and answer.get_json()["error"] == "cap_exceeded"


def test_reversal_names_the_original_and_cannot_happen_twice(client, village, session):
    tid = _deed(client, village).get_json()["transfers"][0]["id"]
    url = f"/api/v1/banks/hp/transfers/{tid}/reverse"
    assert client.post(url, json={}, headers=village["clerk"]).status_code == 422
    first = client.post(url, json={"reason": "重复登记"}, headers=village["clerk"])
    assert first.status_code == 201
    reversal = first.get_json()["transfer"]
    assert (reversal["reverses"], reversal["kind"], reversal["memo"]) == (tid, "reversal", "重复登记")
    assert reversal["points"] == -3
    second = client.post(url, json={"reason": "再来一次"}, headers=village["clerk"])
    assert second.status_code == 409 and second.get_json()["error"] == "already_reversed"
    assert client.post(f"/api/v1/banks/hp/transfers/{reversal['id']}/reverse", json={"reason": "x"},
                       headers=village["clerk"]).status_code == 409
    assert _transfers(session) == 2


def test_the_same_idempotency_key_returns_the_first_answer_and_writes_nothing(client, village, session):
    headers = {**village["clerk"], "Idempotency-Key": "form-7f3a"}
    first = _deed(client, village, headers=headers, memo="一次")
    second = _deed(client, village, headers=headers, memo="一次")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert _transfers(session) == 1
    other = _deed(client, village, headers=headers, memo="另一件事")
    assert other.status_code == 409 and other.get_json()["error"] == "idempotency_mismatch"
    assert _transfers(session) == 1


@pytest.mark.parametrize("rules, rule, status", [
    (None, "cleanup", 201), (None, "litter", 201), (HOUSEHOLD_RULES, "cleanup", 201),
    (HOUSEHOLD_RULES, "litter", 201), (None, "mediation", 202)])
def test_a_deeds_first_answer_is_what_its_replay_and_a_later_read_answer(client, make, rules, rule,
                                                                       status):
    """The first answer is built from what the posting knew (account codes, attachments); a
    replay and a read ask the database, for accounts opened by this very deed as well."""
    bank = make.bank(rules=rules) if rules else make.bank()
    home = make.household(bank, "E01", "王家")
    team = [make.resident(bank, n, home).id for n in ("王大", "王二")]
    headers = {**make.token(bank), "Idempotency-Key": f"first-{rule}"}
    body = {"rule": rule, "residents": team, "occurred_on": "2026-10-14"}
    first = client.post("/api/v1/banks/hp/deeds", json=body, headers=headers)
    again = client.post("/api/v1/banks/hp/deeds", json=body, headers=headers)
    assert first.status_code == again.status_code == status, first.get_json()
    assert first.get_json() == again.get_json()
    if status == 201:
        transfers = first.get_json()["transfers"]
        assert {t["debit" if rule == "litter" else "credit"] for t in transfers} == (
            {f"household:{home.id}"} if rules else {f"resident:{r}" for r in team})
        read = [client.get(f"/api/v1/banks/hp/transfers/{t['id']}", headers=headers).get_json()
                for t in transfers]
        assert read == transfers
    else:
        queue = client.get("/api/v1/banks/hp/pending", headers=headers).get_json()["items"]
        assert queue == first.get_json()["pending"]


def test_idempotent_reversal_returns_the_same_reversal(client, village, session):
    tid = _deed(client, village).get_json()["transfers"][0]["id"]
    headers = {**village["clerk"], "Idempotency-Key": "rev-1"}
    url = f"/api/v1/banks/hp/transfers/{tid}/reverse"
    one = client.post(url, json={"reason": "错"}, headers=headers)
    two = client.post(url, json={"reason": "错"}, headers=headers)
    assert one.status_code == two.status_code == 201
    assert one.get_json()["transfer"]["id"] == two.get_json()["transfer"]["id"]
    assert _transfers(session) == 2


def test_household_banks_credit_the_household_but_record_the_doer(client, make, session):
    bank = make.bank("hh", rules=HOUSEHOLD_RULES)
    home = make.household(bank, "A1", "赵家")
    father, son = make.resident(bank, "赵大", home), make.resident(bank, "赵小", home)
    clerk = make.token(bank)
    answer = client.post("/api/v1/banks/hh/deeds", headers=clerk, json={
        "rule": "cleanup", "residents": [father.id, son.id], "occurred_on": "2026-10-15"})
    assert answer.status_code == 201
    transfers = answer.get_json()["transfers"]
    assert {t["account"] for t in transfers} == {f"household:{home.id}"}
    assert [t["resident"] for t in transfers] == [father.id, son.id]
    account = client.get(f"/api/v1/banks/hh/residents/{son.id}/account", headers=clerk).get_json()
    assert account["balance"] == account["household_balance"] == 6
    assert account["earned_this_month"] == 3


BAD_DEEDS = [
    ({"rule": "no_such_rule"}, 422, "rule"),
    ({"residents": [999999]}, 422, "residents"),
    ({"residents": []}, 422, "residents"),
    ({"residents": "1"}, 422, "residents"),
    ({"occurred_on": "2026-10-16"}, 422, "occurred_on"),
    ({"occurred_on": "2026-13-01"}, 422, "occurred_on"),
    ({"occurred_on": "yesterday"}, 422, "occurred_on"),
    ({"quantity": 0}, 422, "quantity"),
    ({"quantity": -2}, 422, "quantity"),
    ({"quantity": 1.5}, 422, "quantity"),
    ({"quantity": "2"}, 422, "quantity"),
    ({"quantity": True}, 422, "quantity"),
    ({"memo": "长" * 1_000_000}, 422, "memo"),
    ({"surprise": 1}, 422, "surprise"),
    ({"rule": None}, 422, "rule"),
]


@pytest.mark.parametrize("change, status, field", BAD_DEEDS,
                         ids=[next(iter(c)) + "=" + repr(c[next(iter(c))])[:12] for c, *_ in BAD_DEEDS])
def test_a_bad_deed_is_refused_with_the_field_and_writes_nothing(client, village, session, change,
                                                                 status, field):
    answer = _deed(client, village, **change)
    assert answer.status_code == status
    body = answer.get_json()
    assert body["error"] == "validation_error"
    assert field in body["fields"]
    assert body["message"]
    assert _transfers(session) == 0


@pytest.mark.parametrize("missing", ["rule", "residents", "occurred_on"])
def test_a_deed_missing_a_required_field_names_it(client, village, session, missing):
    body = {"rule": "cleanup", "residents": [village["people"][0].id], "occurred_on": "2026-10-14"}
    del body[missing]
    answer = client.post("/api/v1/banks/hp/deeds", json=body, headers=village["clerk"])
    assert answer.status_code == 422
    assert answer.get_json()["fields"][missing] == ["缺少必填字段"]
    assert _transfers(session) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_a_malformed_body_is_a_clear_4xx(client, village, session, raw):
    answer = client.post("/api/v1/banks/hp/deeds", data=raw, content_type="application/json",
                         headers=village["clerk"])
    assert 400 <= answer.status_code < 500
    assert set(answer.get_json()) == {"error", "message", "fields"}
    assert _transfers(session) == 0


def test_an_inactive_resident_cannot_receive_a_deed(client, village, session):
    zhang = village["people"][0]
    zhang.active = False
    session.add(zhang)
    session.commit()
    answer = _deed(client, village, residents=[village["people"][1].id, zhang.id])
    assert answer.status_code == 422 and "residents" in answer.get_json()["fields"]
    assert _transfers(session) == 0


def test_a_resident_of_another_bank_is_unknown_here(client, village, make, session):
    other = make.bank("xz", "新庄村综治银行")
    stranger = make.resident(other, "外人")
    answer = _deed(client, village, residents=[village["people"][0].id, stranger.id])
    assert answer.status_code == 422
    assert str(stranger.id) in answer.get_json()["fields"]["residents"][0]
    assert client.get(f"/api/v1/banks/hp/residents/{stranger.id}/account",
                      headers=village["clerk"]).status_code == 404
    assert _transfers(session) == 0


@pytest.mark.parametrize("method, path", [
    ("post", "/api/v1/banks/xz/deeds"),
    ("get", "/api/v1/banks/xz/residents"),
    ("get", "/api/v1/banks/xz/verify"),
    ("get", "/api/v1/banks/xz/rules"),
    ("get", "/api/v1/banks/nowhere/rules"),
])
def test_another_banks_paths_answer_404_never_403(client, village, make, method, path):
    make.bank("xz", "新庄村综治银行")
    answer = getattr(client, method)(path, json={}, headers=village["clerk"])
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "not_found"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}])
def test_no_or_bad_token_is_401(client, village, headers):
    answer = client.get("/api/v1/banks/hp/rules", headers=headers)
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("role, status", [("supervisor", 403), ("desk", 403), ("reviewer", 201),
                                          ("clerk", 201)])
def test_who_may_post_a_deed(client, village, make, role, status):
    assert _deed(client, village, headers=make.token(village["bank"], role)).status_code == status


def test_a_county_admin_may_act_in_every_bank(client, village, make):
    admin = make.token(None, "admin")
    assert _deed(client, village, headers=admin).status_code == 201


def test_rules_in_force_are_listed_with_caps_and_version(client, village):
    answer = client.get("/api/v1/banks/hp/rules", headers=village["clerk"])
    body = answer.get_json()
    assert answer.status_code == 200 and body["version"] == 1
    patrol = next(r for r in body["rules"] if r["code"] == "patrol")
    assert patrol["caps"] == {"day": 8, "month": 60}
    assert (patrol["name"], patrol["category"], patrol["unit"], patrol["points"]) == ("夜间巡逻", "社会治安", "小时", 2)
    assert next(r for r in body["rules"] if r["code"] == "mediation")["review"] is True


def test_transfers_page_newest_first_with_a_cursor(client, village):
    zhang = village["people"][0].id
    for _ in range(5):
        _deed(client, village, residents=[zhang])
    url = f"/api/v1/banks/hp/residents/{zhang}/transfers"
    first = client.get(url + "?limit=2", headers=village["clerk"]).get_json()
    assert [t["seq"] for t in first["items"]] == [5, 4]
    second = client.get(f"{url}?limit=2&cursor={first['next_cursor']}", headers=village["clerk"]).get_json()
    third = client.get(f"{url}?limit=2&cursor={second['next_cursor']}", headers=village["clerk"]).get_json()
    assert [t["seq"] for t in second["items"]] == [3, 2]
    assert [t["seq"] for t in third["items"]] == [1] and third["next_cursor"] is None
    assert client.get(url + "?limit=501", headers=village["clerk"]).status_code == 422
    assert client.get(url + "?cursor=%%%", headers=village["clerk"]).status_code == 422


def test_households_and_residents_are_created_and_found_by_pinyin(client, village):
    clerk = village["clerk"]
    assert client.post("/api/v1/banks/hp/households", json={"code": "N09", "name": "曾家"},
                       headers=clerk).status_code == 201
    assert client.post("/api/v1/banks/hp/households", json={"code": "N09"},
                       headers=clerk).status_code == 409
    made = client.post("/api/v1/banks/hp/residents", headers=clerk,
                       json={"name": "张小明", "household": "N09", "phone": "13800138000"})
    assert made.status_code == 201
    assert made.get_json()["household"] == "N09" and made.get_json()["name"] == "张小明"
    for q in ("张小明", "zhangxiaoming", "zxm", "xiaoming"):
        found = client.get(f"/api/v1/banks/hp/residents?q={q}", headers=clerk).get_json()["items"]
        assert [r["name"] for r in found] == ["张小明"], q
    bad = client.post("/api/v1/banks/hp/residents", json={"name": "无户", "household": "ZZZ"}, headers=clerk)
    assert bad.status_code == 422 and "household" in bad.get_json()["fields"]


def test_a_residents_phone_is_whole_to_those_who_may_edit_and_masked_to_the_desk_and_supervisor(
        client, make, village):
    made = client.post("/api/v1/banks/hp/residents", headers=village["clerk"],
                       json={"name": "张小明", "household": "E01", "phone": "13800138000"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["phone"] == "13800138000"
    path = f"/api/v1/banks/hp/residents/{made.get_json()['id']}"
    for role, phone in (("reviewer", "13800138000"), ("admin", "13800138000"),
                        ("desk", "138****8000"), ("supervisor", "138****8000")):
        headers = make.token(village["bank"], role)
        assert client.get(path, headers=headers).get_json()["phone"] == phone, role
        listed = client.get("/api/v1/banks/hp/residents?q=zxm", headers=headers).get_json()["items"]
        assert [r["phone"] for r in listed] == [phone], role


def test_health_needs_no_token_and_openapi_describes_the_api(client):
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path in ("/api/v1/banks/{bank}/deeds", "/api/v1/banks/{bank}/residents",
                 "/api/v1/banks/{bank}/transfers/{transfer_id}/reverse",
                 "/api/v1/banks/{bank}/residents/{resident_id}/account", "/api/v1/banks/{bank}/verify",
                 "/api/v1/banks/{bank}/rules", "/api/v1/banks/{bank}/pending", "/api/v1/health"):
        assert path in paths, path
    assert "DeedIn" in doc["components"]["schemas"]
    assert "202" in paths["/api/v1/banks/{bank}/deeds"]["post"]["responses"]


def test_pending_rows_are_untouched_by_a_refused_batch(client, village, session):
    others = [p.id for p in village["people"]] + [424242]
    answer = _deed(client, village, rule="mediation", residents=others)
    assert answer.status_code == 422
    assert session.execute(select(func.count()).select_from(PendingDeed)).scalar() == 0
