"""The door to speed: every shortcut the database path takes past SQLAlchemy's usual way, in one place.

The code above reads as plain SQLAlchemy would, and uses only this:

- `Prepared(statement, columns=...)`: a Core statement compiled once per database and run on the
  driver's cursor (`execute`, `rows`, `rows_from`, `stream`, `executemany`), for the few
  statements every posting or every page runs; `read_alone` runs one outside any session, and
  `detached` makes the model instances its row describes.
- `pipelined(session)`: the statements of a block sent together (PostgreSQL's pipeline mode).
- `snapshot(session)`: a read-only transaction that sees one moment of the database.
- `connection_of(session)` and `per_transaction(session, key, make)`: what the session's current
  transaction holds, remembered for that transaction and forgotten with it.
- `joined(session)`: SQLite's group commit, behind `ground.db.transaction`; `enable_group_commit`
  and `begin_on_driver` (its transactions and savepoints begun on the driver) are what
  `ground.db.make_engine` sets an engine up with.

What it relies on of other libraries beyond their documented use is pinned, against the versions
named there, by tests/ground/test_pins.py: `Prepared` converts parameters as SQLAlchemy's own
execution does (from the compiled statement's binds, their order and their types' processors)
and raises the driver's errors as SQLAlchemy would (`DBAPIError.instance`); `connection_of`
relies on a session's transaction being a new object each time one begins.
"""
from __future__ import annotations

import collections
import functools
import os
import threading
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; SQLite's own lock alone
    fcntl = None

from sqlalchemy import event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state


# --- what a transaction holds ---------------------------------------------------------------------

def per_transaction(session: Session, key: str, make: Callable[[], Any]) -> Any:
    """Return the value kept under `key` for the session's current transaction, made by `make()`.

    A new transaction (after a commit or a rollback) is a new object, so what an earlier one kept
    is never reused. With no transaction open, a fresh value is returned and nothing is kept.
    """
    transaction = session.get_transaction()
    if transaction is None:
        return make()
    held = session.info.get(key)
    if held is None or held[0] is not transaction:
        held = session.info[key] = (transaction, make())
    return held[1]


def connection_of(session: Session) -> Connection:
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


# --- reads at one moment --------------------------------------------------------------------------

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
    sqlite = session.get_bind().dialect.name == "sqlite"
    session.connection(execution_options={} if sqlite else {"isolation_level": "REPEATABLE READ"})
    try:
        yield session
    finally:
        session.rollback()


# --- statements on the driver ---------------------------------------------------------------------

