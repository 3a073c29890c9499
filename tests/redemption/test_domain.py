"""The desk's arithmetic, on plain values: windows, coverage, stock at cost, payment, the plan
of a redemption."""
from __future__ import annotations

from datetime import date

import pytest

from ground.errors import ValidationError
from redemption.domain import (Goods, Holder, Window, affordable, cost_of_taking, coverage,
                               merge_windows, next_window, plan_redemption, regular_windows,
                               remaining_allowance, split_payment, window_on)
from redemption.errors import (InsufficientPoints, LimitExceeded, OutOfStock, WindowClosed)


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


# --- a redemption, planned -----------------------------------------------------------------------

OCTOBER = Window(date(2026, 10, 1), date(2026, 10, 7))
RICE = Goods(1, "rice", "大米", points=30, stock=3, stock_value_fen=7_501, limit_per_window=2)
OIL = Goods(2, "oil", "食用油", points=12, stock=10, stock_value_fen=15_000)
SHELF = {"rice": RICE, "oil": OIL}


def _plan(basket, *, window=OCTOBER, taken=None, balance=1_000, standing=None, goods=SHELF):
    return plan_redemption(basket, goods, window=window, upcoming=None, taken=taken or {},
                           holder=Holder(balance, standing))


def test_a_plan_prices_each_line_and_takes_its_cost_at_the_moving_average():
    plan = _plan([("rice", 2), ("oil", 1)])
    assert [(line.goods.sku, line.points, line.cost_fen) for line in plan.lines] == [
        ("rice", 60, 5_000), ("oil", 12, 1_500)]
    assert (plan.points, plan.cost_fen, plan.balance_after, plan.window) == (72, 6_500, 928, OCTOBER)


@pytest.mark.parametrize("basket, how, refusal", [
    ([("tea", 1)], {}, ValidationError),
    ([("rice", 1)], {"window": None}, WindowClosed),
    ([("rice", 2)], {"taken": {1: 1}}, LimitExceeded),
    ([("oil", 11)], {}, OutOfStock),
    ([("oil", 2)], {"balance": 23}, InsufficientPoints),
    ([("oil", 1)], {"standing": -5}, InsufficientPoints),
])
def test_a_plan_the_desk_cannot_honour_is_refused(basket, how, refusal):
    with pytest.raises(refusal):
        _plan(basket, **how)


def test_the_refusals_come_in_order_a_closed_desk_before_an_empty_shelf():
    with pytest.raises(WindowClosed):
        _plan([("oil", 11)], window=None, balance=0)
    with pytest.raises(LimitExceeded):
        _plan([("rice", 3)], balance=0)


def test_goods_no_longer_offered_cannot_be_planned():
    with pytest.raises(ValidationError) as refused:
        _plan([("oil", 1)], goods={"oil": Goods(2, "oil", "食用油", 12, 10, 15_000, active=False)})
    assert "已下架" in str(refused.value.fields["items"][0])
