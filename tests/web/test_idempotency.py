"""Idempotency keys belong to the user who sent them, and a write without a body can carry one."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.models import IdempotencyRecord, Transfer


@pytest.fixture
def village(make):
    bank = make.bank()
    wang = make.resident(bank, "王大")
    return {"bank": bank, "wang": wang, "clerk": make.token(bank, "clerk")}


def _count(session, model) -> int:
    session.rollback()  # see what the requests committed
    return session.execute(select(func.count()).select_from(model)).scalar()


def _deed(client, village, headers, rule="cleanup"):
    return client.post("/api/v1/banks/hp/deeds", headers=headers, json={
        "rule": rule, "residents": [village["wang"].id], "occurred_on": "2026-10-14"})


def test_another_users_request_with_the_same_key_is_a_request_of_its_own(client, village, make, session):
    other_clerk = make.token(village["bank"], "clerk")
    first = _deed(client, village, {**village["clerk"], "Idempotency-Key": "k-1"})
    theirs = _deed(client, village, {**other_clerk, "Idempotency-Key": "k-1"})
    assert first.status_code == theirs.status_code == 201
    assert theirs.get_json()["transfers"][0]["id"] != first.get_json()["transfers"][0]["id"]
    assert _count(session, Transfer) == 2
    # Each user's retry still finds their own first answer, and writes nothing.
    again = _deed(client, village, {**other_clerk, "Idempotency-Key": "k-1"})
    assert again.get_json() == theirs.get_json()
    assert _deed(client, village, {**village["clerk"], "Idempotency-Key": "k-1"}).get_json() == first.get_json()
    assert _count(session, Transfer) == 2 and _count(session, IdempotencyRecord) == 2


def test_another_users_different_request_with_the_same_key_is_not_a_mismatch(client, village, make, session):
    reviewer = make.token(village["bank"], "reviewer")
    _deed(client, village, {**village["clerk"], "Idempotency-Key": "k-2"})
    theirs = _deed(client, village, {**reviewer, "Idempotency-Key": "k-2"}, rule="patrol")
    assert theirs.status_code == 201 and theirs.get_json()["transfers"][0]["rule"] == "patrol"


def test_approving_with_a_key_and_no_body_posts_once_and_a_retry_replays_it(client, village, make, session):
    reviewer = make.token(village["bank"], "reviewer")
    [pending] = _deed(client, village, village["clerk"], rule="mediation").get_json()["pending"]
    url = f"/api/v1/banks/hp/pending/{pending['id']}/approve"
    headers = {**reviewer, "Idempotency-Key": "approve-1"}
    approved = client.post(url, headers=headers)
    assert approved.status_code == 201, approved.get_json()
    retried = client.post(url, headers=headers)
    assert retried.status_code == 201 and retried.get_json() == approved.get_json()
    # An empty JSON object is the same request as no body at all.
    assert client.post(url, headers=headers, json={}).get_json() == approved.get_json()
    assert _count(session, Transfer) == 1


def test_a_key_with_a_body_that_is_not_json_is_still_refused(client, village):
    answer = client.post("/api/v1/banks/hp/deeds", data="{not json",
                         headers={**village["clerk"], "Idempotency-Key": "k-3",
                                  "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["error"] == "malformed_json"
