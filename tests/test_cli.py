"""The `zongzhi` command line, as a script or an IT helper would run it."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import migrations
from ground.clock import FixedClock
from zongzhi.app import BLUEPRINTS
from zongzhi.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", database_url)
    monkeypatch.setenv("ZONGZHI_INSTANCE", str(tmp_path / "instance"))
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


@pytest.mark.parametrize("name", ["a\x01b", "和平村\x00", "和平\u202e村", "\ud800"])
def test_a_bank_name_with_a_control_character_is_refused_and_nothing_made(cli, name):
    refused = cli("bank", "create", "hp", "--name", name)
    assert refused.exit_code == 1 and "name:" in refused.output
    assert cli("bank", "create", "hp", "--name", "和平村").exit_code == 0  # the code was not taken


def test_all_is_no_banks_code_and_a_code_differing_only_in_case_is_taken(cli):
    for code in ("all", "ALL"):
        refused = cli("bank", "create", code, "--name", "全部")
        assert refused.exit_code == 1 and "--bank all" in refused.output, code
    assert cli("bank", "create", "heping", "--name", "和平村").exit_code == 0
    again = cli("bank", "create", "HePing", "--name", "和平村二")
    assert again.exit_code == 1 and "已存在" in again.output


def test_cycle_run_with_the_broker_down_says_nothing_was_queued_and_exits_1(cli, monkeypatch):
    cli("bank", "create", "hp", "--name", "和平村")
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    monkeypatch.setenv("ZONGZHI_BROKER_URL", f"redis://127.0.0.1:{port}/9")
    shown = cli("cycle", "run", "daily", "--bank", "all", "--period", "2026-10-14")
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    assert "0 of 1 banks queued" in shown.stderr and "1 not queued" in shown.stderr


def test_an_export_to_a_folder_that_does_not_exist_says_so_and_exits_1(cli, tmp_path):
    cli("bank", "create", "hp", "--name", "和平村")
    result = cli("export", "hp", "--format", "csv", "-o", str(tmp_path / "nowhere" / "hp.csv"))
    assert result.exit_code == 1 and "无法写入" in result.output and "Traceback" not in result.output


def test_an_export_onto_the_database_itself_is_refused_and_the_database_kept(cli, database_url):
    if not database_url.startswith("sqlite:///"):
        pytest.skip("an SQLite database is a file")
    cli("bank", "create", "hp", "--name", "和平村")
    path = Path(database_url.removeprefix("sqlite:///"))
    size = path.stat().st_size
    result = cli("export", "hp", "--format", "csv", "-o", str(path))
    assert result.exit_code == 1 and "数据库本身" in result.output
    assert path.stat().st_size == size and cli("verify", "hp").exit_code == 0


def test_an_export_that_cannot_be_written_whole_leaves_the_old_file_and_says_why(cli, tmp_path, monkeypatch):
    from ledger import export as exporter

    cli("bank", "create", "hp", "--name", "和平村")
    old = tmp_path / "hp.csv"
    old.write_text("last month's export\n", encoding="utf-8")

    def full_disk(session, bank, out):
        out.write("seq,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exporter, "write_csv", full_disk)
    result = cli("export", "hp", "--format", "csv", "-o", str(old))
    assert result.exit_code == 1 and "No space left on device" in result.output and "Traceback" not in result.output
    assert old.read_text(encoding="utf-8") == "last month's export\n"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".export-")]   # no scratch left


def test_an_export_to_dash_goes_to_standard_output(cli, tmp_path, monkeypatch):
    cli("bank", "create", "hp", "--name", "和平村")
    monkeypatch.chdir(tmp_path)
    result = cli("export", "hp", "--format", "beancount", "-o", "-")
    assert result.exit_code == 0 and "open" in result.stdout and not (tmp_path / "-").exists()


def test_a_county_admin_made_with_a_bank_is_told_it_acts_in_every_bank(cli, app):
    cli("bank", "create", "hp", "--name", "和平村")
    made = cli("user", "create", "zhou", "--bank", "hp", "--role", "admin", "--password-stdin",
               input="a long password\n")
    assert made.exit_code == 0 and "--bank does not narrow it" in made.output


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
    assert cli("token", "list", "ghost").exit_code == 1


@pytest.fixture
def wang(cli):
    """A bank and a clerk, made from the command line."""
    cli("bank", "create", "hp", "--name", "和平村")
    cli("user", "create", "wang", "--bank", "hp", "--role", "clerk", "--password-stdin",
        input="a long password\n")
    return "wang"


def _at(app, moment) -> None:
    app.extensions["zongzhi.clock"] = FixedClock(at=moment)


def _rules(app, token):
    return app.test_client().get("/api/v1/banks/hp/rules", headers={"Authorization": f"Bearer {token}"})


def test_a_token_expires_after_its_days_and_then_answers_401(cli, wang, app):
    token = cli("token", "create", "wang", "--expires-days", "2").stdout.strip()
    now = datetime.now(timezone.utc)
    _at(app, now + timedelta(days=1, hours=23))
    assert _rules(app, token).status_code == 200
    _at(app, now + timedelta(days=2, minutes=1))
    expired = _rules(app, token)
    assert expired.status_code == 401 and expired.get_json()["error"] == "unauthorized"


def test_a_token_expires_after_a_year_unless_told_otherwise(cli, wang, app):
    token = cli("token", "create", "wang").stdout.strip()
    now = datetime.now(timezone.utc)
    _at(app, now + timedelta(days=364))
    assert _rules(app, token).status_code == 200
    _at(app, now + timedelta(days=365, minutes=1))
    assert _rules(app, token).status_code == 401


@pytest.mark.parametrize("days", ["0", "3651", "-1", "a year"])
def test_token_days_out_of_bounds_are_refused_and_nothing_is_issued(cli, wang, days):
    refused = cli("token", "create", "wang", "--expires-days", days)
    assert refused.exit_code == 2 and "--expires-days" in refused.output
    assert len(cli("token", "list", "wang").stdout.strip().splitlines()) == 1  # the heading alone


def test_token_list_shows_ids_dates_and_last_use_and_never_the_secret(cli, wang, app):
    first = cli("token", "create", "wang").stdout.strip()
    second = cli("token", "create", "wang", "--expires-days", "30").stdout.strip()
    _at(app, datetime.now(timezone.utc))
    assert _rules(app, first).status_code == 200
    listed = cli("token", "list", "wang")
    assert listed.exit_code == 0
    heading, *rows = listed.stdout.strip().splitlines()
    assert heading.split()[:3] == ["id", "created", "expires"] and "last used" in heading
    assert [row.split()[0] for row in rows] == ["1", "2"]
    village_now = datetime.now(ZoneInfo("Asia/Shanghai"))
    today = village_now.date()
    assert rows[0].split()[3] == str((village_now + timedelta(days=365)).date())
    assert rows[0].split()[5] == str(today) and rows[0].endswith("active")   # used today
    assert "never" in rows[1] and str(today + timedelta(days=30)) in rows[1]
    assert first not in listed.output and second not in listed.output


def test_a_revoked_token_answers_401_at_once_and_says_so_in_the_list(cli, wang, app):
    token = cli("token", "create", "wang").stdout.strip()
    keep = cli("token", "create", "wang").stdout.strip()
    _at(app, datetime.now(timezone.utc))
    assert _rules(app, token).status_code == 200
    first = cli("token", "revoke", "1")
    assert first.exit_code == 0 and "token 1 revoked at" in first.stderr
    assert _rules(app, token).status_code == 401
    assert _rules(app, keep).status_code == 200  # the user's other token goes on
    rows = cli("token", "list", "wang").stdout.strip().splitlines()[1:]
    assert "revoked" in rows[0] and rows[1].endswith("active")
    again = cli("token", "revoke", "1")                   # again: nothing more to do, and said so
    assert again.exit_code == 0 and "token 1 was already revoked at" in again.stderr


@pytest.mark.parametrize("token_id, code", [("99", 1), ("0", 2), ("x", 2), (str(2 ** 64), 2)])
def test_revoking_a_token_that_does_not_exist_fails(cli, wang, token_id, code):
    cli("token", "create", "wang")
    assert cli("token", "revoke", token_id).exit_code == code


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


def _alias_bomb() -> str:
    """324 bytes of YAML whose aliases unfold to 9**9 strings: gigabytes, if they were followed."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for before, name in zip("abcdefghi", "bcdefghij"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{before}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("content, said", [
    (_alias_bomb(), ":2: yaml: 规则文件不能使用 YAML 别名（*a）"),
    ("a: &a [*a]\n", ":1: yaml: 规则文件不能使用 YAML 别名（*a）"),
    ("[" * 100_000 + "\n", ":1: yaml: 嵌套超过 20 层"),
    (b"rules: \xff\xfe bad\n", ":1: file: 不是 UTF-8 编码的文本"),
    ("# " + "x" * 1_000_001 + "\n", ":1: file: 规则文件超过 1000000 字节"),
], ids=["alias bomb", "alias loop", "deep", "not utf-8", "too big"])
def test_a_rule_file_that_would_run_away_or_cannot_be_read_is_one_line_and_exit_1(cli, tmp_path, content, said):
    path = tmp_path / "r.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    cli("bank", "create", "hp", "--name", "和平村")
    checked = cli("rules", "check", str(path))
    assert (checked.exit_code, checked.stdout.strip()) == (1, f"{path}{said}")
    for command in (["rules", "load", "hp", str(path)], ["bank", "create", "xz", "--name", "新庄村", "--rules", str(path)]):
        result = cli(*command)
        assert result.exit_code == 1 and f"{path}{said}" in result.output.splitlines()[-1], command
        assert "Traceback" not in result.output


