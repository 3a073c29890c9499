"""Public reads from a PostgreSQL streaming replica, when `ZONGZHI_REPLICA_URL` is set.

The public pages (a resident's card, the public notice, the foundation's public page) are most of
a province's traffic and only read; they read from the replica while it keeps up. Staff screens
and every write use the primary. When the replica lags more than `ZONGZHI_REPLICA_MAX_LAG_S`
seconds behind, or does not answer, the primary serves the page: a resident never sees an error
because a replica went away, only, at worst, a page a few seconds old.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app, g
from sqlalchemy import text
from sqlalchemy.orm import Session

from ground.db import get_session, make_engine, session_factory

log = logging.getLogger("zongzhi.replica")

#: How long one look at the replica's lag is trusted before it is asked again (seconds).
CHECK_EVERY = 1.0

#: Seconds behind the primary: none when every WAL record received has been replayed, else the
#: age of the last transaction replayed (a replica that is not in recovery is a primary: none).
LAG = text("""
    SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
           END""")


class Replica:
    """A replica's engine, and whether it may serve now (looked at once a second at most)."""

    def __init__(self, url: str, max_lag: float):
        # A replica that is gone must not hold a resident's page: give up on it within a second,
        # and test each connection before use, so a replica stopped a moment ago is noticed.
        # Its reads run in autocommit: a page's statements at READ COMMITTED each see their own
        # moment inside a transaction too, so a transaction would only add its BEGIN and its end,
        # two round trips a page. A read that needs one moment (`ground.store.snapshot`) still
        # asks for REPEATABLE READ and gets its transaction.
        self.engine = make_engine(url, connect_args={"connect_timeout": 1}, pool_timeout=1,
                                  pool_pre_ping=True, isolation_level="AUTOCOMMIT")
        self.sessions = session_factory(self.engine)
        self.max_lag = max_lag
        self._checked = -CHECK_EVERY
        self._usable = False
        self._lock = threading.Lock()

    def lag(self) -> float:
        """Return how many seconds the replica is behind (raises if it does not answer)."""
        with self.engine.connect() as conn:
            return float(conn.execute(LAG).scalar())

    def usable(self) -> bool:
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY:
            return self._usable
        with self._lock:
            if now - self._checked >= CHECK_EVERY:
                try:
                    lag = self.lag()
                    usable = lag <= self.max_lag
                    if not usable:
                        log.warning("replica %.1f s behind (most %.1f s): the primary serves", lag, self.max_lag)
                except Exception as err:  # down, refusing, restarting: the primary serves
                    self.failed(err)
                    return False
                self._usable, self._checked = usable, time.monotonic()
        return self._usable


    def failed(self, err: Exception) -> None:
        """Take the replica out of service until the next look at it."""
        log.warning("replica unreachable, the primary serves: %s", err)
        self._usable, self._checked = False, time.monotonic()


def init_app(app: Flask) -> None:
    """Give the app its replica when one is configured; say on each public page who served it."""
    url = app.config.get("REPLICA_URL")
    if not url:
        return
    app.extensions["zongzhi.replica"] = Replica(url, float(app.config.get("REPLICA_MAX_LAG_S") or 5))

    @app.teardown_appcontext
    def _close(_exc):
        session = g.pop("read_session", None)
        if session is not None and g.get("read_from") == "replica":
            session.close()

    @app.after_request
    def _say(response):
        if "read_from" in g:
            response.headers["X-Zongzhi-Read-From"] = g.read_from
        return response


def reading_session() -> Session:
    """Return the session a public page reads with: the replica's while it keeps up, else the primary's."""
    if "read_session" in g:
        return g.read_session
    replica = current_app.extensions.get("zongzhi.replica")
    if replica is not None and replica.usable():
        session = replica.sessions()
        try:
            session.connection()  # gone since it was last looked at: the primary serves
        except Exception as err:
            session.close()
            replica.failed(err)
        else:
            g.read_session, g.read_from = session, "replica"
            return session
    g.read_session, g.read_from = get_session(), "primary"
    return g.read_session
