"""The `zongzhi` command line, as a script or an IT helper would run it."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import migrations
from zongzhi.cli import main


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(main, list(args), catch_exceptions=False, **kw)


def test_db_upgrade_is_idempotent_and_reaches_every_head(cli, database_url):
    assert cli("db", "upgrade").exit_code == 0
    second = cli("db", "upgrade")
    assert second.exit_code == 0
    assert migrations.current(database_url) == migrations.heads()
    assert all(head in second.output for head in migrations.heads())


def test_a_bank_a_clerk_and_a_token_that_works(cli, app):
    made = cli("bank", "create", "hp", "--name", "和平村综治银行")
    assert made.exit_code == 0, made.output
    assert "rules version 1" in made.output
    assert cli("user", "create", "wang", "--bank", "hp", "--role", "clerk", "--password-stdin",
               input="a long password\n").exit_code == 0
    issued = cli("token", "create", "wang")
    token = issued.stdout.strip()
    assert issued.exit_code == 0 and len(token) >= 40 and "\n" not in token
    answer = app.test_client().get("/api/v1/banks/hp/rules", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert any(r["name"] == "夜间巡逻" for r in answer.get_json()["rules"])


def test_a_second_bank_with_the_same_code_is_refused(cli):
    assert cli("bank", "create", "hp", "--name", "和平村").exit_code == 0
    again = cli("bank", "create", "hp", "--name", "和平村")
    assert again.exit_code == 1 and "已存在" in again.output


@pytest.mark.parametrize("args, says", [
    (["user", "create", "li", "--bank", "nowhere", "--role", "clerk", "--password-stdin"], "银行"),
    (["user", "create", "li", "--bank", "hp", "--role", "clerk", "--password-stdin"], "password"),
])
def test_bad_user_creation_exits_1_with_the_reason(cli, args, says):
    cli("bank", "create", "hp", "--name", "和平村")
    result = cli(*args, input="short\n")
    assert result.exit_code == 1 and says in result.output


def test_token_for_an_unknown_user_exits_1(cli):
    assert cli("token", "create", "ghost").exit_code == 1


def test_rules_check_passes_the_default_file_and_fails_a_bad_one(cli, tmp_path):
    assert cli("rules", "check", "seed_data/rules/default.yaml").exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - code: patrol\n    name: 巡逻\n    category: 治安\n    points: 2.5\n"
                   "    unit: 次\n", encoding="utf-8")
    result = cli("rules", "check", str(bad))
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert f"{bad}:4: rules[0].category: " in lines[0]
    assert lines[1].startswith(f"{bad}:5: rules[0].points: ")


def test_rules_load_prints_the_hash_and_refuses_a_bad_file(cli, tmp_path):
    cli("bank", "create", "hp", "--name", "和平村")
    good = tmp_path / "v2.yaml"
    good.write_text("rules:\n  - {code: sweep, name: 扫街, category: 环境卫生, points: 1, unit: 次}\n",
                    encoding="utf-8")
    loaded = cli("rules", "load", "hp", str(good))
    assert loaded.exit_code == 0 and len(loaded.stdout.strip()) == 64
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [", encoding="utf-8")
    assert cli("rules", "load", "hp", str(bad)).exit_code == 1
    assert cli("rules", "load", "hp", str(good)).stdout.strip() == loaded.stdout.strip()