def test_rules_check_of_a_folder_or_a_missing_file_says_so_on_one_line(cli, tmp_path):
    for path, said in ((tmp_path, "是文件夹，不是规则文件"), (tmp_path / "nope.yaml", "无法读取：")):
        result = cli("rules", "check", str(path))
        assert result.exit_code == 1 and result.stdout.startswith(f"{path}:1: file: {said}")


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


@pytest.fixture
def served(monkeypatch):
    """Stop `serve` and `demo` short of serving: record what they would have served."""
    import cycle.scheduler
    import waitress

    calls = []
    monkeypatch.setenv("ZONGZHI_SECRET_KEY", "a key every server of the test shares")
    import zongzhi.serving

    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(zongzhi.serving, "stop_on_signals", lambda: None)  # pytest's own stay
    monkeypatch.setattr(zongzhi.serving, "settle", lambda: None)  # pytest's objects stay in sight
    # a port of the machine's choosing, not 8000, which something else may hold
    monkeypatch.setattr(zongzhi.serving, "listening_socket",
                        lambda host, port: socket.create_server(("127.0.0.1", 0)))
    monkeypatch.setattr(cycle.scheduler, "start_background", lambda app: None)
    return calls


def test_the_demo_prints_every_roles_login_and_warns_without_a_public_url(cli, served, monkeypatch):
    from seed_data.demo import USERS

    monkeypatch.delenv("ZONGZHI_PUBLIC_URL", raising=False)
    shown = cli("demo", "--port", "8123")
    assert shown.exit_code == 0, shown.output
    [call] = served
    assert call["threads"] == 8 and len(call["sockets"]) == 1
    for name, role, password in USERS:
        assert f"{role} login" in shown.stdout and f"{name} / {password}" in shown.stdout
    assert "ZONGZHI_PUBLIC_URL" in shown.stderr and "127.0.0.1" in shown.stderr
    assert "ZONGZHI_PUBLIC_URL=http://192.168.1.20:8123 zongzhi demo --host 0.0.0.0" in shown.stderr


