"""PostgreSQL's pool: a connection idle for a while is tested before reuse, one just returned is not."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from ground import db
from ground.db import make_engine, normalize_url


@pytest.fixture
def pg_url(backend, database_url):
    if backend["name"] != "postgresql":
        pytest.skip("the pool's ping is PostgreSQL's")
    return database_url


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_connection_ended_while_idle_is_replaced_without_failing_anyone(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        first = _pid(engine)
        _terminate(pg_url, first)  # the server restarted, or dropped it, while it sat in the pool
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
        second = _pid(engine)  # no error: the ping found it dead and the pool opened another
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_returned_moments_ago_is_handed_out_without_a_round_trip(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    pings = []
    real = db._ping

    def counting(dbapi_conn):
        pings.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(db, "_ping", counting)
    try:
        pid = _pid(engine)
        assert [_pid(engine) for _ in range(5)] == [pid] * 5
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
        assert _pid(engine) == pid  # idle "long enough" now: pinged, alive, reused
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_an_engine_that_asks_for_a_ping_every_time_gets_the_pools_own(pg_url):
    # The replica's engine: a stopped replica must be noticed on the next page, not 5 s later.
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    try:
        first = _pid(engine)
        _terminate(pg_url, first)
        assert _pid(engine) != first
    finally:
        engine.dispose()
