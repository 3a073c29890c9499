"""The scheduled cycle: idempotent runs per (job, bank, period), catch-up in order, bad input refused."""
from __future__ import annotations

import textwrap
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cycle import jobs, runs
from cycle.models import JobRun
from ledger import banks, people as ledger_people, periods, reversals
from ground.errors import ValidationError
from ledger.models import Transfer
from ledger.verify import verify_bank
from reports import paper, services as reports
from tests.conftest import RULES
from tests.reports.helpers import at, deed, pdf_text


def _bank(session, code, created, rules=RULES):
    return banks.create_bank(session, code, f"{code}村综治银行", rules_text=rules, source_name="t",
                             by="t", clock=created)


def _sessions(app):
    return app.extensions["zongzhi.sessions"]


def _runs(session):
    return session.execute(select(JobRun.job, JobRun.period, JobRun.status, JobRun.attempts)
                           .order_by(JobRun.id)).all()


def test_jobs_fall_due_at_the_times_of_the_rule_file(session, make):
    rules = RULES.replace("account_unit: person", textwrap.dedent("""\
        account_unit: person
          cycle: {day_close: "20:30", notice_day: 3, notice_time: "09:15", redemption_months: [3, 6, 9, 12],
                  redemption_days: 5, commendation_month: 2, commendation_day: 1}""").replace("\n", "\n  ", 0))
    bank = _bank(session, "hp", at(2026, 1, 1), rules=rules)
    clock = at(2026, 1, 1)

    def due(job, period):
        return jobs.due_at(session, bank, jobs.JOBS[job], jobs.parse(jobs.JOBS[job], period), clock)

    assert due("daily", "2026-10-05") == at(2026, 10, 5, 20, 30).at
    assert due("monthly", "2026-10") == at(2026, 11, 3, 9, 15).at
    assert due("quarterly", "2026-Q4") == at(2026, 12, 1, 9, 15).at
    assert due("quarterly_close", "2026-Q4") == at(2026, 12, 6, 0, 0).at
    assert due("annual", "2026") == at(2027, 2, 1, 9, 15).at
    assert due("seal", "2026-10") is None          # not until its notice is out


def test_the_scheduler_catches_up_on_missed_periods_in_order_and_once(app, session):
    bank = _bank(session, "hp", at(2026, 6, 30, 9))
    wang = ledger_people.create_resident(session, bank, name="王五", household=ledger_people.create_household(
        session, bank, code="H1", name=None, clock=at(2026, 6, 30)).code, phone=None, clock=at(2026, 6, 30))
    deed(session, bank, "patrol", [wang], date(2026, 7, 3), at(2026, 7, 3, 20))
    outcomes = runs.sweep(_sessions(app), clock=at(2026, 10, 15, 10))
    done = [(o.job, o.period) for o in outcomes if o.status == "done"]
    assert [o for o in outcomes if o.status != "done"] == []
    assert done.index(("monthly", "2026-06")) < done.index(("quarterly", "2026-Q3")) < done.index(("monthly", "2026-07"))
    assert done.index(("monthly", "2026-09")) < done.index(("quarterly", "2026-Q4")) < done.index(("daily", "2026-10-14"))
    days = [p for j, p in done if j == "daily"]
    assert days == sorted(days) and days[0] == "2026-06-30" and days[-1] == "2026-10-14"
    assert ("quarterly_close", "2026-Q4") in done and not [1 for j, _ in done if j == "seal"]
    # a second run finds nothing to do
    assert runs.sweep(_sessions(app), clock=at(2026, 10, 15, 11)) == []
    # after the objection window, the seals
    sealed = runs.sweep(_sessions(app), clock=at(2026, 10, 22, 10, 5))
    assert [(o.job, o.period) for o in sealed if o.job == "seal"] == [
        ("seal", "2026-06"), ("seal", "2026-07"), ("seal", "2026-08"), ("seal", "2026-09")]
    assert periods.is_sealed(session, bank.id, date(2026, 9, 1))
    from redemption.services import windows
    window = windows.current_window(session, bank, date(2026, 10, 3))
    assert window is not None and window.opens_on == date(2026, 10, 1)
    assert windows.current_window(session, bank, date(2026, 10, 9)) is None
    summary = reports.content_of(reports.get_snapshot(session, bank.id, "quarter", "2026-Q4"))
    assert summary["months"] == ["2026-07", "2026-08", "2026-09"]
    assert [r["net"] for r in summary["residents"]] == [2]
    assert all(a == 1 for *_, a in _runs(session))


