"""`zongzhi cycle status` and `zongzhi worker` from the command line: what they show, what they refuse."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cycle import jobs, runs
from tests.reports.helpers import at
from zongzhi.cli import main


@pytest.fixture
def cli(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    monkeypatch.setenv("ZONGZHI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("ZONGZHI_BROKER_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_status_names_each_banks_runs_and_a_bank_without_any(cli, app, make):
    first, _ = make.bank("a1"), make.bank("b2")
    job = jobs.JOBS["monthly"]
    runs.run_by_hand(app.extensions["zongzhi.sessions"], [first], job, jobs.parse(job, "2026-09"),
                     clock=at(2026, 10, 15))
    shown = cli("cycle", "status", "--period", "2026-09")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("a1 monthly 2026-09: done (attempts 1, 2026-10-15 10:00) — 公示 ")
    assert lines[1] == "b2 2026-09: 无 none"


@pytest.mark.parametrize("args, says", [
    (["--period", "2026-13"], "不是一个存在的周期"),
    (["--period", "2026-Q5"], "不是一个存在的周期"),
    (["--period", "x" * 300], "不是一个存在的周期"),
    (["--period", "2026-10", "--bank", "nosuch"], "找不到该银行"),
])
def test_status_refuses_a_period_or_bank_that_does_not_exist(cli, make, args, says):
    make.bank("a1")
    refused = cli("cycle", "status", *args)
    assert refused.exit_code == 1 and says in refused.output


def test_a_worker_without_a_broker_says_what_to_set_and_exits_1(cli):
    refused = cli("worker")
    assert refused.exit_code == 1 and "ZONGZHI_BROKER_URL" in refused.output


@pytest.mark.parametrize("concurrency", ["0", "-1", "x", "100000"])
def test_a_worker_refuses_a_concurrency_out_of_bounds(cli, concurrency):
    assert cli("worker", "--concurrency", concurrency).exit_code == 2


@pytest.mark.parametrize("nice", ["-1", "20", "x"])
def test_a_worker_refuses_a_niceness_out_of_bounds(cli, nice):
    refused = cli("worker", "--nice", nice)
    assert refused.exit_code == 2 and "--nice" in refused.output