def test_the_demo_is_not_planted_in_a_database_of_other_banks_and_users(cli, served):
    from sqlalchemy import func, select

    from ground.tenants import Bank, User

    cli("db", "upgrade")
    cli("bank", "create", "xz", "--name", "新庄村")
    cli("user", "create", "clerk", "--bank", "xz", "--role", "clerk", "--password-stdin",
        input="a long enough password\n")
    refused = cli("demo", "--port", "8124")
    assert refused.exit_code == 1 and "zongzhi serve" in refused.stderr
    assert served == []
    from zongzhi.app import create_app

    app = create_app()
    with app.app_context():
        db = app.extensions["zongzhi.sessions"]()
        try:
            assert db.execute(select(func.count()).select_from(Bank)).scalar() == 1
            assert db.execute(select(User.name)).scalars().all() == ["clerk"]   # no county admin planted
        finally:
            db.close()


def test_the_demo_refuses_a_port_in_use_or_out_of_range_before_seeding_anything(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("ZONGZHI_SECRET_KEY", "a key every server of the test shares")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        shown = cli("demo", "--port", str(port))
    assert shown.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in shown.stderr and "--port" in shown.stderr
    assert "preparing the demo village" not in shown.stdout
    for bad in ("0", "65536", "-1", "http"):
        refused = cli("demo", "--port", bad)
        assert refused.exit_code == 2 and "--port" in refused.stderr, bad


def test_a_server_serves_with_what_lived_before_its_first_request_out_of_the_collectors_sight(monkeypatch):
    import gc

    import waitress

    import zongzhi.serving
    from zongzhi.app import create_app

    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "t"})
    seen = {}

    def serve(served_app, **_kw):
        tracked = gc.get_objects()
        seen["app in sight"] = any(o is served_app for o in tracked)
        seen["frozen"], seen["in sight"] = gc.get_freeze_count(), len(tracked)

    monkeypatch.setattr(waitress, "serve", serve)
    monkeypatch.setattr(zongzhi.serving, "stop_on_signals", lambda: None)
    try:
        with socket.create_server(("127.0.0.1", 0)) as sock:
            zongzhi.serving.serve_one(app, sock, threads=1)
    finally:
        gc.unfreeze()
    assert seen["app in sight"] is False
    # Everything the process held when it began to serve: far more than the collector still sees.
    assert seen["frozen"] > 100_000 and seen["in sight"] < seen["frozen"] / 100


