"""A province's database carried over to keys by bank (schema 0022): on PostgreSQL the demo village
and a second bank, written at 0021, come through with every row, balance and chain as they were,
`verify` passes, a new deed continues the ids, and the way back to 0021 and up again loses
nothing. On SQLite 0022 changes nothing at all.
"""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner

import migrations
from ground.clock import FixedClock
from ground.db import normalize_url

from ..conftest import NOW, POSTGRES_URL, Factory
from ..schema import by_bank_problems, model_diff

BANKS = ("heping", "xz")


@pytest.fixture(scope="module")
def admin(backend):
    if backend["name"] != "postgresql":
        pytest.skip("0022 changes PostgreSQL only (SQLite's side: the last test)")
    engine = sa.create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _database(admin, name: str, template: str | None = None) -> str:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    return normalize_url(POSTGRES_URL).rsplit("/", 1)[0] + f"/{name}"


def _drop(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def province_0021(admin):
    """A PostgreSQL database at 0021 holding the demo village, a second bank, and a county entry
    in the audit log; made once, copied for each test."""
    name = f"zongzhi_0021_{os.getpid()}"
    _fill(_database(admin, name))
    yield name
    _drop(admin, name)


@pytest.fixture
def old_url(admin, province_0021):
    """A copy of the province at 0021, for one test."""
    name = f"zongzhi_0022_{os.getpid()}"
    yield _database(admin, name, template=province_0021)
    _drop(admin, name)


def _fill(url: str) -> None:
    from ground import audit
    from seed_data import demo

    migrations.upgrade(url, "0021")
    with _opened(url) as (session, clock):
        demo.seed_if_empty(session, clock=clock)
        make = Factory(session, clock)
        bank = make.bank("xz", "新镇村综治银行")
        household = make.household(bank)
        make.deed(bank, "cleanup", [make.resident(bank, "甲", household), make.resident(bank, "乙", household)],
                  quantity=2)
        audit.record(session, bank_id=None, actor="county", action="login", clock=clock)
        session.commit()


class _opened:
    """The app's session on `url`, with the test's clock."""

    def __init__(self, url):
        from zongzhi.app import create_app

        self.app = create_app({"DATABASE_URL": url, "CLOCK": FixedClock(at=NOW), "TESTING": True,
                               "SECRET_KEY": "test"})

    def __enter__(self):
        self.session = self.app.extensions["zongzhi.sessions"]()
        return self.session, self.app.extensions["zongzhi.clock"]

    def __exit__(self, *exc):
        self.session.close()
        self.app.extensions["zongzhi.engine"].dispose()


def _state(url: str) -> dict:
    """Every table's rows, counted, and every account's balance."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tables = [t for (t,) in conn.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relispartition AND relname <> 'alembic_version'")]
        state = {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar() for t in tables}
        state["balances"] = conn.exec_driver_sql(
            "SELECT bank_id, ledger, code, balance FROM accounts ORDER BY bank_id, ledger, code").all()
        state["chains"] = conn.exec_driver_sql(
            "SELECT code, head_seq, head_hash FROM banks ORDER BY code").all()
        state["problems"] = by_bank_problems(conn)
        # As text: the schema objects a difference names compare by identity.
        state["diff"] = [repr(change) for change in model_diff(conn)]
    engine.dispose()
    return state


def _verify(url: str, monkeypatch) -> None:
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", url)
    from zongzhi.cli import main

    for code in BANKS:
        answer = CliRunner().invoke(main, ["verify", code])
        assert answer.exit_code == 0 and f"{code}: OK" in answer.output, answer.output


def test_a_province_at_0021_comes_through_0022_whole_and_back_again(old_url, monkeypatch):
    before = _state(old_url)
    assert before["transfers"] > 1000 and before["audit_log"] > 0 and len(before["chains"]) == 2
    assert "transfers: not partitioned by hash of bank_id" in before["problems"]

    migrations.upgrade(old_url)
    after = _state(old_url)
    assert after.pop("problems") == [] and after.pop("diff") == []
    assert after == {k: v for k, v in before.items() if k not in ("problems", "diff")}
    _verify(old_url, monkeypatch)

    # The way back to 0021 gives the very schema 0021 made, with every row; and up again.
    command.downgrade(migrations.config(old_url), "0021")
    assert _state(old_url) == before
    _verify(old_url, monkeypatch)
    migrations.upgrade(old_url)
    assert _state(old_url)["problems"] == []
    _verify(old_url, monkeypatch)


def test_a_deed_after_the_upgrade_continues_the_ids_and_the_chain(old_url, monkeypatch):
    from ground.audit import AuditEntry
    from ground.tenants import Bank
    from ledger import deeds
    from ledger.models import Resident, Transfer

    engine = sa.create_engine(old_url)
    with engine.connect() as conn:
        last_transfer = conn.exec_driver_sql("SELECT max(id) FROM transfers").scalar()
        last_entry = conn.exec_driver_sql("SELECT max(id) FROM audit_log").scalar()
    engine.dispose()
    migrations.upgrade(old_url)
    with _opened(old_url) as (session, clock):
        bank = session.execute(sa.select(Bank).where(Bank.code == "heping")).scalar_one()
        resident = session.execute(sa.select(Resident).where(Resident.bank_id == bank.id)
                                   .order_by(Resident.id).limit(1)).scalar_one()
        outcome = deeds.post_deed(session, bank, rule_code="cleanup", resident_ids=[resident.id],
                                  quantity=1, occurred_on=clock.today() - timedelta(days=1),
                                  memo=None, by="clerk", clock=clock)
        [posted] = outcome.transfers
        assert posted.id == last_transfer + 1 and posted.seq == bank.head_seq
        assert session.execute(sa.select(sa.func.max(AuditEntry.id))).scalar() == last_entry + 1
        assert session.get(Transfer, posted.id).bank_id == bank.id
    _verify(old_url, monkeypatch)


def test_on_sqlite_0022_leaves_the_schema_exactly_as_0021_made_it(backend, tmp_path):
    if backend["name"] != "sqlite":
        pytest.skip("SQLite's side")
    url = f"sqlite:///{tmp_path / 'province.db'}"

    def schema():
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            made = conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE name <> 'alembic_version' ORDER BY type, name").all()
        engine.dispose()
        return made

    migrations.upgrade(url, "0021")
    at_0021 = schema()
    migrations.upgrade(url, "0022")
    assert migrations.current(url) == ("0022",)
    assert schema() == at_0021 and len(at_0021) > 100
    command.downgrade(migrations.config(url), "0021")
    assert schema() == at_0021
