"""SQLite's group commit: writers that arrive together share one COMMIT, each in its own savepoint."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, select

from ground import audit
from ground import store
from ground.audit import AuditEntry
from ground.db import make_engine, session_factory, transaction

import migrations

WRITERS = 8


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/group.db"
    migrations.upgrade(url)
    engine = make_engine(url, group_commit=True)
    yield engine
    engine.dispose()


def _commits(engine) -> list:
    seen = []
    event.listen(engine, "commit", lambda conn: seen.append(1))
    return seen


def _entries(engine) -> list[str]:
    with session_factory(engine)() as session:
        return sorted(session.execute(select(AuditEntry.actor)).scalars())


def _write_together(engine, clock, body):
    """Writer 0 holds its turn until the other writers queue behind it; each runs body(n, session)."""
    group = store.group_of(session_factory(engine)())
    errors = {}

    def writer(n):
        with session_factory(engine)() as session:
            try:
                with transaction(session):
                    if n == 0:
                        deadline = time.monotonic() + 10
                        while group._waiting < WRITERS - 1 and time.monotonic() < deadline:
                            time.sleep(0.001)
                    body(n, session)
            except Exception as err:  # noqa: BLE001 - the test looks at what each writer got
                errors[n] = err

    first = threading.Thread(target=writer, args=(0,))
    first.start()
    while group._holder is None:
        time.sleep(0.001)
    others = [threading.Thread(target=writer, args=(n,)) for n in range(1, WRITERS)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(timeout=30)
    return errors


def test_writers_arriving_together_share_one_commit(engine, clock):
    commits = _commits(engine)
    errors = _write_together(engine, clock, lambda n, session: audit.record(
        session, bank_id=None, actor=f"w{n}", action="t", clock=clock))
    assert errors == {}
    assert _entries(engine) == [f"w{n}" for n in range(WRITERS)]
    assert len(commits) == 1


def test_a_writer_that_fails_takes_nothing_of_the_others_with_it(engine, clock):
    """Each writer after the group's first makes a savepoint, releases it when done, and rolls
    back to it when it fails. The statements go straight to the driver, never through
    SQLAlchemy's compiler and execution, which cost a writer more than its own statements."""
    driver, compiled = [], []
    event.listen(engine, "connect", lambda conn, _record: conn.set_trace_callback(driver.append))
    event.listen(engine, "before_cursor_execute", lambda *a: compiled.append(a[2]))

    def body(n, session):
        audit.record(session, bank_id=None, actor=f"w{n}", action="t", clock=clock)
        if n == 3:
            raise RuntimeError("this writer changes its mind")

    errors = _write_together(engine, clock, body)
    assert list(errors) == [3]
    assert _entries(engine) == [f"w{n}" for n in range(WRITERS) if n != 3]
    made = [s for s in driver if s.startswith("SAVEPOINT ")]
    released = [s for s in driver if s.startswith("RELEASE SAVEPOINT ")]
    undone = [s for s in driver if s.startswith("ROLLBACK TO SAVEPOINT ")]
    assert (len(made), len(released), len(undone)) == (WRITERS - 1, WRITERS - 2, 1)
    assert not [s for s in compiled if "SAVEPOINT" in s.upper()]


def test_a_write_begun_inside_another_joins_its_group(engine, clock):
    sessions = session_factory(engine)
    with sessions() as outer, sessions() as inner:
        with transaction(outer):
            audit.record(outer, bank_id=None, actor="outer", action="t", clock=clock)
            with transaction(inner):  # would wait for its own turn for ever
                audit.record(inner, bank_id=None, actor="inner", action="t", clock=clock)
    assert _entries(engine) == ["inner", "outer"]


def test_a_failed_commit_fails_every_writer_of_the_group(engine, clock, monkeypatch):
    real_begin = store.GroupCommit._begin

    def doomed(self):
        connection = real_begin(self)
        monkeypatch.setattr(connection, "commit", lambda: (_ for _ in ()).throw(OSError("disk full")))
        return connection

    monkeypatch.setattr(store.GroupCommit, "_begin", doomed)
    errors = _write_together(engine, clock, lambda n, session: audit.record(
        session, bank_id=None, actor=f"w{n}", action="t", clock=clock))
    assert sorted(errors) == list(range(WRITERS))
    assert all(isinstance(e, store.GroupCommitFailed) for e in errors.values())
    with session_factory(engine)() as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar() == 0


