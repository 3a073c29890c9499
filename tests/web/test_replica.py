"""Public pages read from a real PostgreSQL streaming replica, and from the primary when it lags
or is gone.

The replica is made the way an operator makes one (tests/pgpair.py): `pg_basebackup -R` from
the PostgreSQL at 127.0.0.1:5432, or from a primary of the test's own when that server refuses
replication, so the replication itself is always real.
"""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import migrations
from cards import services as cards
from ledger import banks, deeds, people
from ground.db import normalize_url
from tests import pgpair
from tests.conftest import NOW, RULES, FixedClock

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair():
    """A primary and its streaming replica: {primary, replica (a Cluster), database}."""
    if not pgpair.available():
        pytest.skip(f"the PostgreSQL 15 binaries are not installed in {pgpair.BIN}")
    made = pgpair.make(Path(tempfile.mkdtemp(prefix="zongzhi-replica-")))
    name = f"zongzhi_replica_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(normalize_url(made.primary_url + "/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    migrations.upgrade(normalize_url(f"{made.primary_url}/{name}"))
    yield {"primary": f"{made.primary_url}/{name}", "replica": made.replica,
           "replica_db": f"{made.replica.url}/{name}", "shared": made.own_primary is None}
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    made.stop()


@pytest.fixture(scope="module")
def village(pair):
    """An app on the primary with the replica for public pages, a bank, a resident with a card."""
    from zongzhi.app import create_app

    app = create_app({"DATABASE_URL": pair["primary"], "REPLICA_URL": pair["replica_db"],
                      "REPLICA_MAX_LAG_S": "2", "SECRET_KEY": "t", "TESTING": True, "CLOCK": FixedClock(at=NOW)})
    session = app.extensions["zongzhi.sessions"]()
    clock = app.extensions["zongzhi.clock"]
    bank = banks.create_bank(session, "hp", "和平村综治银行", rules_text=RULES, source_name="t",
                             by="t", clock=clock)
    home = people.create_household(session, bank, code="H1", name=None, clock=clock)
    wang = people.create_resident(session, bank, name="王五", household=home.code, phone=None, clock=clock)
    [card] = cards.issue_cards(session, bank, resident_ids=[wang.id], by="t", clock=clock)
    client = app.test_client()
    # The card is new on the primary: wait until the replica has replayed it (on a busy machine
    # that can take longer than the first request), asking the replica itself, so that no miss
    # counts toward this address's limit of unknown cards.
    deadline = time.monotonic() + 15
    with app.extensions["zongzhi.replica"].engine.connect() as conn:
        while conn.execute(text("SELECT count(*) FROM cards WHERE id = :id"), {"id": card.card.id}).scalar() != 1:
            assert time.monotonic() < deadline, "the replica never replayed the new card"
            time.sleep(0.2)
    yield {"app": app, "session": session, "bank": bank, "wang": wang, "token": card.token,
           "client": client, "clock": clock}
    session.close()
    app.extensions["zongzhi.replica"].engine.dispose()
    app.extensions["zongzhi.engine"].dispose()


def _patrol(village, hours):
    """Post a patrol of so many hours (2 points each) on a day of its own, under the day's cap."""
    deeds.post_deed(village["session"], village["bank"], rule_code="patrol",
                    resident_ids=[village["wang"].id], quantity=hours, occurred_on=date(2026, 10, 10 + hours),
                    memo=None, by="clerk", clock=village["clock"])


def _card(village):
    answer = village["client"].get(f"/c/{village['token']}")
    assert answer.status_code == 200
    return answer.headers.get("X-Zongzhi-Read-From"), answer.get_data(as_text=True)


def _until(village, test, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        served, page = _card(village)
        if test(served, page):
            return served, page
        assert time.monotonic() < deadline, (served, page[:2000])
        time.sleep(0.2)


def test_a_write_on_the_primary_appears_on_the_card_page_the_replica_serves(village):
    _patrol(village, 3)
    _until(village, lambda served, page: served == "replica" and "夜间巡逻" in page and "+6" in page)
    _patrol(village, 4)
    served, page = _until(village, lambda served, page: "+8" in page)
    assert served == "replica"
    # the public page of the foundation reads from the replica too; a staff screen never does
    public = village["client"].get("/p/hp/foundation")
    assert public.status_code == 200 and public.headers["X-Zongzhi-Read-From"] == "replica"
    assert "X-Zongzhi-Read-From" not in village["client"].get("/login").headers


def test_a_card_page_the_replica_serves_reads_nothing_from_the_primary(village):
    from sqlalchemy import event

    _until(village, lambda served, page: served == "replica")
    on_primary = []

    def note(_conn, _cursor, statement, *_rest):
        on_primary.append(statement)

    primary = village["app"].extensions["zongzhi.engine"]
    event.listen(primary, "before_cursor_execute", note)
    try:
        served, page = _card(village)
    finally:
        event.remove(primary, "before_cursor_execute", note)
    assert served == "replica" and "王五" in page
    assert on_primary == []


def test_a_replica_that_falls_behind_too_far_hands_the_pages_to_the_primary(village, pair):
    replica = create_engine(normalize_url(pair["replica_db"]), isolation_level="AUTOCOMMIT")
    with replica.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        _patrol(village, 1)  # +2, on the primary only while the replica stands still
        served, page = _until(village, lambda served, page: served == "primary")
        assert "+2" in page
    finally:
        with replica.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
        replica.dispose()
    _until(village, lambda served, page: served == "replica" and "+2" in page)


def test_when_the_replica_is_stopped_the_pages_answer_from_the_primary(village, pair):
    pair["replica"].stop()
    try:
        _patrol(village, 2)
        served, page = _until(village, lambda served, page: served == "primary", seconds=10)
        assert "+4" in page
        public = village["client"].get("/p/hp/foundation")
        assert public.status_code == 200 and public.headers["X-Zongzhi-Read-From"] == "primary"
    finally:
        pair["replica"].start()
    _until(village, lambda served, page: served == "replica" and "+4" in page)


def test_the_replicas_reads_run_in_autocommit_and_a_snapshot_still_gets_its_transaction(village):
    from ground.store import snapshot

    replica = village["app"].extensions["zongzhi.replica"]
    with replica.engine.connect() as conn:
        # No BEGIN before a page's reads and no ROLLBACK after: two round trips a page saved.
        assert conn.connection.driver_connection.autocommit is True
    with replica.sessions() as session, snapshot(session):
        level = session.execute(text("SHOW transaction_isolation")).scalar()
        assert level == "repeatable read"
