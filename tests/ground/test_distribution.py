"""On PostgreSQL a bank's rows can be kept together: every key of a bank's table leads with the
bank, and the transfers and the audit log are partitioned by hash of the bank.

The schema is read from the database's own catalogue (tests/schema.py), so a table a later
migration adds without the bank in front of its keys fails here by name.
"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DatabaseError

from ..schema import GLOBAL_TABLES, by_bank_problems


@pytest.fixture
def postgres(backend, database_url):
    if backend["name"] != "postgresql":
        pytest.skip("partitions and keys by bank are PostgreSQL's (SQLite keeps its schema as it was)")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def test_every_bank_table_keys_by_bank_and_the_ledger_and_audit_log_are_hash_partitioned(postgres):
    assert by_bank_problems(postgres) == []


def test_the_global_tables_are_the_ones_named_and_every_other_table_holds_a_bank(postgres):
    tables = {name for (name,) in postgres.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relkind IN ('r', 'p') AND NOT relispartition")}
    assert set(GLOBAL_TABLES) <= tables
    holding_a_bank = {name for (name,) in postgres.exec_driver_sql(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'bank_id' "
        "AND table_schema = current_schema()")}
    assert tables - set(GLOBAL_TABLES) <= holding_a_bank
    assert len(tables - set(GLOBAL_TABLES)) > 40


def test_the_check_names_a_table_whose_keys_do_not_lead_with_the_bank(postgres):
    trial = postgres.begin()
    try:
        postgres.exec_driver_sql("""
            CREATE TABLE careless (id serial PRIMARY KEY, bank_id integer NOT NULL,
                                   code text UNIQUE, resident_id integer,
                                   FOREIGN KEY (resident_id, bank_id) REFERENCES residents (id, bank_id));
            CREATE UNIQUE INDEX ux_careless_resident ON careless (resident_id);
            CREATE TABLE orphan (id serial PRIMARY KEY, name text);
            CREATE TABLE unkeyed (bank_id integer NOT NULL, note text)""")
        problems = by_bank_problems(postgres)
    finally:
        trial.rollback()
    assert problems == [
        "careless: foreign key careless_resident_id_bank_id_fkey (resident_id, bank_id) -> "
        "residents (id, bank_id) does not lead with bank_id",
        "careless: primary key careless_pkey (id) does not lead with bank_id",
        "careless: unique constraint careless_code_key (code) does not lead with bank_id",
        "careless: unique index ux_careless_resident (resident_id) does not lead with bank_id",
        "orphan: no bank_id, and not named a global table",
        "unkeyed: no primary key",
    ]
    assert by_bank_problems(postgres) == []


def test_the_check_names_a_ledger_that_is_not_partitioned_by_the_bank(postgres):
    trial = postgres.begin()
    try:
        postgres.exec_driver_sql("ALTER TABLE audit_log RENAME TO audit_log_partitioned")
        postgres.exec_driver_sql("CREATE TABLE audit_log (id serial, bank_id integer, UNIQUE (bank_id, id))")
        problems = by_bank_problems(postgres)
    finally:
        trial.rollback()
    assert problems == ["audit_log: not partitioned by hash of bank_id",
                        "audit_log_partitioned: no primary key"]


def test_a_transfer_lands_in_its_banks_partition_and_stays_append_only(make, postgres):
    bank = make.bank()
    make.deed(bank, "cleanup", [make.resident(bank)])
    rows = postgres.exec_driver_sql(
        "SELECT tableoid::regclass::text, bank_id FROM transfers").all()
    postgres.rollback()
    assert rows and all(part.startswith("transfers_p") and bank_id == bank.id for part, bank_id in rows)
    for statement in ("UPDATE transfers SET memo = 'x'", "DELETE FROM transfers",
                      f"DELETE FROM {rows[0][0]}", "TRUNCATE transfers CASCADE",
                      f"TRUNCATE {rows[0][0]} CASCADE"):
        with pytest.raises(DatabaseError, match="append-only"):
            with postgres.begin():
                postgres.exec_driver_sql(statement)
