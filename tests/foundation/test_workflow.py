"""The pure core: the state machines, recusal, weighted scores, votes and splitting money."""
from __future__ import annotations

import pytest

from foundation import workflow as wf


def test_an_application_walks_from_draft_to_closed_in_order():
    state = wf.DRAFT
    for action in ("submit", "screen", "review", "award", "start", "complete", "close"):
        state = wf.next_state(state, action)
    assert state == wf.CLOSED


@pytest.mark.parametrize("state, action", [
    ("draft", "award"), ("submitted", "review"), ("in_review", "start"), ("awarded", "withdraw"),
    ("declined", "start"), ("in_progress", "close"), ("closed", "submit"), ("withdrawn", "submit"),
    ("draft", "no_such_action"),
])
def test_an_out_of_order_move_is_illegal(state, action):
    with pytest.raises(wf.IllegalMove):
        wf.next_state(state, action)


@pytest.mark.parametrize("state", ["draft", "submitted", "screening", "in_review"])
def test_withdrawal_is_allowed_from_any_state_before_the_decision(state):
    assert wf.next_state(state, "withdraw") == wf.WITHDRAWN


def test_only_the_council_awards_and_closes():
    assert wf.allowed_actions("in_review", "clerk") == ["withdraw"]
    assert wf.allowed_actions("in_review", "reviewer") == ["award", "decline", "withdraw"]
    assert wf.allowed_actions("completed", "clerk") == []
    assert wf.allowed_actions("completed", "reviewer") == ["close"]
    assert wf.allowed_actions("in_review", "supervisor") == []


def test_a_wish_goes_back_on_the_wall_when_its_claim_expires():
    state = wf.COLLECTED
    for action in ("verify", "publish", "claim", "expire", "claim", "deliver", "confirm"):
        state = wf.next_wish_state(state, action)
    assert state == wf.FULFILLED
    with pytest.raises(wf.IllegalMove):
        wf.next_wish_state(wf.FULFILLED, "claim")


MEMBERS = [(1, 10), (2, 20)]


@pytest.mark.parametrize("resident, household, declared, why", [
    (1, 10, False, wf.MEMBER),
    (3, 20, False, wf.HOUSEHOLD),
    (3, 30, True, wf.DECLARED),
    (3, 30, False, None),
    (None, None, False, None),
    (None, None, True, wf.DECLARED),
])
def test_a_reviewer_is_recused_for_membership_household_or_declaration(resident, household, declared, why):
    assert wf.recusal(resident, household, MEMBERS, declared=declared) == why


def test_scores_must_cover_every_criterion_once_within_0_to_5():
    assert wf.score_problems({"a": 0, "b": 5}, ["a", "b"]) == {}
    problems = wf.score_problems({"a": 6, "c": 1, "b": True}, ["a", "b", "d"])
    assert set(problems) == {"a", "b", "c", "d"}
    assert wf.score_problems({"a": -1}, ["a"])["a"] == ["评分须为 0 到 5 的整数"]


def test_the_weighted_score_is_an_integer_in_hundredths_rounded_half_up():
    weights = {"need": 50, "feasibility": 30, "participation": 20}
    one = {"need": 4, "feasibility": 3, "participation": 5}   # 200 + 90 + 100 = 390 / 100
    two = {"need": 3, "feasibility": 3, "participation": 3}   # 3.00
    assert wf.weighted_score({1: one}, weights) == 390
    assert wf.weighted_score({1: one, 2: two}, weights) == 345
    assert wf.weighted_score({1: {"a": 1}, 2: {"a": 2}, 3: {"a": 2}}, {"a": 1}) == 167  # 1.666…
    assert wf.weighted_score({}, weights) is None
    assert wf.hundredths(345) == "3.45" and wf.hundredths(None) == "—"


@pytest.mark.parametrize("attendees, votes, outcome, field", [
    (2, (2, 0, 0), "awarded", "attendees"),
    (4, (2, 1, 0), "awarded", "votes"),
    (4, (2, 2, 0), "awarded", "outcome"),
])
def test_a_decision_needs_quorum_votes_that_add_up_and_a_majority_for_an_award(attendees, votes, outcome, field):
    problems = wf.vote_problems(attendees=attendees, quorum=3, votes_for=votes[0], votes_against=votes[1],
                                abstaining=votes[2], outcome=outcome)
    assert field in problems


def test_a_decline_needs_no_majority_and_a_clean_vote_has_no_problems():
    assert wf.vote_problems(attendees=3, quorum=3, votes_for=1, votes_against=2, abstaining=0,
                            outcome="declined") == {}
    assert wf.vote_problems(attendees=5, quorum=3, votes_for=3, votes_against=1, abstaining=1,
                            outcome="awarded") == {}


def test_score_and_vote_problems_read_in_the_language_they_are_shown_in(app_context):
    from ground.i18n import render

    votes = wf.vote_problems(attendees=2, quorum=3, votes_for=1, votes_against=1, abstaining=0,
                             outcome="awarded")
    assert render(votes) == {"attendees": ["出席 2 人，未达法定人数 3 人"],
                             "outcome": ["赞成 1 票未多于反对 1 票，不能资助"]}
    assert render(votes, "en") == {"attendees": ["2 present, short of the quorum of 3"],
                                   "outcome": ["1 votes for are not more than 1 against: no award can be made"]}
    assert render(wf.score_problems({"x": 1}, ["a"]), "en") == {
        "a": ["This criterion has no score"], "x": ["Unknown review criterion"]}


def test_money_is_drawn_restricted_first_and_returned_unrestricted_first():
    assert wf.split_draw(700, restricted=500, unrestricted=1000) == (500, 200)
    assert wf.split_draw(300, restricted=500, unrestricted=0) == (300, 0)
    with pytest.raises(ValueError):
        wf.split_draw(1600, restricted=500, unrestricted=1000)
    assert wf.split_return(300, drawn_restricted=500, drawn_unrestricted=200) == (100, 200)
    assert wf.split_return(100, drawn_restricted=500, drawn_unrestricted=200) == (0, 100)