def test_serve_warns_that_phones_cannot_reach_127_0_0_1_without_a_public_url(cli, served, monkeypatch):
    monkeypatch.delenv("ZONGZHI_PUBLIC_URL", raising=False)
    shown = cli("serve")
    assert shown.exit_code == 0, shown.output
    assert "居民的手机无法访问 127.0.0.1" in shown.stderr and "ZONGZHI_PUBLIC_URL" in shown.stderr


def test_serve_says_nothing_of_the_public_url_when_it_is_set(cli, served, monkeypatch):
    monkeypatch.setenv("ZONGZHI_PUBLIC_URL", "http://192.168.1.20:8000")
    shown = cli("serve")
    assert shown.exit_code == 0, shown.output
    assert "ZONGZHI_PUBLIC_URL" not in shown.output


@pytest.mark.parametrize("command", [("verify", "hp"), ("token", "list", "wang"), ("bank", "create", "hp", "--name", "和平村"),
                                     ("cycle", "status", "--period", "2026-10"), ("serve",), ("scheduler",), ("worker",),
                                     ("cycle", "run", "daily", "--bank", "hp", "--period", "2026-10-05")])
def test_a_command_on_a_database_without_its_schema_says_to_run_db_upgrade(cli, served, monkeypatch, tmp_path, command):
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", f"sqlite:///{tmp_path}/never-upgraded.db")
    monkeypatch.setenv("ZONGZHI_BROKER_URL", "redis://127.0.0.1:6379/13")
    shown = cli(*command)
    assert shown.exit_code == 1 and served == []
    assert shown.stderr.startswith("错误 error: 数据库尚未建立") and "`zongzhi db upgrade`" in shown.stderr
    assert "Traceback" not in shown.output
    assert not (tmp_path / "never-upgraded.db").exists()  # a mistyped path leaves no empty database behind


@pytest.mark.parametrize("command", [("db", "upgrade"), ("verify", "hp"), ("bank", "create", "hp", "--name", "和平村"),
                                     ("cycle", "status", "--period", "2026-10")])
def test_a_command_whose_database_cannot_be_reached_says_so_in_one_line(cli, monkeypatch, command):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]          # a port nothing listens on once this closes
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", f"postgresql://postgres:secret@127.0.0.1:{port}/county")
    shown = cli(*command)
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    assert shown.stderr.startswith("错误 error: 无法使用数据库 cannot use the database:")
    assert len(shown.stderr.strip().splitlines()) == 1 and "secret" not in shown.stderr