def detached(model, values: dict):
    """Return an instance of the mapped `model` holding `values` (every column attribute's, by
    its key), as if a session had loaded it and then let it go.

    Made as SQLAlchemy's loading makes an instance (the class manager's `new_instance`, which
    runs no constructor and no validation, the values set in its state), then given its
    identity (`make_transient_to_detached`): reading its attributes costs nothing, and a session
    it is added to takes it as the existing row it is, never as a new one.
    """
    mapper = sa_inspect(model)
    instance = mapper.class_manager.new_instance()
    state = instance_state(instance)
    for prop in mapper.column_attrs:
        state.dict[prop.key] = values[prop.key]
    make_transient_to_detached(instance)
    return instance


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
    SQLAlchemy's. It runs in the session's own transaction, or, with `read_alone`, on a pooled
    connection of its own. Not for IN lists (expanding parameters). A SELECT's values come as
    the driver gives them, unless `typed`: then each goes through its column type's result
    processor (dates on SQLite, booleans), as SQLAlchemy's results would give it.
    An INSERT names the columns it fills (`columns`), as one set of parameters would.
    """

    def __init__(self, statement, *, columns=None, typed: bool = False):
        self.statement, self.columns = statement, list(columns) if columns else None
        self.typed = typed
        # By dialect (one per engine), and let go with it.
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._processors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def execute(self, session: Session, params: dict | None = None):
        """Run the statement with one set of parameters; return the driver's cursor."""
        conn = connection_of(session)
        sql, convert = self._for(conn.dialect)
        args = convert(params or {})
        with _driver_errors(conn, sql, args):
            return conn.connection.driver_connection.execute(sql, args)

    def rows(self, session: Session, params: dict | None = None) -> list:
        """Run a SELECT; return its rows as named tuples (row.id, row.name ...)."""
        return self.rows_from(self.execute(session, params), connection_of(session).dialect)

    def rows_from(self, cursor, dialect=None) -> list:
        """Return the rows of a cursor this statement's `execute` gave, as named tuples.

        A `typed` statement's values are converted for the `dialect` the cursor is of, which
        it must then be given."""
        if not self.typed:
            return [self._row(*values) for values in cursor.fetchall()]
        processors = self._results(dialect)
        return [self._row(*[p(v) if p else v for p, v in zip(processors, values)])
                for values in cursor.fetchall()]

    def read_alone(self, engine: Engine, params: dict | None = None) -> list:
        """Run a SELECT on a pooled connection of its own, outside any session; return its rows.

        For the one read a request makes before it knows what it will do (who is asking): no
        session transaction is begun, and none committed, for it. On SQLite the statement runs
        in autocommit, and on PostgreSQL too (one round trip): a single statement sees one
        moment of the database either way.
        """
        dialect = engine.dialect
        sql, convert = self._for(dialect)
        args = convert(params or {})
        fairy = engine.raw_connection()
        driver = fairy.driver_connection
        # psycopg: in autocommit the SELECT is one round trip, where a transaction would add its
        # BEGIN and the pool's ROLLBACK; the connection goes back as it came, idle, not in
        # autocommit (psycopg sends nothing for either switch).
        switch = getattr(driver, "autocommit", None) is False
        try:
            if switch:
                driver.autocommit = True
            try:
                cursor = driver.execute(sql, args)
                return self.rows_from(cursor, dialect)
            except dialect.loaded_dbapi.Error as err:
                raise DBAPIError.instance(sql, args, err, dialect.loaded_dbapi.Error,
                                          dialect=dialect) from err
        finally:
            try:
                if switch and not driver.closed:
                    driver.autocommit = False
            finally:
                fairy.close()

    def _results(self, dialect) -> list:
        found = self._processors.get(dialect)
        if found is None:
            found = self._processors[dialect] = [
                c.type.dialect_impl(dialect).result_processor(dialect, None)
                for c in self.statement.selected_columns]
        return found

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
        # What SQLAlchemy's execution does for each call (see DefaultExecutionContext), done once:
        # the values the statement fixes, then each bind's type processor, in the order of the
        # placeholders for a positional paramstyle (SQLite's qmark) or by name (psycopg's).
        # `compiled.params` holds the names the SQL has (its binds also hold anonymous ones),
        # with the value of each the statement fixes.
        compiled = self.statement.compile(dialect=dialect, column_keys=self.columns)
        named = compiled.params
        binds = {name: compiled.binds.get(name) for name in named}
        if any(bind is None for bind in binds.values()):
            raise ValueError(f"{self.statement}: bind names SQLAlchemy escapes are not supported")
        fixed = {name: named[name] for name, bind in binds.items() if not bind.required}
        process = {name: processor for name, bind in binds.items()
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


# --- how SQLite begins ----------------------------------------------------------------------------

#: Execution option that marks a connection's transaction as one that will write.
WRITE_OPTION = "zongzhi_write"


def begin_on_driver(engine: Engine) -> None:
    """Begin each of the SQLite engine's transactions on the driver: IMMEDIATE when it will write.

    A write transaction (`WRITE_OPTION`) takes the write lock up front: two posters can never
    both read the chain head and then race to extend it, which in a deferred transaction fails
    mid-way instead of waiting. Reads stay deferred and never block the writers. The engine's
    connections must leave transactions to SQLAlchemy (the driver's isolation_level None).
    """
    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Straight to the driver: every posting begins here, and this is all it needs.
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    savepoints_on_driver(engine)


def savepoints_on_driver(engine: Engine) -> None:
    """Make, release and roll back to the SQLite engine's savepoints on the driver.

    Every writer of a group commit but the first writes in a savepoint (`GroupCommit`), and
    SQLAlchemy's dialect compiles each SAVEPOINT and RELEASE statement afresh: the two cost a
    writer more CPU than its posting's own statements. SQLAlchemy's Connection still keeps its
    savepoints (its events, its nesting) and calls these, the dialect's documented hooks, only
    to send the statement.
    """
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote

    def sender(verb: str):
        def send(conn: Connection, name: str) -> None:
            sql = f"{verb} {quote(name)}"
            with _driver_errors(conn, sql):
                conn.connection.driver_connection.execute(sql)
        return send

    dialect.do_savepoint = sender("SAVEPOINT")
    dialect.do_release_savepoint = sender("RELEASE SAVEPOINT")
    dialect.do_rollback_to_savepoint = sender("ROLLBACK TO SAVEPOINT")


# --- SQLite's group commit ------------------------------------------------------------------------
# SQLite lets one connection write at a time, and each COMMIT waits for the disk (WAL,
# synchronous=FULL). Left to itself, each writer thread takes a connection of its own and, while
# another holds the write lock, sleeps in SQLite's busy handler and retries; eight clerks posting
# at once then get no more through than one, and their waits grow in steps of the handler's sleeps.
#
# Here the writers of one process queue instead, in arrival order, for one shared connection.
# The first of a group opens a transaction (BEGIN IMMEDIATE); each writer runs its own work
# inside a SAVEPOINT of it, so a writer whose work fails rolls back to its savepoint and takes
# nothing of the others with it; whoever finishes with nobody left waiting (or the group full)
# commits the group with one COMMIT, one fsync, and only then does any member of the group go on
# to answer. A failed COMMIT fails every member: nobody is told their write is kept unless it is.
# Writers of other processes (the scheduler, the command line) still meet at SQLite's own lock.
#
# The group's connection sees each member's writes as they are made, so a member works on
# exactly what it would see had the earlier members committed alone: the chain head, balances,
# idempotency keys. PostgreSQL needs none of this (its writers to different banks never wait on
# each other, and its commits already share the log's flushes): there `joined` does nothing.

#: Writers committed together at most; a longer queue starts another group.
GROUP_MAX = 64
#: The longest a writer waits for its turn (seconds), as SQLite's busy timeout would have.
TURN_TIMEOUT = 60.0


class GroupCommitFailed(RuntimeError):
    """Another member's failure left the group unable to commit; this writer's work was not kept."""


class _Group:
    """One transaction shared by the writers that arrived together."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.members = 0
        self.done = threading.Event()
        self.error: BaseException | None = None


class GroupCommit:
    """The queue of one engine's writers and the group they are committed in."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._writers = WritersFile.beside(engine.url.database)
        self._lock = threading.Lock()
        self._turn = threading.Condition(self._lock)
        self._busy = False
        self._waiting = 0
        self._holder: int | None = None
        self._group: _Group | None = None

    @contextmanager
    def joined(self, session: Session) -> Iterator[None]:
        """Run the block as one member of a group: the session writes in a savepoint of it.

        The caller begins and ends the session's transaction inside the block (its commit
        releases the savepoint, its rollback undoes it); on leaving, the block returns once the
        group's COMMIT is on disk, or raises if it failed.
        """
        if self._holder == threading.get_ident():
            # A write begun inside another on this thread (or another session of it) joins the
            # same group: waiting for our own turn would never end.
            with _bound(session, self._group.connection, alone=False):
                yield
            return
        self._take_turn()
        try:
            group = self._group
            if group is not None and not _open(group.connection):
                # SQLite ended the group's transaction itself (an I/O error, a full disk): what
                # its members wrote is gone, and a savepoint now would commit on its release.
                # Their commit fails; this writer starts a group of its own.
                self._group = None
                self._end(group)
                group = None
            if group is None:
                group = self._group = _Group(self._begin())
            group.members += 1
        except BaseException:
            self._pass_turn()
            raise
        ok = False
        try:
            # The group's first writer needs no savepoint: should it fail, it rolls the whole
            # transaction back, which holds nothing else yet, and the next writer starts afresh.
            with _bound(session, group.connection, alone=group.members == 1):
                yield
            ok = True
        finally:
            self._leave(group)
        if ok:
            group.done.wait()
            if group.error is not None:
                raise GroupCommitFailed("the write could not be committed") from group.error

    def _begin(self) -> Connection:
        self._writers.take()
        try:
            connection = self.engine.connect()
            try:
                connection.execution_options(**{WRITE_OPTION: True})
                connection.begin()  # BEGIN IMMEDIATE, at once (`begin_on_driver`)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            self._writers.let_go()
            raise
        return connection

    def _take_turn(self) -> None:
        with self._lock:
            self._waiting += 1
            try:
                if not self._turn.wait_for(lambda: not self._busy, timeout=TURN_TIMEOUT):
                    raise TimeoutError("the database stayed busy with other writes")
            finally:
                self._waiting -= 1
            self._busy, self._holder = True, threading.get_ident()

    def _pass_turn(self) -> None:
        with self._lock:
            self._busy, self._holder = False, None
            self._turn.notify()

    def _leave(self, group: _Group) -> None:
        with self._lock:
            hand_over = self._waiting > 0 and group.members < GROUP_MAX
            self._holder = None
            if hand_over:
                # The next writer joins this group and commits it, or hands it on in turn.
                self._busy = False
                self._turn.notify()
                return
            self._group = None
        # Still holding the turn: nobody writes on the connection while it commits.
        try:
            self._end(group)
        finally:
            self._pass_turn()

    def _end(self, group: _Group) -> None:
        # Commit the group (one fsync) and let its members go on, or fail them all.
        try:
            if not _open(group.connection):
                raise GroupCommitFailed("the group's transaction was lost before its commit")
            group.connection.commit()
        except BaseException as err:
            group.error = err
            try:
                group.connection.rollback()
            except Exception:  # the connection is lost with it; the pool discards it
                pass
        finally:
            try:
                group.connection.close()
            finally:
                self._writers.let_go()
                group.done.set()


class WritersFile:
    """The processes' queue for one SQLite database's write lock: an exclusive flock on a file
    beside it, taken by a group before it begins and let go once it has committed.

    The kernel wakes a waiting process as soon as the lock is let go. A process that dies lets
    go of it with its file. Without flock (Windows) or for a database in memory, nothing is
    taken and writers meet at SQLite's own lock as before.
    """

    def __init__(self, path: str | None):
        self.path = path
        self._fd: int | None = None
        self._pid: int | None = None

    @classmethod
    def beside(cls, database: str | None) -> "WritersFile":
        if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
            return cls(None)
        return cls(os.path.abspath(database) + "-writers")

    def take(self) -> None:
        if self.path is None:
            return
        if self._pid != os.getpid():
            # Opened here, not inherited: a forked process sharing its parent's open file would
            # share its lock too, and the two would never wait for each other.
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            weakref.finalize(self, os.close, self._fd)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks without holding the interpreter lock

    def let_go(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def _open(connection: Connection) -> bool:
    # Whether SQLite itself still has the group's transaction open.
    return connection.connection.driver_connection.in_transaction


@contextmanager
def _bound(session: Session, connection: Connection, *, alone: bool) -> Iterator[None]:
    # The session writes on the group's connection, each of its transactions a savepoint there;
    # or, `alone`, in the group's transaction itself, which its commit leaves open for the group
    # and its rollback ends.
    bind, mode = session.bind, session.join_transaction_mode
    session.bind = connection
    session.join_transaction_mode = "rollback_only" if alone else "create_savepoint"
    try:
        yield
    finally:
        session.bind, session.join_transaction_mode = bind, mode


_GROUPS: "weakref.WeakKeyDictionary[Engine, GroupCommit]" = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    # A child process starts with no writers of its own: the parent's queue (and its locks,
    # perhaps held by a thread that does not exist here) must not carry over.
    for engine in list(_GROUPS.keys()):
        _GROUPS[engine] = GroupCommit(engine)


os.register_at_fork(after_in_child=_forget_after_fork)


def enable_group_commit(engine: Engine) -> None:
    """Queue this engine's writers and commit them in groups (SQLite only)."""
    with _GROUPS_LOCK:
        _GROUPS.setdefault(engine, GroupCommit(engine))


def group_of(session: Session) -> GroupCommit | None:
    """Return the group commit of the session's engine, or None where writes commit alone."""
    bind = session.bind
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _GROUPS.get(engine) if engine is not None else None


@contextmanager
def joined(session: Session) -> Iterator[None]:
    """Run one write transaction of the session in its engine's group, if it has one."""
    group = group_of(session)
    if group is None:
        yield
        return
    with group.joined(session):
        yield
