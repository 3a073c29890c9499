"""Plain arithmetic of the cycle: periods, ranks with ties, the commendation's tie rule."""
from datetime import date

import pytest

from ground.errors import ValidationError
from ledger.periods import parse_period, period_of
from reports.ranking import commendation_order, competition_rank, competition_ranks, top


@pytest.mark.parametrize("kind, text, start, end", [
    ("day", "2026-10-05", date(2026, 10, 5), date(2026, 10, 5)),
    ("month", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ("month", "2028-02", date(2028, 2, 1), date(2028, 2, 29)),
    ("quarter", "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    ("year", "2026", date(2026, 1, 1), date(2026, 12, 31)),
])
def test_periods_parse_to_their_first_and_last_day(kind, text, start, end):
    period = parse_period(kind, text)
    assert (period.start, period.end, period.key) == (start, end, text)


@pytest.mark.parametrize("kind, text", [
    ("month", "2026-13"), ("month", "2026-00"), ("quarter", "2026-Q5"), ("quarter", "2026-Q0"),
    ("day", "2026-02-30"), ("day", "2026-10-5"), ("year", "26"), ("month", "soon"), ("month", ""),
])
def test_a_period_that_does_not_exist_is_refused_naming_the_field(kind, text):
    with pytest.raises(ValidationError) as refused:
        parse_period(kind, text)
    assert "period" in refused.value.fields


def test_periods_step_forward_and_back_across_years():
    assert parse_period("quarter", "2026-Q1").previous().key == "2025-Q4"
    assert parse_period("month", "2026-12").next().key == "2027-01"
    assert [m.key for m in period_of("quarter", date(2026, 8, 9)).months()] == ["2026-07", "2026-08", "2026-09"]


def test_equal_scores_share_a_rank_and_the_next_rank_skips():
    rows = [{"id": 4, "net": 10}, {"id": 2, "net": 30}, {"id": 3, "net": 10}, {"id": 1, "net": 5}]
    ranked = competition_ranks(rows, lambda r: r["net"], lambda r: r["id"])
    assert [(rank, r["id"]) for rank, r in ranked] == [(1, 2), (2, 3), (2, 4), (4, 1)]


def test_one_scores_rank_is_the_rank_competition_ranking_gives_it():
    scores = [10, 30, 10, 5, -2]
    ranked = competition_ranks(enumerate(scores), lambda kv: kv[1], lambda kv: kv[0])
    assert [competition_rank(scores, s) for s in scores] == [rank for rank, _ in sorted(ranked, key=lambda r: r[1][0])]
    assert [competition_rank(scores, s) for s in scores] == [2, 1, 2, 4, 5]


def test_ties_are_listed_in_the_same_order_whatever_order_they_came_in():
    rows = [{"id": i, "net": 7} for i in (5, 1, 3)]
    assert [r["id"] for _, r in competition_ranks(rows, lambda r: r["net"], lambda r: r["id"])] == [1, 3, 5]
    assert [r["id"] for _, r in competition_ranks(reversed(rows), lambda r: r["net"], lambda r: r["id"])] == [1, 3, 5]


def test_commendation_ties_go_to_fewer_penalties_then_more_deeds_then_earlier_registration():
    c = [{"id": 1, "points": 50, "penalties": 5, "deeds": 9},
         {"id": 2, "points": 50, "penalties": 0, "deeds": 3},
         {"id": 3, "points": 50, "penalties": 0, "deeds": 8},
         {"id": 4, "points": 50, "penalties": 0, "deeds": 8},
         {"id": 5, "points": 60, "penalties": 30, "deeds": 1}]
    assert [x["id"] for x in commendation_order(c)] == [5, 3, 4, 2, 1]
    assert [x["id"] for x in top(c + [{"id": 6, "points": 0, "penalties": 0, "deeds": 0}], 10)] == [5, 3, 4, 2, 1]
