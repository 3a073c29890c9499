"""The database: engines with the durability the ledger needs, and one session per request.

Engines, sessions, the write transaction and what the database refuses live here; every shortcut
past SQLAlchemy's usual way (statements on the driver, reads at one moment, group commit) lives
behind one door, `ground.store`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from . import store
from .errors import InsufficientFunds, NotFound, OutOfStock, ValidationError, ZongzhiError
from .i18n import _


def normalize_url(url: str) -> str:
    """Return the URL with the driver this project uses for PostgreSQL (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, group_commit: bool = False, **kw) -> Engine:
    """Create an engine; on SQLite, WAL with full sync and writers that queue instead of failing.

    On SQLite a process's writers also commit in groups (`store`), when `group_commit` is set
    (ZONGZHI_GROUP_COMMIT=1). On PostgreSQL a pooled connection is tested before reuse when it
    has been idle a while (`_ping_when_idle`), or every time with `pool_pre_ping=True` (a replica,
    which must be given up at once when it stops).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **kw)
        _tune_sqlite(engine)
        if group_commit:
            store.enable_group_commit(engine)
        return engine
    engine = create_engine(url, **kw)
    if not kw.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


#: A pooled connection unused for longer than this is tested before it is handed out again.
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Test a PostgreSQL connection on checkout when it has sat in the pool for a while.

    What `pool_pre_ping` does, but not for a connection checked in moments ago: on a busy
    server that one is alive (or the server went away so recently that the statement fails and
    the pool replaces it), and a ping per transaction was a round trip of every deed's. A failed
    ping makes the pool discard the connection and open another (SQLAlchemy retries a checkout
    that raises DisconnectionError), so a restarted database costs no request.
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            _ping(dbapi_conn)
        except Exception as err:
            raise DisconnectionError(f"a pooled connection did not answer: {err}") from err


def _ping(dbapi_conn) -> None:
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SELECT 1")
    dbapi_conn.rollback()


_IDLE_SINCE = "zongzhi.idle_since"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    store.begin_on_driver(engine)


#: Execution option that marks a connection's transaction as one that will write.
WRITE_OPTION = store.WRITE_OPTION


def is_sqlite(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "sqlite"


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(session: Session, *, amounts: str = "amount") -> Iterator[Session]:
    """Run the block as one write transaction: commit what it did, or roll all of it back.

    A read transaction already open (the request looking up its bank and user) is ended first,
    so the write starts from a fresh snapshot holding the write lock. What the database refuses
    (see `refusal`) comes out as the API's error; `amounts` is the request field the amounts
    posted come from, named when a balance would leave its range. On SQLite the block is one
    member of a group commit (`store.joined`): it returns once its write is on disk.
    """
    if session.in_transaction():
        session.commit()
    try:
        with store.joined(session):
            session.connection(execution_options={WRITE_OPTION: True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except BaseException as err:
        refused = refusal(err, amounts=amounts)
        if refused is not None:
            raise refused from err
        raise


def refusal(err: BaseException, *, amounts: str = "amount") -> ZongzhiError | None:
    """Return the API's answer to a write the database refused as must-never-be, else None.

    The one place those refusals are translated: the checks of migration 0009 (by the name
    that leads their message), PostgreSQL's numeric_value_out_of_range (a bigint overflow,
    SQLSTATE 22003), and SQLite's driver refusing to bind an integer beyond 64 bits. Every
    write runs in `transaction`, so a refusal from an ORM flush, a commit or a statement of
    `store.Prepared` all pass through here.
    """
    if isinstance(err, DBAPIError):
        diag = getattr(err.orig, "diag", None)
        check = getattr(diag, "constraint_name", None) or str(err.orig).partition(":")[0]
        out_of_range = getattr(err.orig, "sqlstate", None) == "22003"
    elif isinstance(err, OverflowError) and "SQLite INTEGER" in str(err):
        check, out_of_range = None, True
    else:
        return None
    if check == "ck_accounts_fund_floor":
        return InsufficientFunds(_("综治基金的现金不能为负：这笔钱已经用掉，或者不够支付"))
    if check == "ck_catalog_items_stock_floor":
        return OutOfStock(_("库存不能为负"))
    if check == "ck_accounts_balance_range" or out_of_range:
        return ValidationError(
            {amounts: [_("数额过大：账户余额须为正负 2^53−1 以内的整数")]},
            _("数额过大，超出账户余额允许的范围"))
    return None


def bank_row(session: Session, model, row_id: int, bank_id: int, missing, **options):
    """Return the row of `model` with this id if it belongs to the bank; else NotFound saying
    `missing` (`_("找不到该居民")`).

    Another bank's row answers exactly as a missing one does, so existence never leaks.
    `options` go to `session.get` (`with_for_update=True` to lock the row, `populate_existing=True`).
    """
    row = session.get(model, row_id, **options)
    if row is None or row.bank_id != bank_id:
        raise NotFound(missing)
    return row


def init_app(app) -> None:
    """Give the app an engine and a session per request, closed when the request ends."""
    from flask import g

    engine = make_engine(app.config["DATABASE_URL"],
                         group_commit=app.config.get("GROUP_COMMIT") == "1")  # read by zongzhi.config
    app.extensions["zongzhi.engine"] = engine
    app.extensions["zongzhi.sessions"] = session_factory(engine)

    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    from flask import current_app, g

    if "db_session" not in g:
        g.db_session = current_app.extensions["zongzhi.sessions"]()
    return g.db_session
