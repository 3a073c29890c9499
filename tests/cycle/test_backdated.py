"""Months before the bank opened: once an entry is dated there, the cycle publishes and seals them."""
from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cycle import runs
from cycle.models import JobRun
from ledger import banks, people, periods
from ground.errors import ConflictError, PeriodSealed
from reports import services as reports
from tests.conftest import RULES
from tests.reports.helpers import at, deed


def _opened_on_10_october(session):
    bank = banks.create_bank(session, "hp", "和平村综治银行", rules_text=RULES, source_name="t",
                             by="t", clock=at(2026, 10, 10, 9))
    home = people.create_household(session, bank, code="H1", name=None, clock=at(2026, 10, 10, 9))
    wang = people.create_resident(session, bank, name="王五", household=home.code, phone=None,
                                  clock=at(2026, 10, 10, 9))
    return bank, wang


def test_months_before_the_bank_opened_that_hold_an_entry_get_their_notice_and_seal(app, session):
    bank, wang = _opened_on_10_october(session)
    evening = at(2026, 10, 10, 20)
    deed(session, bank, "patrol", [wang], date(2026, 8, 28), evening)          # 43 days back
    deed(session, bank, "cleanup", [wang], date(2026, 9, 20), evening)
    sessions = app.extensions["zongzhi.sessions"]

    outcomes = runs.sweep(sessions, clock=at(2026, 10, 15, 10))
    assert [o for o in outcomes if o.status != "done"] == []
    done = [(o.job, o.period) for o in outcomes]
    assert [p for j, p in done if j == "monthly"] == ["2026-08", "2026-09"]
    # the bank's own runs start on the day it opened: no register or window before that
    assert min(p for j, p in done if j == "daily") == "2026-10-10"
    assert not [1 for j, _ in done if j.startswith("quarterly")]
    september = reports.content_of(reports.get_snapshot(session, bank.id, "notice", "2026-09"))
    assert [r["net"] for r in september["residents"]] == [3]

    sealed = runs.sweep(sessions, clock=at(2026, 10, 22, 10, 5))
    assert [(o.job, o.period) for o in sealed if o.job == "seal"] == [("seal", "2026-08"), ("seal", "2026-09")]
    session.rollback()  # end the last read, to see what the sweep committed
    assert periods.is_sealed(session, bank.id, date(2026, 8, 28))
    with pytest.raises(PeriodSealed):
        deed(session, bank, "cleanup", [wang], date(2026, 9, 21), at(2026, 10, 22, 11))


def test_a_bank_with_nothing_dated_before_it_opened_has_no_notice_for_those_months(app, session):
    bank, wang = _opened_on_10_october(session)
    deed(session, bank, "cleanup", [wang], date(2026, 10, 10), at(2026, 10, 10, 20))
    outcomes = runs.sweep(app.extensions["zongzhi.sessions"], clock=at(2026, 11, 2, 10))
    assert [o.period for o in outcomes if o.job == "monthly"] == ["2026-10"]


def test_the_year_is_commended_only_once_the_months_before_opening_are_sealed_too(app, session):
    bank, wang = _opened_on_10_october(session)
    deed(session, bank, "cleanup", [wang], date(2026, 9, 20), at(2026, 10, 10, 20))
    assert periods.first_day(session, bank, at(2026, 10, 10).tz) == date(2026, 9, 20)
    for month in ("2026-10", "2026-11", "2026-12"):
        reports.publish_notice(session, bank, month, by="t", clock=at(2027, 1, 1, 9))
        reports.seal_month(session, bank, month, by="t", clock=at(2027, 1, 9, 9))
    with pytest.raises(ConflictError) as refused:
        reports.commend_year(session, bank, "2026", by="t", clock=at(2027, 1, 10, 9))
    assert refused.value.code == "months_not_sealed" and "2026-09" in refused.value.message


def test_the_command_line_refuses_a_period_outside_the_cycles_years_and_writes_nothing(
        app, session, database_url, monkeypatch):
    from zongzhi.cli import main

    _opened_on_10_october(session)
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    for job, period in [("daily", "0001-01-01"), ("daily", "9999-12-31"), ("monthly", "1999-12"),
                        ("quarterly", "2100-Q1"), ("annual", "0001"), ("daily", "٢٠٢٦-١٠-١٠")]:
        refused = CliRunner().invoke(main, ["cycle", "run", job, "--bank", "hp", "--period", period])
        assert refused.exit_code == 1 and "period" in refused.output, (period, refused.output)
    session.rollback()
    assert session.execute(select(func.count()).select_from(JobRun)).scalar() == 0
