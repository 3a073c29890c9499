"""The desk's arithmetic, on plain values: windows, coverage, stock at cost, payment."""
from __future__ import annotations

from datetime import date

import pytest

from redemption.domain import (Window, affordable, cost_of_taking, coverage, merge_windows,
                               next_window, regular_windows,
                               remaining_allowance, split_payment, window_on)


def test_regular_windows_are_the_first_days_of_each_redemption_month():
    windows = regular_windows(2026, [10, 1, 4, 7], 7)
    assert [(w.opens_on, w.closes_on) for w in windows][0] == (date(2026, 1, 1), date(2026, 1, 7))
    assert windows[-1] == Window(date(2026, 10, 1), date(2026, 10, 7))


def test_a_window_longer_than_its_month_stops_at_the_month_end():
    [february] = regular_windows(2026, [2], 28)
    assert february.closes_on == date(2026, 2, 28)


def test_a_stored_regular_window_replaces_the_rule_files_dates_for_its_month():
    derived = regular_windows(2026, [10], 7)
    stored = [Window(date(2026, 10, 8), date(2026, 10, 12), "regular", 5)]
    merged = merge_windows(stored, derived)
    assert merged == stored
    assert window_on(date(2026, 10, 3), merged) is None
    assert window_on(date(2026, 10, 9), merged).id == 5


def test_an_extra_window_sits_beside_the_regular_ones():
    extra = Window(date(2026, 2, 1), date(2026, 2, 10), "extra", 9)
    merged = merge_windows([extra], regular_windows(2026, [1, 4], 7))
    assert [w.opens_on.month for w in merged] == [1, 2, 4]
    assert next_window(date(2026, 1, 20), merged) == extra
    assert next_window(date(2026, 2, 5), merged) == extra
    assert next_window(date(2026, 12, 1), merged) is None


def test_coverage_values_points_at_the_rules_price_and_warns_below_the_threshold():
    c = coverage(1000, 10, 11_000, 120)
    assert (c.liability_fen, c.percent, c.warning) == (10_000, 110, True)
    assert coverage(1000, 10, 12_000, 120).warning is False


def test_coverage_rounds_down_so_99_point_9_never_reads_100():
    assert coverage(1000, 10, 9_999, 100).percent == 99


def test_coverage_with_no_points_out_has_no_percent_and_no_warning():
    c = coverage(0, 10, 0, 120)
    assert (c.percent, c.warning, c.liability_fen) == (None, False, 0)


def test_an_overdrawn_fund_covers_nothing():
    assert coverage(100, 10, -500, 100).percent == 0


def test_stock_leaves_at_moving_average_cost_and_the_last_unit_takes_the_rest():
    assert cost_of_taking(1, 3, 1000) == 333
    assert cost_of_taking(2, 2, 667) == 667
    assert cost_of_taking(3, 3, 1000) == 1000


@pytest.mark.parametrize("quantity, stock", [(0, 3), (4, 3), (-1, 3)])
def test_taking_more_than_the_stock_or_nothing_is_a_programming_error(quantity, stock):
    with pytest.raises(ValueError):
        cost_of_taking(quantity, stock, 100)


def test_limits_and_balances():
    assert remaining_allowance(None, 10) is None
    assert remaining_allowance(2, 1) == 1 and remaining_allowance(2, 5) == 0
    assert affordable(30, 30) and not affordable(29, 30)


def test_purchases_spend_goods_only_money_first():
    assert split_payment(1000, 600, 5000) == (600, 400)
    assert split_payment(1000, 2000, 0) == (1000, 0)
    assert split_payment(1000, 300, 600) is None
    assert split_payment(1000, -50, 1000) == (0, 1000)
