"""The `zongzhi` command line: schema, banks, rules, users, tokens, verify, export, serving.

A command imports only what it uses, inside its own function: the commands that work on the
database alone (db, bank, rules, user, token, verify, export, cycle status) open it straight from
the settings and never build the app, so they start without Flask's blueprints, WeasyPrint or
pypinyin. Those that serve or run the cycle (serve, demo, worker, scheduler, cycle run) build it.
tests/test_cli.py holds the database commands to that.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import click

from ground.errors import ZongzhiError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ground.clock import Clock

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "seed_data" / "rules" / "default.yaml"

#: How far below normal priority `zongzhi worker` runs: the cycle's rendering is batch work, and on
#: a machine it shares with a web server a resident opening a card should not wait behind it. On
#: a machine of its own the worker gets every core all the same.
WORKER_NICENESS = 10


def _app():
    from .app import create_app
    from .config import SettingError

    try:
        return create_app()
    except SettingError as err:
        _refuse_settings(err)


def _settings() -> dict:
    """The settings the app would read, without building it (refused as the app refuses them)."""
    from . import config

    try:
        return config.check(config.from_environment(config.instance_path()))
    except config.SettingError as err:
        _refuse_settings(err)


def _refuse_settings(err: Exception):
    for line in str(err).splitlines():
        click.echo(f"错误 error: {line}", err=True)
    sys.exit(1)


def _database_url(settings: dict) -> str:
    """The database's URL; for SQLite, its folder made first (as the app makes it)."""
    url = settings["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


@contextmanager
def _opened() -> Iterator[tuple[Session, Clock]]:
    """Open the database for one command: a session and the clock, closed afterwards.

    The engine and clock are the ones the app would make from the same settings, without the
    app itself: no blueprint, template or extension is loaded for a command that only reads or
    writes the database.
    """
    from zoneinfo import ZoneInfo

    from sqlalchemy.exc import DBAPIError

    from ground.clock import Clock
    from ground.db import make_engine, session_factory

    settings = _settings()
    _require_file(settings["DATABASE_URL"])
    engine = make_engine(_database_url(settings), group_commit=settings["GROUP_COMMIT"] == "1")
    session = session_factory(engine)()
    try:
        yield session, Clock(ZoneInfo(settings["TIMEZONE"]))
    except DBAPIError:
        _require_schema(settings["DATABASE_URL"])  # a missing table says more as a missing upgrade
        raise
    finally:
        session.close()
        engine.dispose()


@contextmanager
def _app_opened(app) -> Iterator[tuple[Session, Clock]]:
    """Open the app's database inside its context, for a command that needs the app too."""
    from sqlalchemy.exc import DBAPIError

    session = app.extensions["zongzhi.sessions"]()
    try:
        with app.app_context():
            yield session, app.extensions["zongzhi.clock"]
    except DBAPIError:
        _require_schema(app.config["DATABASE_URL"])
        raise
    finally:
        session.close()
        app.extensions["zongzhi.engine"].dispose()


def _require_file(url: str) -> None:
    """Exit 1 when the URL names an SQLite file that is not there: opening it would make an
    empty one (and its folder), for a path mistyped as readily as for one not yet upgraded."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        _no_schema()


def _no_schema():
    click.echo("错误 error: 数据库尚未建立，请先运行 zongzhi db upgrade "
               "the database has no schema yet: run `zongzhi db upgrade` first", err=True)
    sys.exit(1)


def _require_schema(url: str) -> None:
    """Exit 1 saying so when the database has no schema, or not this version's: `zongzhi db
    upgrade` makes it. A database that cannot be reached is left to the command's own error."""
    import migrations

    _require_file(url)
    try:
        found = migrations.current(url)
    except Exception:  # noqa: BLE001 - unreachable, refused: not a question of the schema
        return
    wanted = migrations.heads()
    if found == wanted:
        return
    if not found:
        _no_schema()
    click.echo(f"错误 error: 数据库结构为 {', '.join(found)} 版，本程序用 {', '.join(wanted)} 版，"
               f"请先运行 zongzhi db upgrade the database's schema is at {', '.join(found)}, "
               f"this version uses {', '.join(wanted)}: run `zongzhi db upgrade` first", err=True)
    sys.exit(1)


def _bank(session: Session, code: str):
    """Return the bank with this code, or raise NotFound (as ledger.banks.get_bank does,
    without loading the services and the rule-file parser they need)."""
    from sqlalchemy import select

    from ground.errors import NotFound
    from ground.i18n import _
    from ground.tenants import Bank

    found = session.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
    if found is None:
        raise NotFound(_("找不到该银行"))
    return found


#: Libraries whose INFO lines are their own working (WeasyPrint's steps of every page), not the
#: cycle's: they speak from WARNING up.
QUIET_LOGGERS = ("weasyprint", "fontTools")


def _log_at_info(*, named: bool = True) -> None:
    """Log the job's own INFO lines to stderr, each with its time (and logger, if `named`)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s "
                        + ("%(name)s " if named else "") + "%(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _fail(err: ZongzhiError) -> None:
    """Say why a command was refused, in Chinese (the command line's language), and exit 1.
    A rule file's problems are said as `rules check` says them: FILE:LINE: field: message."""
    click.echo(f"错误 error: {err.text('zh')}", err=True)
    for field, problems in err.field_texts("zh").items():
        for problem in problems:
            click.echo(f"  {problem}" if field == "rules" else f"  {field}: {problem}", err=True)
    sys.exit(1)


class _Commands(click.Group):
    """The commands, each of which says in one line, not a traceback, that the database cannot
    be reached (a server down, a database not created, a wrong password) and exits 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as err:
            exc = sys.modules.get("sqlalchemy.exc")
            if exc is None or not isinstance(err, (exc.OperationalError, exc.InterfaceError)):
                raise
            why = str(getattr(err, "orig", None) or err).strip().splitlines()
            click.echo(f"错误 error: 无法使用数据库 cannot use the database: {why[0] if why else type(err).__name__}",
                       err=True)
            sys.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """综治银行 Zongzhi Bank: a points bank for villages and neighbourhoods."""


@main.group()
def db():
    """The database schema."""


@db.command("upgrade")
def db_upgrade():
    """Create or migrate the schema (safe to run again)."""
    import migrations

    url = _database_url(_settings())
    migrations.upgrade(url)
    click.echo(f"schema at revision {', '.join(migrations.current(url))}")


@main.group()
def bank():
    """Banks."""


@bank.command("create")
@click.argument("code")
@click.option("--name", required=True, help="the bank's name, e.g. 和平村综治银行")
@click.option("--rules", "rules_file", help="rule file (default: seed_data/rules/default.yaml)")
def bank_create(code, name, rules_file):
    """Open a new bank with its first rule version."""
    from ledger import banks as ledger_banks

    path = Path(rules_file) if rules_file else DEFAULT_RULES
    text = _rule_text(str(path))
    with _opened() as (session, clock):
        try:
            created = ledger_banks.create_bank(session, code, name, rules_text=text,
                                               source_name=str(path), by="cli", clock=clock)
        except ZongzhiError as err:
            _fail(err)
        version, _ = ledger_banks.rulebook(session, created.id)
        click.echo(f"bank {created.code} created, rules version {version.version} {version.content_hash}")


@main.group()
def rules():
    """Rule files."""


def _rule_text(file: str) -> str:
    """A rule file's text; or, if it cannot be read, its problem as FILE:LINE: field: message
    (a folder, missing, too large, not UTF-8) and exit 1."""
    import rules as rulefiles

    try:
        return rulefiles.read_file(file)
    except rulefiles.RuleFileInvalid as invalid:
        for problem in invalid.problems:
            click.echo(str(problem))
        sys.exit(1)


@rules.command("check")
@click.argument("file")
def rules_check(file):
    """Validate a rule file: every problem as FILE:LINE: field: message."""
    import rules as rulefiles

    problems = rulefiles.check(_rule_text(file), file)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        sys.exit(1)
    click.echo(f"{file}: OK", err=True)


@rules.command("load")
@click.argument("code")
@click.argument("file")
def rules_load(code, file):
    """Install a new rule version for a bank; prints its content hash."""
    from ledger import banks as ledger_banks

    text = _rule_text(file)
    with _opened() as (session, clock):
        try:
            target = ledger_banks.get_bank(session, code)
            version = ledger_banks.load_rules(session, target, text, source_name=file, by="cli", clock=clock)
        except ZongzhiError as err:
            _fail(err)
        click.echo(version.content_hash)


@main.group()
def user():
    """Users."""


@user.command("create")
@click.argument("name")
@click.option("--bank", "bank_code", help="the bank's code (not for a county admin)")
@click.option("--role", required=True, type=click.Choice(["admin", "clerk", "reviewer", "supervisor", "desk"]))
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_create(name, bank_code, role, password_stdin):
    """Create a user of one bank, or a county admin of every bank."""
    from web.auth import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            click.echo("错误 error: 没有终端可输入密码：请用 --password-stdin 从标准输入读入 "
                       "no terminal to type the password in: pass it on standard input with --password-stdin",
                       err=True)
            sys.exit(1)
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with _opened() as (session, clock):
        try:
            created = create_user(session, name, bank_code=bank_code, role=role,
                                  password=password, clock=clock)
        except ZongzhiError as err:
            _fail(err)
        click.echo(f"user {created.name} ({created.role}) created", err=True)
        if role == "admin" and bank_code:
            click.echo(f"  注意 note: 县级管理员管理所有银行，--bank {bank_code} 不限制其范围 "
                       "(a county admin acts in every bank; --bank does not narrow it)", err=True)


@main.group()
def token():
    """API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=365, show_default=True,
              help="days until the token stops working (1 to 3650)")
def token_create(name, expires_days):
    """Issue an API token for a user: the token alone on stdout."""
    from web.auth import create_token

    with _opened() as (session, clock):
        try:
            click.echo(create_token(session, name, clock=clock, expires_days=expires_days))
        except ZongzhiError as err:
            _fail(err)


@token.command("list")
@click.argument("name")
def token_list(name):
    """A user's tokens: id, created, expires, last used and state, never the token itself."""
    from web.auth import list_tokens

    with _opened() as (session, clock):
        try:
            tokens = list_tokens(session, name)
        except ZongzhiError as err:
            _fail(err)
        now = clock.now()
    click.echo(f"{'id':>6}  {'created':16}  {'expires':16}  {'last used':16}  state")
    for t in tokens:
        state = ("revoked " + _when(t.revoked_at, clock) if t.revoked_at else
                 "expired" if t.expires_at <= now else "active")
        click.echo(f"{t.id:>6}  {_when(t.created_at, clock):16}  {_when(t.expires_at, clock):16}  "
                   f"{_when(t.last_used_at, clock) or 'never':16}  {state}")


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(1, 2 ** 53 - 1))
def token_revoke(token_id):
    """Revoke a token at once: the next request that carries it answers 401."""
    from ground.tenants import ApiToken
    from web.auth import revoke_token

    with _opened() as (session, clock):
        # Revoking again changes nothing: the first revocation's time is kept, and said as such.
        before = session.get(ApiToken, token_id) if token_id <= 2**31 - 1 else None
        again = before is not None and before.revoked_at is not None
        try:
            revoked = revoke_token(session, token_id, clock=clock)
        except ZongzhiError as err:
            _fail(err)
    click.echo(f"token {revoked.id} {'was already revoked' if again else 'revoked'} at "
               f"{_when(revoked.revoked_at, clock)}", err=True)


def _when(moment, clock: Clock) -> str:
    # In the village's time, to the minute, as the office reads a clock.
    return moment.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M") if moment else ""


@main.command()
@click.argument("code")
def verify(code):
    """Recompute the hash chain, balances and monthly figures; exit 1 naming the first bad transfer."""
    from ledger.verify import verify_bank
    from stats.upkeep import verify_figures

    from .plugins import install_verify

    install_verify()
    with _opened() as (session, clock):
        try:
            bank = _bank(session, code)
            report = verify_bank(session, bank)
            verify_figures(session, bank, report)
        except ZongzhiError as err:
            _fail(err)
    if report.ok:
        click.echo(f"{code}: OK, {report.transfers} transfers, head {report.head}")
        return
    first = report.first_bad_seq
    click.echo(f"{code}: BROKEN" + (f" at transfer seq {first}" if first else ""))
    for problem in report.problems:
        where = f"seq {problem['seq']}: " if "seq" in problem else ""
        click.echo(f"  {where}{problem['problem']}: {problem['message']}")
    sys.exit(1)


@main.command()
@click.argument("code")
@click.option("--format", "fmt", type=click.Choice(["csv", "beancount"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="the file to write (- for standard output)")
def export(code, fmt, output):
    """Write the bank's transfers as CSV or as a beancount journal.

    The file is written whole beside its place and then put there: an export that fails half
    way (a full disk) leaves what was there before, and the database itself is never the file."""
    import os
    import tempfile

    from ledger import export as exporter

    database = _settings()["DATABASE_URL"]
    if output != "-" and database.startswith("sqlite:///") and \
            Path(output).resolve() == Path(database.removeprefix("sqlite:///")).resolve():
        click.echo(f"错误 error: {output} 是数据库本身，不能写入导出 is the database itself", err=True)
        sys.exit(1)
    with _opened() as (session, clock):
        try:
            target = _bank(session, code)
        except ZongzhiError as err:
            _fail(err)
        write = exporter.write_csv if fmt == "csv" else exporter.write_beancount
        if output == "-":
            count = write(session, target, sys.stdout)
            sys.stdout.flush()
        else:
            place = Path(output).resolve().parent
            try:
                fd, scratch = tempfile.mkstemp(dir=place, prefix=".export-", suffix=".part")
            except OSError as err:
                click.echo(f"错误 error: 无法写入 {output}：{err.strerror or err}", err=True)
                sys.exit(1)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                    count = write(session, target, out)
                os.replace(scratch, output)
            except OSError as err:
                Path(scratch).unlink(missing_ok=True)
                click.echo(f"错误 error: 无法写入 {output}：{err.strerror or err}", err=True)
                sys.exit(1)
            except BaseException:
                Path(scratch).unlink(missing_ok=True)
                raise
    click.echo(f"{count} transfers written to {'standard output' if output == '-' else output}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="threads in each server process")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="server processes, each with --threads: about one per core on a county's "
                   "server (POSIX systems such as Linux)")
def serve(host, port, threads, processes):
    """Serve the app (production: waitress, in one process or --processes of them)."""
    from .config import serve_refusal

    refusal = serve_refusal()
    if refusal:
        click.echo(f"错误 error: {refusal}", err=True)
        sys.exit(1)
    from .serving import serve_one, serve_processes

    # One process builds the app before it listens, so nothing connects to a server not yet
    # able to answer; several bind first and build the app in each worker after the fork.
    app = _app() if processes == 1 else None
    with _listening(host, port) as sock:
        _require_schema(app.config["DATABASE_URL"] if app else _settings()["DATABASE_URL"])
        if app is None:
            click.echo(f"综治银行 serving on http://{host}:{port}/ ({processes} processes)")
            _warn_without_public_url(_settings(), "serve", port)
            serve_processes(_app, sock, threads=threads, processes=processes)
        else:
            click.echo(f"综治银行 serving on http://{host}:{port}/")
            _warn_without_public_url(app.config, "serve", port)
            serve_one(app, sock, threads=threads)


def _listening(host: str, port: int):
    """Return the listening socket for host:port, or exit 1 saying the port is taken."""
    from .serving import AddressInUse, listening_socket

    try:
        return listening_socket(host, port)
    except AddressInUse as err:
        click.echo(f"错误 error: 无法监听 cannot listen on {err}（端口可能已被占用 the port may be in use; "
                   f"use --port）", err=True)
        sys.exit(1)


def _warn_without_public_url(settings, command: str, port: int) -> None:
    """Warn that printed QR codes and notice links will point at this machine's own address.

    Without ZONGZHI_PUBLIC_URL the links take the address the page was opened at, which on the
    office computer is 127.0.0.1: a resident's phone scanning the card reaches itself, not us.
    """
    if settings.get("PUBLIC_URL"):
        return
    click.echo(
        f"\n  警告 warning: ZONGZHI_PUBLIC_URL 未设置。二维码和公示链接将使用打开网页时的地址"
        f"（如 http://127.0.0.1:{port}），居民的手机无法访问 127.0.0.1。\n"
        f"  ZONGZHI_PUBLIC_URL is not set: QR codes and notice links will hold the address the page "
        f"was opened at (such as http://127.0.0.1:{port}), which residents' phones cannot reach.\n"
        f"  设置为本机在村里网络中的地址 set it to this machine's address on the village network, e.g.\n"
        f"      ZONGZHI_PUBLIC_URL=http://192.168.1.20:{port} zongzhi {command} --host 0.0.0.0 --port {port}\n",
        err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo(host, port):
    """Seed the demo village into the database if it is empty, and serve it (until SIGINT or SIGTERM)."""
    import migrations
    from seed_data import demo as demo_village

    from .serving import serve_one

    app = _app()
    # A port in use is said at once, not after the village is seeded; the socket is closed
    # however the seeding ends.
    with _listening(host, port) as sock:
        migrations.upgrade(app.config["DATABASE_URL"])
        with _app_opened(app) as (session, clock):
            click.echo("正在准备演示村 (preparing the demo village) ...")
            try:
                info = demo_village.seed_if_empty(session, clock=clock)
            except demo_village.NotTheDemo:
                click.echo("错误 error: 这个数据库不是空的，也不是演示村：演示村只建在空数据库里。"
                           "要服务这个数据库，请用 zongzhi serve。\n"
                           "  the database is neither empty nor the demo village's: the demo is seeded only "
                           "into an empty one. To serve this database, run zongzhi serve.", err=True)
                sys.exit(1)
        base = f"http://{host}:{port}"
        click.echo("")
        click.echo(f"  综治银行 demo village: {info['bank_name']} ({info['bank_code']})")
        click.echo(f"  open          {base}/")
        click.echo(f"  API document  {base}/api/v1/openapi.json")
        for role, name, password in info["logins"]:
            click.echo(f"  {role + ' login':13} {name} / {password}")
        click.echo(f"  clerk token   {info['clerk_token']}")
        click.echo(f"  try           curl -H 'Authorization: Bearer {info['clerk_token']}' "
                   f"{base}/api/v1/banks/{info['bank_code']}/residents/{info['resident_id']}/account")
        if info.get("card_token"):
            click.echo(f"  resident card {base}/c/{info['card_token']}")
            click.echo(f"  desk          {base}/banks/{info['bank_code']}/desk")
        click.echo("")
        _warn_without_public_url(app.config, "demo", port)
        from cycle.scheduler import start_background

        click.echo("  the cycle (日登分、月公示、季兑换、年表彰) runs in the background")
        start_background(app)
        serve_one(app, sock, threads=8)


@main.group("cycle")
def cycle_group():
    """The cycle's jobs, by hand."""


@cycle_group.command("run")
@click.argument("job")
@click.option("--bank", "bank_code", required=True, help="a bank's code, or all")
@click.option("--period", required=True,
              help="daily 2026-10-05, monthly/seal 2026-10, quarterly/quarterly_close 2026-Q4, annual 2026")
def cycle_run(job, bank_code, period):
    """Run one job of the cycle for a period (idempotent): JOB is daily, monthly, seal,
    quarterly, quarterly_close or annual."""
    from sqlalchemy import select

    from cycle import jobs, queue, runs
    from ledger import banks as ledger_banks
    from ground.tenants import Bank

    _log_at_info(named=False)
    _require_file(_settings()["DATABASE_URL"])  # before the app, which would open (and make) it
    with _app_opened(_app()) as (session, clock):
        try:
            chosen = jobs.get_job(job)
            wanted = jobs.parse(chosen, period)
            banks = (list(session.execute(select(Bank).order_by(Bank.code)).scalars()) if bank_code == "all"
                     else [ledger_banks.get_bank(session, bank_code)])
        except ZongzhiError as err:
            _fail(err)
        sessions = _app_sessions(session)
        app = _current_app()
        failed = 0
        with click.progressbar(length=len(banks), label=f"{chosen.name} {wanted.key}", file=sys.stderr,
                               show_pos=True) as bar:
            def progress(outcome):
                nonlocal failed
                failed += outcome.status == "failed"
                click.echo(("\n" if len(banks) > 1 else "") + outcome.line())
                bar.update(1)

            if queue.enabled(app):
                outcomes = queue.hand_over_by_hand(app, banks, chosen, wanted, progress=progress)
            else:
                outcomes = runs.run_by_hand(sessions, banks, chosen, wanted, clock=clock, progress=progress)
    queued = sum(o.status == "queued" for o in outcomes)
    # Due, not queued: the broker did not take them. They are on record and go to the workers
    # when it is back (the scheduler's next sweep), but nothing runs them now: said, and exit 1.
    waiting = sum(o.status == "due" for o in outcomes)
    if queued or waiting:
        click.echo(f"{queued} of {len(banks)} banks queued for the workers (zongzhi cycle status "
                   f"--period {wanted.key}), {waiting} not queued (the broker is unreachable: recorded as due, "
                   f"queued when it is back), {len(banks) - failed - queued - waiting} already done, "
                   f"{failed} failed", err=True)
    else:
        click.echo(f"{len(banks) - failed} of {len(banks)} banks done or already done, {failed} failed",
                   err=True)
    if failed or waiting:
        sys.exit(1)


@cycle_group.command("status")
@click.option("--period", required=True, help="2026-10-05, 2026-10, 2026-Q4 or 2026")
@click.option("--bank", "bank_code", default="all", show_default=True, help="a bank's code, or all")
def cycle_status(period, bank_code):
    """Each bank's job runs for a period: due, queued, running, done, failed (with the error)."""
    from cycle import runs

    with _opened() as (session, clock):
        try:
            period = runs.any_period(period).key
            bank_ids = None if bank_code == "all" else [_bank(session, bank_code).id]
        except ZongzhiError as err:
            _fail(err)
        failed = 0
        for bank, found in runs.for_period(session, period, bank_ids):
            if not found:
                click.echo(f"{bank.code} {period}: 无 none")
            for run in found:
                failed += run.status == "failed"
                detail = runs.result_text(run.error if run.status == "failed" else run.result, "zh") or run.owner
                click.echo(f"{bank.code} {run.job} {period}: {run.status} (attempts {run.attempts}, "
                           f"{_when(run.finished_at or run.started_at, clock)}) — {detail}")
    if failed:
        click.echo(f"{failed} run(s) failed", err=True)
        sys.exit(1)


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 512), default=None,
              help="worker processes (default: one per core)")
@click.option("--nice", type=click.IntRange(0, 19), default=WORKER_NICENESS, show_default=True,
              help="how far below normal the workers run (0-19): on a machine shared with a web "
                   "server, the residents' pages come before the notices")
def worker(concurrency, nice):
    """Run a worker of the distributed cycle (Celery) until stopped; needs ZONGZHI_BROKER_URL."""
    import os

    from cycle import queue

    _log_at_info()
    app = _app()
    _require_schema(app.config["DATABASE_URL"])
    if not queue.enabled(app):
        click.echo("错误 error: ZONGZHI_BROKER_URL 未设置 is not set (amqp://… or redis://…); without a broker "
                   "the scheduler runs the cycle itself", err=True)
        sys.exit(1)
    if nice and hasattr(os, "nice"):
        os.nice(nice)  # inherited by the pool's processes
    from .serving import settle

    settle()  # before the pool forks: its processes inherit the app out of the collector's sight
    queue.work(app, concurrency=concurrency)


def _current_app():
    from flask import current_app

    return current_app._get_current_object()


def _app_sessions(session):
    from ground.db import session_factory

    return session_factory(session.get_bind())


@main.command()
def scheduler():
    """Run the scheduled cycle in the foreground (Ctrl-C stops it)."""

    from cycle.scheduler import run_forever

    _log_at_info()
    app = _app()
    _require_schema(app.config["DATABASE_URL"])
    click.echo(f"综治银行 scheduler: timezone {app.config['TIMEZONE']}; Ctrl-C to stop", err=True)
    run_forever(app)


if __name__ == "__main__":
    main()
