"""The database: engines with the durability the ledger needs, and one session per request."""
from __future__ import annotations

import collections
import functools
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from . import store
from .errors import InsufficientFunds, NotFound, OutOfStock, ValidationError, ZongzhiError


def normalize_url(url: str) -> str:
    """Return the URL with the driver this project uses for PostgreSQL (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, group_commit: bool = False, **kw) -> Engine:
    """Create an engine; on SQLite, WAL with full sync and writers that queue instead of failing.

    On SQLite a process's writers also commit in groups (`store`), when `group_commit` is set
    (ZONGZHI_GROUP_COMMIT=1).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **kw)
        _tune_sqlite(engine)
        if group_commit:
            store.enable_group_commit(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


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

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A write transaction takes the write lock up front (IMMEDIATE): two posters can never
        # both read the chain head and then race to extend it, which in a deferred transaction
        # fails mid-way instead of waiting. Reads stay deferred and never block the writers.
        # Straight to the driver: every posting begins here, and this is all it needs.
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
    `Prepared` all pass through here.
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
        return InsufficientFunds("综治基金的现金不能为负：这笔钱已经用掉，或者不够支付",
                                 "the fund's cash cannot go below zero: the money has been spent, "
                                 "or is not enough")
    if check == "ck_catalog_items_stock_floor":
        return OutOfStock("库存不能为负", "stock cannot go below zero")
    if check == "ck_accounts_balance_range" or out_of_range:
        return ValidationError(
            {amounts: ["数额过大：账户余额须为正负 2^53−1 以内的整数"]},
            "数额过大，超出账户余额允许的范围", "the amount would take a balance beyond ±(2^53 − 1)")
    return None


@contextmanager
def snapshot(session: Session) -> Iterator[Session]:
    """Run the block as one read-only transaction that sees a single moment of the database.

    Verify and export read the chain head, the transfers and the balances in several
    statements; they must all see the same moment even while others post. PostgreSQL gives
    that with REPEATABLE READ; SQLite's WAL gives each (deferred) transaction its own
    snapshot, without taking the write lock, so posting goes on meanwhile.
    """
    if session.in_transaction():
        session.commit()
    options = {} if is_sqlite(session) else {"isolation_level": "REPEATABLE READ"}
    session.connection(execution_options=options)
    try:
        yield session
    finally:
        session.rollback()


def connection_of(session: Session):
    """Return the connection of the session's transaction (beginning one if need be).

    The same as `session.connection()`, remembered for the transaction: the posting path asks
    for it a dozen times a deed, and the session's own lookup costs more than the statements.
    """
    transaction = session.get_transaction()
    held = session.info.get(_CONNECTION)
    if transaction is None or held is None or held[0] is not transaction:
        connection = session.connection()
        held = session.info[_CONNECTION] = (session.get_transaction(), connection)
    return held[1]


_CONNECTION = "zongzhi.connection"


@contextmanager
def pipelined(session: Session) -> Iterator[bool]:
    """Send the statements run inside the block together and wait once for all their results.

    That is PostgreSQL's pipeline mode (psycopg's `Connection.pipeline`): a cursor's rows can
    be fetched once the block is over, and an error surfaces there. On SQLite, in process, there
    is no round trip to save and the block runs as it is. It yields whether statements are
    being held back (so a caller may fetch at once when they are not).
    """
    conn = connection_of(session)
    pipeline = getattr(conn.connection.driver_connection, "pipeline", None)
    if pipeline is None:
        yield False
        return
    with _driver_errors(conn), pipeline():
        yield True


@contextmanager
def _driver_errors(conn, sql: str | None = None, args=None) -> Iterator[None]:
    # What the driver raises, raised as SQLAlchemy raises it (IntegrityError and the rest).
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as err:
        raise DBAPIError.instance(sql, args, err, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from err


class Prepared:
    """A Core statement compiled once per database and run straight on the driver's cursor.

    For the handful of statements every posting runs (the lock, the transfer's INSERT, the
    balance and head UPDATEs, the audit entry): SQLAlchemy's work per execution (cache lookup,
    parameter and result processing, events) costs several times what the database spends on
    such small statements. Values still go through each column type's own bind processor, so
    they are stored exactly as the ORM stores them, and driver errors are raised as
    SQLAlchemy's. It runs in the session's own transaction. Not for IN lists (expanding
    parameters) or for results that need type processing (dates on SQLite): use Core for those.
    An INSERT names the columns it fills (`columns`), as one set of parameters would.
    """

    def __init__(self, statement, *, columns=None):
        self.statement, self.columns = statement, list(columns) if columns else None
        # By dialect (one per engine), and let go with it.
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def execute(self, session: Session, params: dict | None = None):
        """Run the statement with one set of parameters; return the driver's cursor."""
        conn = connection_of(session)
        sql, convert = self._for(conn.dialect)
        args = convert(params or {})
        with _driver_errors(conn, sql, args):
            return conn.connection.driver_connection.execute(sql, args)

    def rows(self, session: Session, params: dict | None = None) -> list:
        """Run a SELECT; return its rows as named tuples (row.id, row.name ...)."""
        return self.rows_from(self.execute(session, params))

    def rows_from(self, cursor) -> list:
        """Return the rows of a cursor this statement's `execute` gave, as named tuples."""
        return [self._row(*values) for values in cursor.fetchall()]

    def stream(self, session: Session, params: dict | None = None, *, batch: int = 5000):
        """Run a SELECT and yield its rows as the driver gives them (tuples), `batch` at a time.

        On PostgreSQL the rows come from a server-side cursor, so a million of them never sit
        in memory at once; SQLite's cursor steps through the table as it is read anyway.
        """
        conn = connection_of(session)
        sql, convert = self._for(conn.dialect)
        driver = conn.connection.driver_connection
        if conn.dialect.supports_server_side_cursors:
            cursor = driver.cursor(name=f"zongzhi_stream_{id(self):x}")
            cursor.itersize = batch
        else:
            cursor = driver.cursor()
        try:
            with _driver_errors(conn, sql):
                cursor.execute(sql, convert(params or {}))
            while rows := cursor.fetchmany(batch):
                yield from rows
        finally:
            cursor.close()

    @functools.cached_property
    def _row(self):
        return collections.namedtuple("Row", [c.key for c in self.statement.selected_columns])

    def executemany(self, session: Session, params: list[dict]) -> None:
        """Run the statement once for each set of parameters (no rows come back)."""
        conn = connection_of(session)
        sql, convert = self._for(conn.dialect)
        args = [convert(p) for p in params]
        with _driver_errors(conn, sql, args):
            conn.connection.driver_connection.cursor().executemany(sql, args)

    def _for(self, dialect):
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = self._compile(dialect)
        return found

    def _compile(self, dialect):
        compiled = self.statement.compile(dialect=dialect, column_keys=self.columns)
        fixed = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        process = {name: processor for name, bind in compiled.binds.items()
                   if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        if compiled.positional:
            order = [(name, process.get(name)) for name in compiled.positiontup]

            def convert(params):
                values = {**fixed, **params} if fixed else params
                return tuple([p(values[n]) if p else values[n] for n, p in order])
        else:
            def convert(params):
                values = {**fixed, **params}
                for name, processor in process.items():
                    values[name] = processor(values[name])
                return values
        return compiled.string, convert


def bank_row(session: Session, model, row_id: int, bank_id: int, what: str, what_en: str, **options):
    """Return the row of `model` with this id if it belongs to the bank; else NotFound.

    Another bank's row answers exactly as a missing one does, so existence never leaks.
    `options` go to `session.get` (`with_for_update=True` to lock the row, `populate_existing=True`).
    """
    row = session.get(model, row_id, **options)
    if row is None or row.bank_id != bank_id:
        raise NotFound(what, what_en)
    return row


def init_app(app) -> None:
    """Give the app an engine and a session per request, closed when the request ends."""
    from flask import g

    engine = make_engine(app.config["DATABASE_URL"],
                         group_commit=str(app.config.get("GROUP_COMMIT") or "") in ("1", "true", "yes"))
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
