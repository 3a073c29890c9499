"""A bank made by the version before entries (schema 0018), upgraded: it verifies as it did, every
transfer a one-leg entry, its old keys replay, and its events are still undone whole.

The bank is data/bank_0018.db (see data/make_bank_0018.py for what it holds and how it was
made). On PostgreSQL its rows are copied into a database migrated to 0018, then upgraded.
"""
from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import migrations
from ground.db import normalize_url
from ground.tenants import Bank

from ..conftest import NOW, POSTGRES_URL
from ..schema import model_diff

DATA = Path(__file__).parent / "data" / "bank_0018.db"
#: The API token of the bank's clerk, as the file was made.
CLERK = {"Authorization": "Bearer TJjPGKkoWSqHQNTZNF8qEUN1tSer6b5TRcKbRwoCaBo"}
API = "/api/v1/banks/hp"


@pytest.fixture
def old_url(backend, tmp_path):
    """A database holding the old bank, still at 0018."""
    if backend["name"] == "sqlite":
        path = tmp_path / "old.db"
        shutil.copy(DATA, path)
        yield f"sqlite:///{path}"
        return
    admin = sa.create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"zongzhi_old_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(POSTGRES_URL).rsplit("/", 1)[0] + f"/{name}"
    migrations.upgrade(url, "0018")
    _copy_rows(f"sqlite:///{DATA}", url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _copy_rows(source_url: str, target_url: str) -> None:
    """Copy every row of a database at 0018 into another at 0018, ids and all."""
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    tables = sa.MetaData()
    tables.reflect(target)
    with source.connect() as read, target.begin() as write:
        for table in tables.sorted_tables:
            if table.name == "alembic_version":
                continue
            columns = [c.name for c in table.columns]
            rows = [dict(zip(columns, row)) for row in read.execute(sa.text(
                f'SELECT {", ".join(columns)} FROM "{table.name}"'))]
            for row in rows:
                for column in table.columns:
                    row[column.name] = _typed(row[column.name], column.type)
            if rows:
                write.execute(table.insert(), rows)
            if "id" in columns:
                write.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                      f"(SELECT coalesce(max(id), 0) + 1 FROM \"{table.name}\"), false)"))
    source.dispose()
    target.dispose()


def _typed(value, type_):
    # SQLite keeps times as UTC text and truth as 0 or 1.
    if value is None:
        return None
    try:
        python = type_.python_type
    except NotImplementedError:
        return value
    if python is datetime:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    if python is date:
        return date.fromisoformat(value)
    if python is bool:
        return bool(value)
    return value


@pytest.fixture
def upgraded(old_url):
    from ground.clock import FixedClock
    from zongzhi.app import create_app

    migrations.upgrade(old_url)
    app = create_app({"DATABASE_URL": old_url, "CLOCK": FixedClock(at=NOW), "TESTING": True,
                      "SECRET_KEY": "test"})
    session = app.extensions["zongzhi.sessions"]()
    yield app, session
    session.close()
    app.extensions["zongzhi.engine"].dispose()


def _verified(session):
    from ledger.verify import verify_bank

    session.rollback()
    report = verify_bank(session, session.execute(sa.select(Bank).where(Bank.code == "hp")).scalar_one())
    assert report.ok, report.problems
    return report


def _transfers(session):
    from ledger.models import Transfer

    session.rollback()
    return list(session.execute(sa.select(Transfer).order_by(Transfer.seq)).scalars())


def test_the_old_bank_verifies_unchanged_and_every_transfer_is_an_entry_of_its_own(upgraded, old_url, monkeypatch):
    app, session = upgraded
    report = _verified(session)
    assert report.transfers == 19
    assert all(t.entry_seq == t.seq for t in _transfers(session))
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", old_url)
    from zongzhi.cli import main

    answer = CliRunner().invoke(main, ["verify", "hp"])
    assert answer.exit_code == 0 and "OK, 19 transfers" in answer.output, answer.output
    assert migrations.current(old_url) == migrations.heads()


def test_the_old_banks_keys_replay_their_first_answers(upgraded):
    app, session = upgraded
    client = app.test_client()
    deed = client.post(f"{API}/deeds", headers={**CLERK, "Idempotency-Key": "old-deed-1"}, json={
        "rule": "cleanup", "residents": [1, 3], "quantity": 20, "occurred_on": "2026-10-15",
        "memo": "清理河道"})
    assert deed.status_code == 201, deed.get_json()
    assert [(t["id"], t["amount"], t["entry"]) for t in deed.get_json()["transfers"]] == [(1, 60, 1), (2, 60, 2)]
    undone = client.post(f"{API}/transfers/3/reverse", headers={**CLERK, "Idempotency-Key": "old-reverse-1"},
                         json={"reason": "登记错人"})
    assert (undone.status_code, undone.get_json()["transfer"]["id"]) == (201, 4)
    assert len(_transfers(session)) == 19


def test_a_redemption_line_posted_before_entries_is_reversed_whole(upgraded):
    app, session = upgraded
    from redemption.services import catalog

    before = {t.id: t for t in _transfers(session)}
    oil = catalog.get_item(session, session.get(Bank, 1), "oil", fresh=True).stock
    # Seq 13 and 14: the oil line's points and its cost, two one-leg entries linked by the desk.
    answer = app.test_client().post(f"{API}/transfers/14/reverse", headers=CLERK, json={"reason": "拿错了"})
    assert answer.status_code == 201, answer.get_json()
    mirrors = answer.get_json()["transfers"]
    assert [(m["reverses"], m["amount"], m["entry"]) for m in mirrors] == [(13, 24, 20), (14, 3000, 20)]
    assert [before[m["reverses"]].kind for m in mirrors] == ["redemption", "goods_cost"]
    session.rollback()
    assert catalog.get_item(session, session.get(Bank, 1), "oil", fresh=True).stock == oil + 2
    again = app.test_client().post(f"{API}/transfers/13/reverse", headers=CLERK, json={"reason": "再冲"})
    assert (again.status_code, again.get_json()["error"]) == (409, "already_reversed")
    _verified(session)


def test_a_purchase_paid_from_two_funds_before_entries_is_reversed_whole_or_not_at_all(upgraded):
    app, session = upgraded
    # Seq 8 and 9: the rice bought from the fund and from goods-only money, two one-leg entries
    # linked by the desk; one bag has been handed out since, so the lot cannot come off the shelf.
    answer = app.test_client().post(f"{API}/transfers/9/reverse", headers=CLERK, json={"reason": "录错了"})
    assert (answer.status_code, answer.get_json()["error"]) == (409, "out_of_stock")
    assert len(_transfers(session)) == 19
    _verified(session)


@pytest.mark.parametrize("seq", [15, 16, 17, 18, 19])
def test_the_old_projects_money_is_not_reversed(upgraded, seq):
    app, session = upgraded
    answer = app.test_client().post(f"{API}/transfers/{seq}/reverse", headers=CLERK, json={"reason": "录错了"})
    assert (answer.status_code, answer.get_json()["error"]) == (409, "not_reversible")
    assert len(_transfers(session)) == 19
    _verified(session)


def test_the_upgrade_builds_the_transfers_table_the_model_describes(upgraded, old_url):
    engine = sa.create_engine(normalize_url(old_url))
    with engine.connect() as conn:
        diff = model_diff(conn)
    engine.dispose()
    assert [d for d in diff if "transfers" in repr(d) and "entry" in repr(d)] == []
