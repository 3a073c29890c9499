"""The upgrade to kept sessions, expiring tokens and per-user keys: nothing is lost on the way."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

import migrations
from ground.db import normalize_url

from ..conftest import POSTGRES_URL
from ..schema import model_diff

TABLES = {"user_sessions", "api_tokens", "idempotency_records", "stats_progress", "redemption_lines",
          "stock_movements", "legacy_events"}
ISSUED = datetime(2026, 1, 1, 8, 30, tzinfo=timezone.utc)


@pytest.fixture
def empty_url(backend, tmp_path):
    """A database with no schema at all, to migrate step by step."""
    if backend["name"] == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = sa.create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"zongzhi_upgrade_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield normalize_url(POSTGRES_URL).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_migration_builds_exactly_the_tables_the_models_describe(database_url):
    engine = sa.create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        diff = model_diff(conn)
    engine.dispose()
    mine = [d for d in diff if any(getattr(part, "name", part) in TABLES or
                                   getattr(getattr(part, "table", None), "name", None) in TABLES
                                   for part in (d[0] if isinstance(d, list) else d)[1:])]
    assert mine == []


def test_upgrading_gives_existing_tokens_a_year_and_keeps_every_idempotency_record(empty_url):
    migrations.upgrade(empty_url, "0009")
    engine = sa.create_engine(normalize_url(empty_url))
    stamp = sa.column("created_at", UTCDateTime())
    with engine.begin() as conn:
        conn.execute(sa.table("banks", sa.column("code"), sa.column("name"), sa.column("head_seq"),
                              sa.column("head_hash"), stamp).insert().values(
            code="hp", name="和平村", head_seq=0, head_hash="0" * 64, created_at=ISSUED))
        conn.execute(sa.table("users", sa.column("name"), sa.column("role"), sa.column("password_hash"),
                              sa.column("active"), sa.column("created_at", UTCDateTime())).insert().values(
            name="wang", role="clerk", password_hash="", active=True, created_at=ISSUED))
        conn.execute(sa.table("api_tokens", sa.column("user_id"), sa.column("token_hash"),
                              sa.column("created_at", UTCDateTime())).insert().values(
            user_id=1, token_hash="a" * 64, created_at=ISSUED))
        conn.execute(sa.table("idempotency_records", sa.column("bank_id"), sa.column("key"),
                              sa.column("request_hash"), sa.column("status"), sa.column("outcome"),
                              sa.column("created_at", UTCDateTime())).insert().values(
            bank_id=1, key="k-1", request_hash="h" * 64, status=201, outcome='{"transfers": [1]}',
            created_at=ISSUED))
    migrations.upgrade(empty_url)
    tokens = sa.table("api_tokens", sa.column("token_hash"), sa.column("created_at", UTCDateTime()),
                      sa.column("expires_at", UTCDateTime()), sa.column("last_used_at", UTCDateTime()))
    records = sa.table("idempotency_records", sa.column("user_id"), sa.column("key"), sa.column("outcome"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(tokens)).all() == [
            ("a" * 64, ISSUED, ISSUED + timedelta(days=365), None)]
        assert conn.execute(sa.select(records)).all() == [(0, "k-1", '{"transfers": [1]}')]
    engine.dispose()


def test_upgrading_marks_every_banks_figures_counted_up_to_its_chain_head(empty_url):
    migrations.upgrade(empty_url, "0017")
    engine = sa.create_engine(normalize_url(empty_url))
    with engine.begin() as conn:
        conn.execute(sa.table("banks", sa.column("code"), sa.column("name"), sa.column("head_seq"),
                              sa.column("head_hash"), sa.column("created_at", UTCDateTime())).insert(), [
            {"code": code, "name": code, "head_seq": head, "head_hash": "0" * 64, "created_at": ISSUED}
            for code, head in (("hp", 7), ("xz", 0))])
    migrations.upgrade(empty_url)
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.text("SELECT bank_id, counted_seq FROM stats_progress")).all()) == \
            [(1, 7), (2, 0)]
    engine.dispose()
