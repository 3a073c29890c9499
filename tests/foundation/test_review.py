"""Review and the council's decision: recusal, hidden scores, bad scores, quorum, award limits."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from foundation.models import Application, Decision, Score

from .conftest import API, application, decision, score_all, station, to_review


@pytest.fixture
def in_review(client, district):
    """An application from a station whose member 王大明 shares a household with reviewer 0's
    resident (赵小红, his wife); sent to review."""
    client.put(f"{API}/reviewers/{district.reviewers[0][0].id}/resident", headers=district.clerk,
               json={"resident": district.wang_wife.id})
    app_id = application(client, district, station(client, district, members=[district.wang.id]))["id"]
    to_review(client, district, app_id)
    return app_id


def _scores(criteria_marks):
    return {"scores": [{"criterion": c, "score": s, "comment": "意见"} for c, s in criteria_marks]}


GOOD = _scores([("need", 4), ("feasibility", 3), ("participation", 5)])


def test_a_reviewer_in_a_members_household_is_recused_and_cannot_score(client, district, in_review, session):
    review = client.get(f"{API}/applications/{in_review}/review", headers=district.clerk).get_json()
    assert [(s["name"], s["recused"]) for s in review["panel"]] == [
        ("lishi0", "household"), ("lishi1", None), ("lishi2", None)]
    answer = client.post(f"{API}/applications/{in_review}/scores", headers=district.reviewers[0][1], json=GOOD)
    assert answer.status_code == 409 and answer.get_json()["error"] == "recused"
    assert "同户" in answer.get_json()["message"]
    assert session.execute(select(func.count()).select_from(Score)).scalar() == 0


def test_a_reviewer_who_is_a_member_is_recused(client, district):
    client.put(f"{API}/reviewers/{district.reviewers[1][0].id}/resident", headers=district.clerk,
               json={"resident": district.li.id})
    app_id = application(client, district, station(client, district, members=[district.li.id]))["id"]
    to_review(client, district, app_id)
    panel = client.get(f"{API}/applications/{app_id}/review", headers=district.clerk).get_json()["panel"]
    assert panel[1]["recused"] == "member"


def test_scores_stay_hidden_from_other_reviewers_until_everyone_not_recused_has_scored(client, district, in_review):
    first, second = district.reviewers[1], district.reviewers[2]
    mine = client.post(f"{API}/applications/{in_review}/scores", headers=first[1], json=GOOD).get_json()
    assert not mine["complete"] and {s["reviewer"] for s in mine["scores"]} == {"lishi1"}
    other = client.get(f"{API}/applications/{in_review}/review", headers=second[1]).get_json()
    assert other["scores"] == [] and other["weighted_score"] is None
    supervisor = client.get(f"{API}/applications/{in_review}/review", headers=district.supervisor).get_json()
    assert supervisor["scores"] == []
    client.post(f"{API}/applications/{in_review}/scores", headers=second[1],
                json=_scores([("need", 3), ("feasibility", 3), ("participation", 3)]))
    done = client.get(f"{API}/applications/{in_review}/review", headers=district.supervisor).get_json()
    assert done["complete"] and len(done["scores"]) == 6
    assert done["weighted_score"] == 345  # (3.90 + 3.00) / 2


BAD_SCORES = [
    _scores([("need", 6), ("feasibility", 3), ("participation", 5)]),
    _scores([("need", -1), ("feasibility", 3), ("participation", 5)]),
    _scores([("need", 4), ("feasibility", 3)]),
    _scores([("need", 4), ("feasibility", 3), ("participation", 5), ("beauty", 5)]),
    _scores([("need", 4), ("need", 3), ("participation", 5)]),
    {"scores": [{"criterion": "need", "score": "4"}]},
]


def test_a_bad_score_is_refused_with_422_and_nothing_is_written(client, district, in_review, session):
    for body in BAD_SCORES:
        answer = client.post(f"{API}/applications/{in_review}/scores", headers=district.reviewers[1][1], json=body)
        assert answer.status_code == 422 and "scores" in answer.get_json()["fields"], body
        assert session.execute(select(func.count()).select_from(Score)).scalar() == 0, body


def test_a_reviewer_scores_once_and_a_clerk_may_not_score(client, district, in_review):
    reviewer = district.reviewers[1][1]
    assert client.post(f"{API}/applications/{in_review}/scores", headers=reviewer, json=GOOD).status_code == 201
    again = client.post(f"{API}/applications/{in_review}/scores", headers=reviewer, json=GOOD)
    assert again.get_json()["error"] == "already_scored"
    assert client.post(f"{API}/applications/{in_review}/scores", headers=district.clerk, json=GOOD).status_code == 403


def test_a_declared_conflict_recuses_the_reviewer_and_cannot_follow_a_score(client, district, in_review):
    reviewer = district.reviewers[2][1]
    answer = client.post(f"{API}/applications/{in_review}/conflict", headers=reviewer, json={"note": "项目承包人是我表弟"})
    assert answer.status_code == 200
    assert answer.get_json()["panel"][2]["recused"] == "declared"
    refused = client.post(f"{API}/applications/{in_review}/scores", headers=reviewer, json=GOOD)
    assert refused.get_json()["error"] == "recused"
    scorer = district.reviewers[1][1]
    client.post(f"{API}/applications/{in_review}/scores", headers=scorer, json=GOOD)
    late = client.post(f"{API}/applications/{in_review}/conflict", headers=scorer, json={"note": "想起来了"})
    assert late.get_json()["error"] == "already_scored"
    review = client.get(f"{API}/applications/{in_review}/review", headers=scorer).get_json()
    assert review["complete"]  # the two recused do not hold the review up


def test_the_council_cannot_decide_before_every_reviewer_has_scored(client, district, in_review, session):
    district.fund(restricted=1_000_000)
    client.post(f"{API}/applications/{in_review}/scores", headers=district.reviewers[1][1], json=GOOD)
    answer = client.post(f"{API}/applications/{in_review}/decision", headers=district.reviewers[1][1],
                         json=decision())
    assert answer.status_code == 409 and answer.get_json()["error"] == "review_incomplete"
    assert session.execute(select(func.count()).select_from(Decision)).scalar() == 0


@pytest.fixture
def scored(client, district, in_review):
    score_all(client, district, in_review, reviewers=district.reviewers[1:])
    return in_review


def test_an_award_is_recorded_as_a_council_meeting(client, district, scored, session):
    district.fund(restricted=300_000, unrestricted=200_000)
    answer = client.post(f"{API}/applications/{scored}/decision", headers=district.reviewers[1][1],
                         json=decision(amount=450_000))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["outcome"], body["amount"], body["quorum"], body["votes_for"]) == ("awarded", 450_000, 3, 3)
    assert body["attendees"] == ["王理事", "李理事", "周理事", "赵理事"]
    assert body["weighted_score"] == 390 and body["recorded_by"] == "lishi1"
    app = client.get(f"{API}/applications/{scored}", headers=district.clerk).get_json()
    assert (app["state"], app["amount_awarded"]) == ("awarded", 450_000)
    fund = client.get(f"{API}/fund", headers=district.clerk).get_json()
    assert fund == {"restricted": 300_000, "unrestricted": 200_000, "committed": 450_000, "free": 50_000}


BAD_DECISIONS = [
    ({"amount": 500_001}, 409, "award_exceeds_request"),
    ({"amount": 400_001}, 409, "award_exceeds_fund"),
    ({"attendees": ["王理事", "李理事"], "votes_for": 2, "votes_against": 0}, 422, "validation_error"),
    ({"votes_for": 2}, 422, "validation_error"),
    ({"votes_for": 2, "votes_against": 2}, 422, "validation_error"),
    ({"amount": None}, 422, "validation_error"),
    ({"outcome": "declined", "amount": None}, 422, "validation_error"),
    ({"met_on": "2026-10-16"}, 422, "validation_error"),
    ({"attendees": ["王理事", "王理事", "周理事", "赵理事"]}, 422, "validation_error"),
]


def test_a_bad_decision_is_refused_and_nothing_is_written(client, district, scored, session):
    district.fund(restricted=400_000)
    for change, status, code in BAD_DECISIONS:
        answer = client.post(f"{API}/applications/{scored}/decision", headers=district.reviewers[1][1],
                             json=decision(**change))
        assert (answer.status_code, answer.get_json()["error"]) == (status, code), (change, answer.get_json())
        session.rollback()
        assert session.execute(select(func.count()).select_from(Decision)).scalar() == 0, change
        assert session.get(Application, scored).state == "in_review", change


def test_an_award_counts_what_earlier_awards_still_owe(client, district):
    district.fund(restricted=600_000)
    from .conftest import awarded
    awarded(client, district, amount=400_000)
    app_id = application(client, district, station(client, district, name="第二公益站"))["id"]
    to_review(client, district, app_id)
    score_all(client, district, app_id)
    answer = client.post(f"{API}/applications/{app_id}/decision", headers=district.reviewers[0][1],
                         json=decision(amount=200_001))
    assert answer.get_json()["error"] == "award_exceeds_fund"
    assert "¥2,000.00" in answer.get_json()["message"]


def test_a_decline_needs_a_reason_and_records_it(client, district, scored):
    answer = client.post(f"{API}/applications/{scored}/decision", headers=district.reviewers[1][1], json=decision(
        outcome="declined", amount=None, reason="与已资助项目重复", votes_for=1, votes_against=3))
    assert answer.status_code == 201
    app = client.get(f"{API}/applications/{scored}", headers=district.clerk).get_json()
    assert (app["state"], app["decline_reason"], app["amount_awarded"]) == ("declined", "与已资助项目重复", None)
    again = client.post(f"{API}/applications/{scored}/decision", headers=district.reviewers[1][1], json=decision())
    assert again.get_json()["error"] == "illegal_transition"


def test_a_clerk_may_not_decide(client, district, scored):
    assert client.post(f"{API}/applications/{scored}/decision", headers=district.clerk,
                       json=decision()).status_code == 403
