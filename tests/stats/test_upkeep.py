"""The figures are counted by the daily close, and read current in between: kept plus the tail."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from cycle import jobs, runs
from ledger import reversals
from ledger.models import Transfer
from ground.tenants import Bank
from stats import upkeep
from stats.models import CountedUpTo, MonthFigures


def _months(client, headers, query="from=2026-09&to=2026-10"):
    answer = client.get(f"/api/v1/banks/hp/stats?{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return {m["month"]: m for m in answer.get_json()["months"]}


def _county(client, make, bank, month="2026-10"):
    answer = client.get(f"/api/v1/county/stats?month={month}", headers=make.token(bank, "admin"))
    assert answer.status_code == 200, answer.get_json()
    return {b["code"]: b for b in answer.get_json()["banks"]}


def _head(session, bank):
    session.commit()
    return session.execute(select(Bank.head_seq).where(Bank.id == bank.id)).scalar_one()


def _counted(session, bank):
    session.commit()
    return session.execute(select(CountedUpTo.counted_seq).where(CountedUpTo.bank_id == bank.id)).scalar()


def test_figures_are_current_right_after_a_deed_without_any_catch_up(client, session, make, village):
    assert _counted(session, village.bank) is None  # nothing counted: every figure is the tail's
    assert session.execute(select(func.count()).select_from(MonthFigures)).scalar() == 0
    assert _months(client, village.supervisor)["2026-10"]["points"] == 36
    make.deed(village.bank, "cleanup", [village.wang2])
    october = _months(client, village.supervisor)["2026-10"]
    assert october["points"] == 39 and october["active_residents"] == 2
    assert october["points_by_category"]["环境卫生"] == 33
    assert _county(client, make, village.bank)["hp"]["points"] == 39


def test_after_catch_up_the_tail_is_empty_and_the_figures_are_unchanged(client, session, make, village):
    before = _months(client, village.supervisor)
    county = _county(client, make, village.bank)
    head = _head(session, village.bank)
    assert upkeep.catch_up(session, village.bank) == head
    session.commit()
    assert _counted(session, village.bank) == head
    assert upkeep.tail(session, village.bank.id) == upkeep.Tail()
    assert session.execute(select(MonthFigures.earned).where(MonthFigures.month == 202610)).scalar() == 36
    assert _months(client, village.supervisor) == before
    assert _county(client, make, village.bank) == county
    assert upkeep.catch_up(session, village.bank) == 0  # counting again counts nothing
    session.commit()
    assert _months(client, village.supervisor) == before
    assert upkeep.check(session, village.bank) == []


def test_who_took_part_is_right_when_a_month_crosses_zero_in_the_tail(client, session, make, village):
    upkeep.catch_up(session, village.bank)
    session.commit()
    # 王大's 36 counted; then both his deeds reversed (down to 0) and 王二 earns in October.
    for transfer in session.execute(select(Transfer).where(
            Transfer.bank_id == village.bank.id, Transfer.doer_id == village.wang.id,
            Transfer.rule_code.in_(["patrol", "cleanup"]))).scalars().all():
        reversals.reverse_transfer(session, village.bank, transfer.id, reason="记错", by="test", clock=village.clock)
    make.deed(village.bank, "cleanup", [village.wang2])
    october = _months(client, village.supervisor)["2026-10"]
    assert (october["points"], october["active_residents"]) == (3, 1)
    assert _county(client, make, village.bank)["hp"]["active_residents"] == 1
    assert upkeep.check(session, village.bank) == []
    upkeep.catch_up(session, village.bank)
    session.commit()
    assert _months(client, village.supervisor)["2026-10"] == october


def test_a_figure_kept_wrong_is_named_by_the_check_beside_an_uncounted_tail(app, session, make, village):
    upkeep.catch_up(session, village.bank)
    session.commit()
    make.deed(village.bank, "cleanup", [village.wang2])
    with app.extensions["zongzhi.engine"].begin() as conn:
        conn.execute(text("UPDATE stats_months SET earned = earned + 1 WHERE month = 202610"))
    [difference] = upkeep.check(session, village.bank)
    assert (difference.month, difference.figure, difference.kept, difference.recomputed) == \
        (202610, "earned", 40, 39)


def test_two_catch_ups_at_once_count_every_transfer_once(app, session, village):
    sessions = app.extensions["zongzhi.sessions"]
    first_counted, counted = threading.Event(), {}

    def first():
        with sessions() as s:
            counted["first"] = upkeep.catch_up(s, village.bank.id)
            first_counted.set()
            threading.Event().wait(0.3)  # the second is waiting on the lock meanwhile
            s.commit()

    def second():
        first_counted.wait(5)
        with sessions() as s:
            counted["second"] = upkeep.catch_up(s, village.bank.id)
            s.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert counted == {"first": _head(session, village.bank), "second": 0}
    assert session.execute(select(MonthFigures.earned).where(MonthFigures.month == 202610)).scalar() == 36
    assert upkeep.check(session, village.bank) == []


def test_the_daily_close_counts_the_days_transfers_into_the_figures(app, session, client, village):
    before = _months(client, village.supervisor)
    job = jobs.JOBS["daily"]
    [outcome] = runs.run_by_hand(app.extensions["zongzhi.sessions"], [village.bank], job,
                                 jobs.parse(job, (village.clock.today() - timedelta(days=1)).isoformat()), clock=village.clock)
    assert outcome.status == "done", outcome.message
    assert _counted(session, village.bank) == _head(session, village.bank)
    assert upkeep.tail(session, village.bank.id) == upkeep.Tail()
    assert _months(client, village.supervisor) == before


@pytest.mark.parametrize("month", ["2026-13", "26-10", "%00"])
def test_a_bad_county_month_is_refused(client, make, month):
    bank = make.bank()
    answer = client.get(f"/api/v1/county/stats?month={month}", headers=make.token(bank, "admin"))
    assert answer.status_code == 422