def test_a_database_file_made_empty_elsewhere_still_says_to_run_db_upgrade(cli, monkeypatch, tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    shown = cli("verify", "hp")
    assert shown.exit_code == 1 and "`zongzhi db upgrade`" in shown.stderr and "Traceback" not in shown.output


def test_a_database_an_upgrade_behind_names_both_schemas(cli, monkeypatch, tmp_path):
    import migrations

    url = f"sqlite:///{tmp_path}/behind.db"
    migrations.upgrade(url, "0001")
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", url)
    shown = cli("cycle", "status", "--period", "2026-10")  # its table came after the first schema
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    assert "0001" in shown.stderr and all(head in shown.stderr for head in migrations.heads())
    assert cli("db", "upgrade").exit_code == 0
    assert cli("cycle", "status", "--period", "2026-10").exit_code == 0  # no bank, no run: nothing failed


#: Settings no command can use, each with the variable its refusal must name.
BAD_SETTINGS = [
    ("ZONGZHI_TIMEZONE", "Mars/Olympus"),
    ("ZONGZHI_TIMEZONE", "../../etc/passwd"),
    ("ZONGZHI_REPLICA_MAX_LAG_S", "abc"),
    ("ZONGZHI_REPLICA_MAX_LAG_S", "nan"),
    ("ZONGZHI_REPLICA_MAX_LAG_S", "-1"),
    ("ZONGZHI_REPLICA_MAX_LAG_S", "1e18"),
    ("ZONGZHI_CYCLE_LEASE_S", "0"),
    ("ZONGZHI_CYCLE_RETRY_S", "inf"),
    ("ZONGZHI_BROKER_URL", "http://broker:5672"),
    ("ZONGZHI_REDIS_URL", "nonsense"),
    ("ZONGZHI_REPLICA_URL", "mysql://zongzhi:s3cret@replica/zongzhi"),
    ("ZONGZHI_PUBLIC_URL", "192.168.1.20:8000"),
    ("ZONGZHI_GROUP_COMMIT", "maybe"),
    ("ZONGZHI_SECURE_COOKIES", "2"),
    ("ZONGZHI_CYCLE_QUEUE", "a queue"),
    ("ZONGZHI_PUBLIC_URL", "http://x/" + "a" * 3000),
    ("ZONGZHI_PUBLIC_URL", "http://"),                     # no host to print in a QR code
    ("ZONGZHI_PUBLIC_URL", "http://x y"),                  # nor a space
]


@pytest.mark.parametrize("variable, value", BAD_SETTINGS)
def test_a_setting_no_server_can_use_stops_serve_with_a_line_naming_it(cli, served, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    shown = cli("serve")
    assert shown.exit_code == 1
    assert served == []
    assert shown.stderr.startswith(f"错误 error: {variable}: ") and "Traceback" not in shown.output
    assert "s3cret" not in shown.output


def test_a_setting_set_empty_is_taken_as_unset(cli, served, monkeypatch):
    # A service file's `ZONGZHI_TIMEZONE=` line: the default, not a refusal.
    for variable in ("ZONGZHI_TIMEZONE", "ZONGZHI_CYCLE_QUEUE", "ZONGZHI_REPLICA_MAX_LAG_S", "ZONGZHI_PUBLIC_URL"):
        monkeypatch.setenv(variable, "")
    shown = cli("serve")
    assert shown.exit_code == 0, shown.output
    assert len(served) == 1


def test_a_database_command_refuses_an_unusable_database_url_and_makes_nothing(cli, monkeypatch, tmp_path):
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", f"mysql://root@localhost/{tmp_path}/x")
    shown = cli("db", "upgrade")
    assert shown.exit_code == 1 and "ZONGZHI_DATABASE_URL" in shown.stderr and "sqlite://" in shown.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_every_unusable_setting_is_named_at_once_and_switches_read_as_on_or_off():
    from zongzhi.config import SettingError, check

    with pytest.raises(SettingError) as refused:
        check({"TIMEZONE": "Nowhere/Never", "REPLICA_MAX_LAG_S": "x", "BROKER_URL": "ftp://b"})
    assert [line.split(":")[0] for line in str(refused.value).splitlines()] == [
        "ZONGZHI_BROKER_URL", "ZONGZHI_REPLICA_MAX_LAG_S", "ZONGZHI_TIMEZONE"]
    # A database or broker on this machine's socket has no host in its URL; the public address needs one.
    read = check({"GROUP_COMMIT": "TRUE", "SECURE_COOKIES": "off", "REPLICA_MAX_LAG_S": "2.5",
                  "TIMEZONE": "Asia/Urumqi", "DATABASE_URL": "postgres://db/zongzhi",
                  "REPLICA_URL": "postgresql:///zongzhi", "BROKER_URL": "amqp://"})
    with pytest.raises(SettingError, match="ZONGZHI_PUBLIC_URL"):
        check({"PUBLIC_URL": "http:///cards"})
    assert (read["GROUP_COMMIT"], read["SECURE_COOKIES"]) == ("1", "")


def test_the_app_refuses_settings_it_cannot_use_before_building_anything(tmp_path):
    from zongzhi.app import create_app
    from zongzhi.config import SettingError

    with pytest.raises(SettingError, match="ZONGZHI_REPLICA_MAX_LAG_S"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "REPLICA_MAX_LAG_S": "nan", "SECRET_KEY": "t"})
    assert list(tmp_path.iterdir()) == []


#: What a command that only works on the database must never load: the app, its blueprints, and
#: the libraries only some screens or jobs use (each costs a large part of a second to import).
NEVER_FOR_THE_DATABASE = ("zongzhi.app", "flask_wtf", "weasyprint", "pypinyin", "matplotlib", "openpyxl",
                          "qrcode", "celery", *BLUEPRINTS)

#: Runs the command line in a fresh interpreter, then writes every module it loaded to a file.
_LOADED = """
import json, sys
from zongzhi.cli import main
try:
    main(sys.argv[2:])
except SystemExit as done:
    code = done.code
with open(sys.argv[1], "w") as out:
    json.dump({"modules": sorted(sys.modules), "code": code}, out)
"""


@pytest.mark.parametrize("args, flask", [
    (["verify", "hp"], False),
    (["export", "hp", "--format", "csv", "-o", "{tmp}/hp.csv"], False),
    (["export", "hp", "--format", "beancount", "-o", "{tmp}/hp.beancount"], False),
    (["cycle", "status", "--period", "2026-10"], False),
    (["rules", "check", "seed_data/rules/default.yaml"], False),
    (["token", "list", "wang"], True),  # the users' functions live with the sign-in, in web.auth
], ids=["verify", "export csv", "export beancount", "cycle status", "rules check", "token list"])
def test_a_database_command_loads_neither_the_app_nor_weasyprint_pypinyin_or_blueprints(
        cli, wang, database_url, tmp_path, args, flask):
    loaded = tmp_path / "loaded.json"
    env = {**os.environ, "ZONGZHI_DATABASE_URL": database_url, "ZONGZHI_INSTANCE": str(tmp_path / "instance")}
    env.pop("ZONGZHI_BROKER_URL", None)
    command = [sys.executable, "-c", _LOADED, str(loaded), *(a.format(tmp=tmp_path) for a in args)]
    ran = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    found = json.loads(loaded.read_text())
    assert found["code"] == 0, ran.stdout + ran.stderr
    never = NEVER_FOR_THE_DATABASE + (() if flask else ("flask", "flask_login", "jinja2"))
    modules = set(found["modules"])
    assert not [m for m in modules if m in never or m.partition(".")[0] in never]
    assert "ground.tenants" in modules or args[0] == "rules"  # it did reach the database


def test_the_scheduler_stops_cleanly_on_sigterm_as_a_service_manager_sends_it(database_url, tmp_path):
    import signal
    import time

    env = {**os.environ, "ZONGZHI_DATABASE_URL": database_url, "ZONGZHI_SECRET_KEY": "t" * 32,
           "ZONGZHI_INSTANCE": str(tmp_path / "instance"), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("ZONGZHI_BROKER_URL", None)
    subprocess.run([sys.executable, "-m", "zongzhi.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    log = tmp_path / "scheduler.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "zongzhi.cli", "scheduler"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for _ in range(300):
                if "Ctrl-C to stop" in log.read_text():
                    break
                time.sleep(0.05)
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in log.read_text()


def test_a_command_without_a_terminal_or_password_stdin_says_how_to_give_the_password(cli):
    cli("bank", "create", "hp", "--name", "和平村")
    shown = cli("user", "create", "wang", "--bank", "hp", "--role", "clerk", input="secret\n")
    assert shown.exit_code == 1 and "--password-stdin" in shown.stderr


def test_a_period_outside_the_years_the_cycle_knows_is_said_so(cli):
    cli("bank", "create", "hp", "--name", "和平村")
    shown = cli("cycle", "run", "monthly", "--bank", "hp", "--period", "1999-01")
    assert shown.exit_code == 1 and "1999-01 不在 2000–2099 年之间" in shown.output


def test_sealing_a_month_without_its_notice_says_the_notice_is_missing(cli):
    cli("bank", "create", "hp", "--name", "和平村")
    shown = cli("cycle", "run", "seal", "--bank", "hp", "--period", "2026-09")
    assert shown.exit_code == 1 and "该月尚未公示" in shown.output and "到期时间 —" not in shown.output