def test_postgresql_engines_commit_alone():
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    assert store.group_of(session_factory(engine)()) is None


def test_a_transaction_sqlite_ended_itself_fails_its_members_and_the_next_start_afresh(engine, clock):
    order = []

    def body(n, session):
        order.append(n)
        audit.record(session, bank_id=None, actor=f"w{n}", action="t", clock=clock)
        if len(order) == 2:
            # As SQLite does on an I/O error or a full disk: the whole transaction is gone.
            session.connection().connection.driver_connection.execute("ROLLBACK")
            raise OSError("disk I/O error")

    errors = _write_together(engine, clock, body)
    first, second = order[:2]
    assert isinstance(errors.pop(first), store.GroupCommitFailed)
    assert errors.pop(second)  # its own error, or the savepoint SQLite no longer has
    assert errors == {}
    assert _entries(engine) == sorted(f"w{n}" for n in order[2:])


def test_the_first_writer_of_a_group_failing_leaves_the_others_theirs(engine, clock):
    def body(n, session):
        audit.record(session, bank_id=None, actor=f"w{n}", action="t", clock=clock)
        if n == 0:
            raise RuntimeError("the first writer changes its mind")

    errors = _write_together(engine, clock, body)
    assert list(errors) == [0]
    assert _entries(engine) == [f"w{n}" for n in range(1, WRITERS)]


@pytest.mark.parametrize("mode", ["create_savepoint", "rollback_only"])
def test_sqlalchemy_leaves_the_groups_transaction_open_when_a_bound_session_commits(engine, clock, mode):
    """What ground.store relies on in SQLAlchemy (2.0 to 2.1): a session bound to a connection in a
    transaction commits without ending it, in either join mode, and its rollback undoes only its
    own work (the savepoint's) or, rollback_only, ends the transaction."""
    from sqlalchemy.orm import Session

    with engine.connect() as connection:
        connection.begin()
        session = Session(bind=connection, join_transaction_mode=mode)
        audit.record(session, bank_id=None, actor="kept", action="t", clock=clock)
        session.commit()
        assert connection.connection.driver_connection.in_transaction
        audit.record(session, bank_id=None, actor="undone", action="t", clock=clock)
        session.rollback()
        open_after = connection.connection.driver_connection.in_transaction
        if mode == "create_savepoint":
            assert open_after
            connection.commit()
            assert _entries(engine) == ["kept"]
        else:
            assert not open_after
            assert _entries(engine) == []
        session.close()


HOLD_WRITERS_FILE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.mark.skipif(store.fcntl is None, reason="flock is POSIX's")
def test_another_process_holding_the_writers_file_queues_a_group_before_sqlites_lock(engine, clock, tmp_path):
    import sqlite3
    import subprocess
    import sys

    lock_file = f"{tmp_path}/group.db-writers"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITERS_FILE, lock_file],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = threading.Event()

        def write():
            with session_factory(engine)() as session, transaction(session):
                audit.record(session, bank_id=None, actor="queued", action="t", clock=clock)
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)
        # Waiting in the queue, the group has not begun: SQLite's write lock is free for others.
        assert not done.is_set()
        other = sqlite3.connect(f"{tmp_path}/group.db", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert done.wait(10), "the group never went on once the other process let go"
        writer.join(5)
    finally:
        holder.kill()
        holder.wait()
    assert _entries(engine) == ["queued"]


def test_a_group_lets_the_writers_file_go_even_when_its_commit_fails(engine, clock, tmp_path):
    group = store.group_of(session_factory(engine)())
    with pytest.raises(RuntimeError):
        with session_factory(engine)() as session, transaction(session):
            audit.record(session, bank_id=None, actor="failed", action="t", clock=clock)
            raise RuntimeError("the writer's own failure")
    if group._writers.path is not None:
        import fcntl
        import os

        fd = os.open(group._writers.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again: would raise if still held
        finally:
            os.close(fd)
    with session_factory(engine)() as session, transaction(session):
        audit.record(session, bank_id=None, actor="next", action="t", clock=clock)
    assert _entries(engine) == ["next"]
