"""The one period type: its days, its neighbours, its key and its name on screen and paper."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger import formatting
from rules.periods import KINDS, period_of, quarter_period


def test_the_quarters_of_2026_cover_the_year_without_gap_or_overlap():
    quarters = [quarter_period(2026, n) for n in (1, 2, 3, 4)]
    assert [(q.start, q.end) for q in quarters] == [
        (date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 7, 1), date(2026, 9, 30)), (date(2026, 10, 1), date(2026, 12, 31))]
    assert [q.key for q in quarters] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert [(q.year, q.number) for q in quarters] == [(2026, 1), (2026, 2), (2026, 3), (2026, 4)]
    assert period_of("quarter", date(2026, 8, 9)) == quarters[2]


@pytest.mark.parametrize("number", [0, 5, -1])
def test_a_quarter_outside_one_to_four_does_not_exist(number):
    with pytest.raises(ValueError):
        quarter_period(2026, number)


@pytest.mark.parametrize("on, start, end", [
    (date(2026, 2, 14), date(2026, 2, 1), date(2026, 2, 28)),
    (date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29)),  # a leap year
    (date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
    (date(2026, 4, 1), date(2026, 4, 1), date(2026, 4, 30)),
])
def test_a_month_runs_from_its_first_to_its_last_day(on, start, end):
    month = period_of("month", on)
    assert (month.start, month.end, month.number) == (start, end, on.month)
    assert on in month and start in month and end in month
    assert start - timedelta(days=1) not in month and end + timedelta(days=1) not in month


def test_december_is_followed_by_january_of_the_next_year_and_back():
    december = period_of("month", date(2026, 12, 25))
    assert december.next().key == "2027-01"
    assert december.next().previous() == december
    assert period_of("quarter", date(2026, 11, 1)).next().key == "2027-Q1"
    assert period_of("day", date(2026, 12, 31)).next().key == "2027-01-01"
    assert period_of("year", date(2026, 6, 1)).previous().key == "2025"
    assert period_of("week", date(2026, 12, 31)).next().start == date(2027, 1, 4)


@pytest.mark.parametrize("kind, zh, en", [
    ("day", "2026年10月5日", "5 Oct 2026"),
    ("month", "2026年10月", "Oct 2026"),
    ("quarter", "2026年第四季度", "Q4 2026"),
    ("year", "2026年", "2026"),
])
def test_each_period_reads_as_people_write_it(kind, zh, en):
    period = period_of(kind, date(2026, 10, 5))
    assert (period.label(), period.label("zh"), period.label("en")) == (zh, zh, en)


def test_the_formatting_helpers_read_as_the_period_type_does():
    assert formatting.month(2026, 10) == "2026年10月" and formatting.month(2026, 1, "en") == "Jan 2026"
    assert [formatting.quarter(2026, n) for n in (1, 2, 3, 4)] == [
        "2026年第一季度", "2026年第二季度", "2026年第三季度", "2026年第四季度"]
    assert formatting.quarter(2026, 4, "en") == "Q4 2026"
    assert formatting.day(date(2026, 10, 5)) == "2026年10月5日"


def test_the_cycle_counts_in_days_months_quarters_and_years():
    assert KINDS == ("day", "month", "quarter", "year")
    assert [m.key for m in period_of("year", date(2026, 5, 1)).months()][::11] == ["2026-01", "2026-12"]


def test_a_week_runs_monday_to_sunday_across_the_new_year():
    week = period_of("week", date(2027, 1, 1))
    assert (week.start, week.end, week.key) == (date(2026, 12, 28), date(2027, 1, 3), "2026-W53")


def test_a_day_or_a_year_has_no_number_within_its_year():
    with pytest.raises(ValueError):
        period_of("year", date(2026, 1, 1)).number
    with pytest.raises(ValueError):
        period_of("fortnight", date(2026, 1, 1))