def test_running_a_job_again_does_nothing_new(app, session, clock):
    bank = _bank(session, "hp", at(2026, 9, 1))
    job = jobs.JOBS["monthly"]
    first = runs.run_by_hand(_sessions(app), [bank], job, jobs.parse(job, "2026-09"), clock=clock)
    again = runs.run_by_hand(_sessions(app), [bank], job, jobs.parse(job, "2026-09"), clock=clock)
    assert [o.status for o in first + again] == ["done", "skipped"]
    assert session.execute(select(func.count()).select_from(JobRun)).scalar() == 1


def test_a_job_not_yet_due_is_refused_and_writes_nothing(app, session, clock):
    bank = _bank(session, "hp", at(2026, 9, 1))
    job = jobs.JOBS["monthly"]
    [outcome] = runs.run_by_hand(_sessions(app), [bank], job, jobs.parse(job, "2026-10"), clock=clock)
    assert outcome.status == "failed" and "尚未到期" in outcome.message
    assert _runs(session) == []


def test_one_banks_failure_is_recorded_and_the_others_go_on(app, session, clock):
    first = _bank(session, "a1", at(2026, 9, 1))
    second = _bank(session, "b2", at(2026, 9, 1))
    reports.publish_notice(session, first, "2026-09", by="t", clock=at(2026, 10, 1, 9))
    opening = jobs.JOBS["quarterly"]
    assert [o.status for o in runs.run_by_hand(_sessions(app), [first], opening,
                                               jobs.parse(opening, "2026-Q4"), clock=clock)] == ["done"]
    # b2's window was never opened, so closing it fails; a1's closes all the same
    closing = jobs.JOBS["quarterly_close"]
    outcomes = runs.run_by_hand(_sessions(app), [second, first], closing, jobs.parse(closing, "2026-Q4"),
                                clock=clock)
    assert [(o.bank, o.status) for o in outcomes] == [("b2", "failed"), ("a1", "done")]
    failed = session.execute(select(JobRun).where(JobRun.bank_id == second.id)).scalar_one()
    assert failed.status == "failed" and "兑换期" in failed.error


@pytest.mark.parametrize("name, period", [("weekly", "2026-10"), ("monthly", "2026-13"),
                                          ("quarterly", "2026-Q5"), ("daily", "2026-10")])
def test_unknown_jobs_and_periods_that_do_not_exist_are_refused(name, period):
    with pytest.raises(ValidationError):
        jobs.parse(jobs.get_job(name), period)


def test_the_daily_close_freezes_counts_points_per_rule_the_head_and_late_reviews(app, session, make):
    bank = _bank(session, "hp", at(2026, 10, 1))
    wang = make.resident(bank, name="王五")
    deed(session, bank, "patrol", [wang], date(2026, 10, 5), at(2026, 10, 5, 19), quantity=2)
    deed(session, bank, "litter", [wang], date(2026, 10, 5), at(2026, 10, 5, 19, 30))
    deed(session, bank, "mediation", [wang], date(2026, 10, 3), at(2026, 10, 3, 12))  # waits for review
    job = jobs.JOBS["daily"]
    [outcome] = runs.run_by_hand(_sessions(app), [bank], job, jobs.parse(job, "2026-10-05"),
                                 clock=at(2026, 10, 5, 21, 1))
    assert outcome.status == "done", outcome.message
    closed = reports.content_of(reports.get_snapshot(session, bank.id, "day", "2026-10-05"))
    assert (closed["count"], closed["points"]) == (2, -1)
    assert {t["rule"]: t["points"] for t in closed["totals"]} == {"patrol": 4, "litter": -5}
    assert closed["head"]["seq"] == 2 and len(closed["pending_overdue"]) == 1


def test_register_api_and_pdf_have_the_days_entries_and_signature_lines(app, session, make, client, tmp_path):
    bank = make.bank()
    wang = make.resident(bank, name="吉𠮷")
    [t] = deed(session, bank, "patrol", [wang], date(2026, 10, 14), make.clock).transfers
    reversals.reverse_transfer(session, bank, t.id, reason="记错", by="clerk", clock=make.clock)
    headers = make.token(bank, "clerk")
    body = client.get("/api/v1/banks/hp/registers/2026-10-15", headers=headers).get_json()
    assert [e["points"] for e in body["entries"]] == [2, -2] and body["entries"][1]["reverses"] == t.id
    assert body["totals"] == [{"rule": "patrol", "rule_name": "夜间巡逻", "count": 2, "points": 0}]
    pdf = client.get("/api/v1/banks/hp/registers/2026-10-15.pdf", headers=headers)
    text, _ = pdf_text(pdf.data, tmp_path)
    assert "吉𠮷" in text and "记分员" in text and "理事" in text
    assert client.get("/api/v1/banks/hp/registers/2026-02-30", headers=headers).status_code == 422


