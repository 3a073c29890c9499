"""The county admin's cycle screen: each bank's runs for a period, failures with their error."""
from __future__ import annotations

import pytest

from cycle import jobs, runs
from reports import services as reports
from tests.reports.helpers import at


@pytest.fixture
def county(app, make, signed_in):
    first, second = make.bank("a1", "甲村综治银行"), make.bank("b2", "乙村综治银行")
    make.bank("c3", "丙村综治银行")
    sessions = app.extensions["zongzhi.sessions"]
    reports.publish_notice(make.session, first, "2026-09", by="t", clock=at(2026, 10, 1, 9))
    opening, closing = jobs.JOBS["quarterly"], jobs.JOBS["quarterly_close"]
    runs.run_by_hand(sessions, [first], opening, jobs.parse(opening, "2026-Q4"), clock=at(2026, 10, 15))
    # b2's window was never opened: closing it fails; a1's closes
    runs.run_by_hand(sessions, [first, second], closing, jobs.parse(closing, "2026-Q4"), clock=at(2026, 10, 15))
    return {"admin": signed_in(make.user(None, "admin", name="county")),
            "clerk": signed_in(make.user(first, "clerk"))}


def test_the_county_sees_each_banks_runs_with_the_failures_error(county):
    page = county["admin"].get("/admin/cycle?period=2026-Q4").get_data(as_text=True)
    assert "<h1>周期任务</h1>" in page
    assert "完成 2" in page and "失败 1" in page and "无任务的银行 1" in page
    assert "2026-Q4 的兑换期尚未开启" in page
    assert "丙村综治银行 <span class=\"muted\">c3</span>" in page and "本周期无任务" in page
    # Each job by its name, its code beside it for whoever runs it by hand.
    assert '季兑换开始 <span class="muted">quarterly</span>' in page
    assert '季兑换结束 <span class="muted">quarterly_close</span>' in page
    english = county["admin"].get("/admin/cycle?period=2026-Q4&lang=en").get_data(as_text=True)
    assert 'Redemption window opens <span class="muted">quarterly</span>' in english
    # What a run did reads in the page's language: it is kept as messages, not as Chinese text.
    assert "兑换期 2026-10-01 至 2026-10-07；季度汇总 " in page
    assert "redemption window 2026-10-01 to 2026-10-07; quarter&#39;s summary " in english
    assert "redemption window 2026-10-01 to 2026-10-07 closed" in english and "兑换期" not in english


def test_the_screen_shows_only_the_state_asked_for(county):
    page = county["admin"].get("/admin/cycle?period=2026-Q4&state=failed").get_data(as_text=True)
    assert "乙村综治银行 <span class=\"muted\">b2</span>" in page and "甲村综治银行 <span class=\"muted\">a1</span>" not in page


@pytest.mark.parametrize("period", ["2026-13", "10月", "2026-Q5", "x" * 500, "2026\x00"])
def test_a_period_that_does_not_exist_is_refused_beside_the_field_as_typed(county, period):
    answer = county["admin"].get("/admin/cycle", query_string={"period": period})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'class="field-error"' in page and "<table>" not in page


def test_without_a_period_it_shows_last_month(county):
    page = county["admin"].get("/admin/cycle").get_data(as_text=True)
    assert 'value="2026-09"' in page


def test_a_banks_clerk_may_not_open_it(county):
    assert county["clerk"].get("/admin/cycle").status_code == 403
