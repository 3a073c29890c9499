"""The monthly figures, kept and current, say what the transfers posted in the test say."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from redemption import domain
from stats import upkeep


def _months(client, headers, query="from=2026-09&to=2026-10"):
    answer = client.get(f"/api/v1/banks/hp/stats?{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return {m["month"]: m for m in answer.get_json()["months"]}


def test_every_figure_of_october_is_what_the_transfers_posted_make_it(client, village):
    october = _months(client, village.supervisor)["2026-10"]
    # 王大 6 + 30; 李四's 6 reversed: 36 earned, by 王大 alone of the three registered.
    assert october["points"] == 36
    assert october["points_by_category"]["社会治安"] == 6
    assert october["points_by_category"]["环境卫生"] == 30
    assert october["active_residents"] == 1 and october["residents"] == 3
    assert october["participation_percent"] == 33.3
    assert october["penalty_points"] == 5
    assert october["penalties_by_rule"] == [{"rule": "litter", "name": "乱扔垃圾", "points": 5}]
    assert october["redeemed_points"] == 30
    # Held at the month's end: 王二 3 + 王大 6 + 30 − 30 + 李四 −5 (a debt nets against the rest).
    assert october["points_outstanding"] == 4
    # ¥1,000.00 received, ¥250.00 of it spent on the shelf: cash ¥750.00; the shelf less one bag.
    assert october["fund_fen"] == 75_000
    backing = 75_000 + 25_000 - 2_500
    assert october["coverage_percent"] == domain.coverage(4, 10, backing, 120).percent
    assert october["coverage_warning"] is False and october["coverage_warning_percent"] == 120
    assert october["objections"] == {"filed": 1, "upheld": 0}


def test_a_deed_dated_back_in_september_counts_in_september(client, village):
    september = _months(client, village.supervisor)["2026-09"]
    assert september["points"] == 3 and september["active_residents"] == 1
    assert september["points_by_category"]["环境卫生"] == 3
    # Nobody was registered by the end of September, but 王二's deed is dated in it: he was there.
    assert september["residents"] == 1 and september["participation_percent"] == 100.0
    assert september["points_outstanding"] == 3 and september["fund_fen"] == 0


def test_the_recomputed_figures_agree_with_the_kept_ones(session, village):
    assert upkeep.check(session, village.bank) == []


def test_a_figure_changed_behind_the_ledger_is_named_by_the_check(app, session, village):
    upkeep.catch_up(session, village.bank)
    session.commit()
    with app.extensions["zongzhi.engine"].begin() as conn:
        conn.execute(text("UPDATE stats_months SET earned = earned + 1 WHERE month = 202610"))
    [difference] = upkeep.check(session, village.bank)
    assert (difference.month, difference.figure, difference.kept, difference.recomputed) == \
        (202610, "earned", 37, 36)


def test_verify_on_the_command_line_runs_the_figures_check(app, session, village, database_url,
                                                          monkeypatch, tmp_path):
    from click.testing import CliRunner

    from zongzhi.cli import main

    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    monkeypatch.setenv("ZONGZHI_INSTANCE", str(tmp_path / "instance"))
    upkeep.catch_up(session, village.bank)
    session.commit()
    assert CliRunner().invoke(main, ["verify", "hp"]).exit_code == 0
    with app.extensions["zongzhi.engine"].begin() as conn:
        conn.execute(text("UPDATE stats_rule_months SET penalty = 0 WHERE rule_code = 'litter'"))
    broken = CliRunner().invoke(main, ["verify", "hp"])
    assert broken.exit_code == 1
    assert "figures_differ" in broken.output and "2026-10 penalty:litter" in broken.output


def test_a_posting_rolled_back_leaves_the_figures_as_they_were(client, session, make, village):
    from ground.errors import ZongzhiError

    before = _months(client, village.supervisor)
    with pytest.raises(ZongzhiError):
        # The patrol cap is 8 points a day: 王大 has 6 today, 2 hours more would be 10.
        make.deed(village.bank, "patrol", [village.wang, village.li], quantity=2)
    assert _months(client, village.supervisor) == before
    assert upkeep.check(session, village.bank) == []


@pytest.mark.parametrize("query, field", [
    ("from=2026-11&to=2026-10", "from"),
    ("from=2016-01&to=2026-10", "to"),
    ("from=2026-13", "from"),
    ("to=2026-1", "to"),
    ("from=1999-12", "from"),
    ("to=%00", "to"),
    ("from=" + "9" * 30, "from"),
])
def test_a_bad_range_is_refused_naming_the_field(client, make, query, field):
    bank = make.bank()
    answer = client.get(f"/api/v1/banks/{bank.code}/stats?{query}", headers=make.token(bank, "supervisor"))
    assert answer.status_code == 422, answer.get_json()
    assert list(answer.get_json()["fields"]) == [field]


def test_ten_years_of_months_may_be_asked_at_once_and_come_in_order(client, make):
    bank = make.bank()
    months = _months(client, make.token(bank, "supervisor"), "from=2016-11&to=2026-10")
    assert len(months) == 120 and list(months) == sorted(months)
    assert all(m["points"] == 0 and m["participation_percent"] is None for m in months.values())


def test_without_a_range_the_last_twelve_months_come(client, make):
    bank = make.bank()
    months = _months(client, make.token(bank, "clerk"), "")
    assert list(months)[0] == "2025-11" and list(months)[-1] == "2026-10"


@pytest.mark.parametrize("role, status", [("desk", 403), ("supervisor", 200), ("reviewer", 200)])
def test_who_may_read_a_banks_figures(client, make, role, status):
    bank = make.bank()
    assert client.get("/api/v1/banks/hp/stats", headers=make.token(bank, role)).status_code == status


def test_another_banks_figures_answer_404(client, make):
    make.bank()
    other = make.bank(code="xz", name="新庄村综治银行")
    assert client.get("/api/v1/banks/hp/stats", headers=make.token(other, "supervisor")).status_code == 404