def test_the_year_is_commended_from_sealed_months_then_points_expire(app, session, make, tmp_path,
                                                                     app_context):
    rules = RULES.replace("account_unit: person", "account_unit: person\n  expiry: year_end\n  cycle:\n"
                          "    titles:\n      - {name: 平安卫士, count: 1, unit: person, category: 社会治安}\n"
                          "      - {name: 文明家庭, count: 2, unit: household}")
    bank = _bank(session, "hp", at(2026, 11, 20), rules=rules)
    people = [make.resident(bank, name=n) for n in ("龚𪚥", "李𬌗", "张三")]
    deed(session, bank, "patrol", people[:2], date(2026, 11, 21), at(2026, 11, 21, 20), quantity=3)
    deed(session, bank, "cleanup", [people[2]], date(2026, 12, 2), at(2026, 12, 2, 20))
    for when in (at(2026, 12, 2, 9), at(2027, 1, 2, 9), at(2027, 1, 9, 9)):
        runs.sweep(_sessions(app), clock=when)
    outcomes = runs.sweep(_sessions(app), clock=at(2027, 1, 10, 9))
    assert [(o.job, o.period, o.status) for o in outcomes if o.job == "annual"] == [("annual", "2026", "done")]
    year = reports.get_snapshot(session, bank.id, "year", "2026")
    content = reports.content_of(year)
    [guard, family] = content["awards"]
    # a tie at 6 points: the same penalties and deeds, so the earlier registration
    assert [w["name"] for w in guard["awardees"]] == ["龚𪚥"]
    assert len(family["awardees"]) == 2
    assert content["rankings"]["categories"]["社会治安"][1]["rank"] == 1
    expired = session.execute(select(Transfer).where(Transfer.kind == "expiry")).scalars().all()
    assert sorted(t.amount for t in expired) == [3, 6, 6]
    session.expire_all()
    assert verify_bank(session, session.get(type(bank), bank.id)).ok
    roll, _ = pdf_text(paper.honour_roll_pdf(content, year.content_hash, when=year.created_at), tmp_path)
    assert "平安卫士" in roll and "龚𪚥" in roll
    cert, _ = pdf_text(paper.certificate_pdf(content, guard, guard["awardees"][0], issued="2027年1月10日",
                                             when=year.created_at), tmp_path)
    assert "奖" in cert and "龚𪚥" in cert and "平安卫士" in cert


def test_cli_runs_a_job_for_all_banks_and_refuses_bad_input(app, session, database_url, monkeypatch):
    from zongzhi.cli import main

    _bank(session, "hp", at(2026, 9, 1))
    _bank(session, "xz", at(2026, 9, 1))
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    cli = CliRunner()
    ran = cli.invoke(main, ["cycle", "run", "daily", "--bank", "all", "--period", "2026-10-14"])
    assert ran.exit_code == 0, ran.output
    assert "hp daily 2026-10-14" in ran.output and "xz daily 2026-10-14" in ran.output
    for args in (["weekly", "--bank", "hp", "--period", "2026-10"],
                 ["monthly", "--bank", "hp", "--period", "2026-13"],
                 ["quarterly", "--bank", "hp", "--period", "2026-Q5"],
                 ["monthly", "--bank", "nowhere", "--period", "2026-09"]):
        refused = cli.invoke(main, ["cycle", "run", *args])
        assert refused.exit_code == 1 and "错误" in refused.output, (args, refused.output)
    assert len(_runs(session)) == 2


def test_a_job_run_by_hand_logs_its_own_steps_not_weasyprints(app, session, database_url, monkeypatch, caplog):
    """A notice's PDF is rendered as the job runs; WeasyPrint's INFO lines (one per step of every
    page) would bury what the job itself says."""
    import logging

    from zongzhi.cli import main

    _bank(session, "hp", at(2026, 9, 1))
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    for name in ("weasyprint", "fontTools"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    caplog.set_level(logging.INFO)
    ran = CliRunner().invoke(main, ["cycle", "run", "monthly", "--bank", "hp", "--period", "2026-09"])
    assert ran.exit_code == 0, ran.output
    assert not [r for r in caplog.records if r.name.startswith(("weasyprint", "fontTools"))
                and r.levelno < logging.WARNING]
    assert logging.getLogger("weasyprint").getEffectiveLevel() == logging.WARNING
