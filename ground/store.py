"""The write path's door to speed: SQLite's group commit, behind `db.transaction`.

SQLite lets one connection write at a time, and each COMMIT waits for the disk (WAL,
synchronous=FULL). Left to itself, each writer thread takes a connection of its own and, while
another holds the write lock, sleeps in SQLite's busy handler and retries; eight clerks posting
at once then get no more through than one, and their waits grow in steps of the handler's sleeps.

Here the writers of one process queue instead, in arrival order, for one shared connection.
The first of a group opens a transaction (BEGIN IMMEDIATE); each writer runs its own work
inside a SAVEPOINT of it, so a writer whose work fails rolls back to its savepoint and takes
nothing of the others with it; whoever finishes with nobody left waiting (or the group full)
commits the group with one COMMIT, one fsync, and only then does any member of the group go on
to answer. A failed COMMIT fails every member: nobody is told their write is kept unless it is.
Writers of other processes (the scheduler, the command line) still meet at SQLite's own lock.

The group's connection sees each member's writes as they are made, so a member works on
exactly what it would see had the earlier members committed alone: the chain head, balances,
idempotency keys. PostgreSQL needs none of this (its writers to different banks never wait on
each other, and its commits already share the log's flushes): there `joined` does nothing.
"""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

#: Execution option that marks a connection's transaction as one that will write.
WRITE_OPTION = "zongzhi_write"
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
        connection = self.engine.connect()
        try:
            connection.execution_options(**{WRITE_OPTION: True})
            connection.begin()  # BEGIN IMMEDIATE, at once (ground.db's begin hook)
        except BaseException:
            connection.close()
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
            group.connection.close()
            group.done.set()


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
