"""The schema as the database holds it: what keeps a bank's rows together, and how it differs from
the models on purpose.

`by_bank_problems` reads PostgreSQL's catalogue and names every table that would stop a bank's
rows being kept together (by Citus, which co-locates a bank's rows when every key leads with the
bank, or by native partitioning, whose unique keys must hold the partition key). `model_diff`
compares the models with a database as alembic does, leaving out what migration 0022 makes
differently on PostgreSQL by design: the partitions, and the keys that lead with the bank.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import migrations

#: Tables that hold no one bank's rows, each with why.
GLOBAL_TABLES = {
    "alembic_version": "the schema's version, not data",
    "banks": "the banks themselves: every bank's rows point at one",
    "users": "a county user belongs to no bank (bank_id NULL), and a name signs in anywhere",
    "api_tokens": "a token is found by its hash alone, before its user's bank is known",
    "user_sessions": "a session is found by its secret alone, before its user's bank is known",
}

#: Bank tables whose key is a unique constraint rather than a primary key, each with why; the
#: key must still lead with bank_id.
KEYED_BY_UNIQUE = {
    "audit_log": "county entries have no bank (bank_id NULL), which a primary key refuses",
}

#: The tables that grow with every deed, partitioned by hash of the bank.
PARTITIONED = ("transfers", "audit_log")

_TABLES = """
SELECT c.oid, c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                                 AND a.attname = 'bank_id' AND NOT a.attisdropped)
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"""

# Every primary key, unique constraint and foreign key made on a table itself (not the copies
# PostgreSQL makes on each partition), and every unique index no constraint stands for.
_KEYS = """
SELECT co.conrelid, co.contype::text, co.conname,
       array(SELECT a.attname::text FROM unnest(co.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n ORDER BY k.o),
       co.confrelid,
       array(SELECT a.attname::text FROM unnest(co.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n ORDER BY k.o)
FROM pg_constraint co WHERE co.contype IN ('p', 'u', 'f') AND co.conparentid = 0
  AND co.connamespace = current_schema()::regnamespace
UNION ALL
SELECT x.indrelid, 'i', i.relname,
       array(SELECT coalesce(a.attname::text, '(expression)') FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o),
       0, ARRAY[]::text[]
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indisunique AND i.relnamespace = current_schema()::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = x.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)"""

_PARTITIONING = """
SELECT c.relname, p.partstrat::text,
       array(SELECT coalesce(a.attname::text, '(expression)') FROM unnest(p.partattrs) k(n)
             LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.n)
FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"""


def by_bank_problems(conn) -> list[str]:
    """Name every way the PostgreSQL schema behind `conn` (a DB-API or SQLAlchemy connection with
    `exec_driver_sql`) fails to keep each bank's rows together; [] when it keeps them so."""
    tables = {oid: (name, has_bank) for oid, name, has_bank in conn.exec_driver_sql(_TABLES).all()}
    bank_tables = {oid for oid, (name, has_bank) in tables.items()
                   if has_bank and name not in GLOBAL_TABLES}
    problems = [f"{name}: no bank_id, and not named a global table"
                for oid, (name, has_bank) in tables.items()
                if not has_bank and name not in GLOBAL_TABLES]
    keyed = set()
    for table, kind, name, columns, target, target_columns in conn.exec_driver_sql(_KEYS).all():
        if table not in bank_tables:
            continue
        where, leads = tables[table][0], columns[:1] == ["bank_id"]
        if kind == "p":
            keyed.add(table)
            if not leads:
                problems.append(f"{where}: primary key {name} ({', '.join(columns)}) does not lead with bank_id")
        elif kind in ("u", "i"):
            if leads and where in KEYED_BY_UNIQUE and columns == ["bank_id", "id"]:
                keyed.add(table)
            if not leads:
                what = "unique constraint" if kind == "u" else "unique index"
                problems.append(f"{where}: {what} {name} ({', '.join(columns)}) does not lead with bank_id")
        elif target in bank_tables and not (leads and target_columns[:1] == ["bank_id"]):
            problems.append(f"{where}: foreign key {name} ({', '.join(columns)}) -> "
                            f"{tables[target][0]} ({', '.join(target_columns)}) does not lead with bank_id")
    problems += [f"{tables[oid][0]}: no primary key" + (
                     " nor unique (bank_id, id)" if tables[oid][0] in KEYED_BY_UNIQUE else "")
                 for oid in sorted(bank_tables - keyed)]
    partitioning = {name: (strategy, columns)
                    for name, strategy, columns in conn.exec_driver_sql(_PARTITIONING).all()}
    problems += [f"{name}: not partitioned by hash of bank_id"
                 for name in PARTITIONED if partitioning.get(name) != ("h", ["bank_id"])]
    return sorted(problems)


def _migration_0022():
    path = next((Path(migrations.__file__).parent / "versions").glob("0022_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0022", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_diff(conn) -> list:
    """Alembic's comparison of the models with the database behind `conn` (a SQLAlchemy
    connection). On PostgreSQL the partitions are left out, and so is each key 0022 made lead
    with the bank where the models (and SQLite) keep the shape before it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from zongzhi.tables import metadata

    if conn.dialect.name != "postgresql":
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    parts = {name for (name,) in conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relispartition AND relkind = 'r'").all()}

    def include_name(name, type_, parent):
        return not (type_ == "table" and name in parts)

    diff = compare_metadata(MigrationContext.configure(
        conn, opts={"compare_type": True, "include_name": include_name}), metadata)
    m = _migration_0022()
    foreign_keys = {(table, column) for table, column, _ in m.FOREIGN_KEYS}
    uniques = {(table, tuple(c.strip() for c in columns.split(","))) for table, _, columns in m.UNIQUES}
    indexes = {f"ix_{table}_{key}" for table, key in m.PRIMARY_KEYS.items()} | {
        "ix_cards_token_hash", m.REVERSES}

    def by_design(change) -> bool:
        kind, thing = change[0], change[1]
        table = getattr(getattr(thing, "table", None), "name", None) or getattr(thing, "parent", None)
        table = getattr(table, "name", table)
        if kind == "remove_fk" and thing.referred_table.name in parts:
            return True  # PostgreSQL's own copy of a foreign key, for each partition it points at
        if kind in ("add_fk", "remove_fk"):
            columns = [c.name if hasattr(c, "name") else c for c in thing.columns]
            if kind == "remove_fk":
                return columns[0] == "bank_id" and (table, columns[-1]) in foreign_keys
            return len(columns) == 1 and (table, columns[0]) in foreign_keys
        if kind in ("add_constraint", "remove_constraint"):
            columns = tuple(c.name for c in thing.columns)
            if kind == "remove_constraint":
                if table == "audit_log" and thing.name == m.AUDIT_KEY:
                    return True
                return columns[0] == "bank_id" and any(
                    t == table and set(c) | {"bank_id"} == set(columns) for t, c in uniques)
            return (table, columns) in uniques
        if kind in ("add_index", "remove_index"):
            return thing.name in indexes
        return False

    return [d for d in diff if isinstance(d, list) or not by_design(d)]
