"""keys by bank: on PostgreSQL every key of a bank's table leads with the bank, and the transfers
and the audit log are partitioned by hash of the bank

A bank's rows then live together: each primary key, unique constraint and foreign key between two
of a bank's tables leads with bank_id (what Citus asks of tables it co-locates by bank, and what
native partitioning asks of a unique key), and the two tables that grow with every deed are split
into PARTITIONS parts by hash of bank_id. tests/ground/test_distribution.py reads the schema and
holds it so. Lookups by id alone (the ORM's) keep an index of their own, not unique.

SQLite is left exactly as it was: one file per province has nothing to distribute.

Revision ID: 0022
Revises: 0021
"""
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

#: How many hash partitions the transfers and the audit log are split into.
PARTITIONS = 16

#: Tables whose primary key (at 0021, these columns) becomes (bank_id, ...). A plain index on the
#: old key keeps a lookup by it alone an index probe.
PRIMARY_KEYS = {
    "accounts": "id", "cards": "id", "catalog_items": "id", "field_activities": "id",
    "field_checkins": "id", "field_evidence": "id", "field_photos": "id", "field_reports": "id",
    "field_signups": "id", "foundation_applicants": "id", "foundation_applications": "id",
    "foundation_attachments": "id", "foundation_claims": "id", "foundation_decisions": "id",
    "foundation_donors": "id", "foundation_ledger_links": "id", "foundation_lines": "id",
    "foundation_members": "id", "foundation_panel": "id", "foundation_progress": "id",
    "foundation_reviewer_residents": "id", "foundation_scores": "id", "foundation_tranches": "id",
    "foundation_transitions": "id", "foundation_wishes": "id", "fund_receipts": "id",
    "households": "id", "idempotency_records": "id", "job_runs": "id",
    "legacy_events": "transfer_id", "objections": "id", "pending_deeds": "id", "period_seals": "id",
    "redemption_lines": "id", "redemption_windows": "id", "redemptions": "id",
    "report_snapshots": "id", "resident_moves": "id", "residents": "id", "rule_versions": "id",
    "stock_movements": "id", "transfers": "id",
}

#: Unique constraints as 0021 has them (name, columns) and as they become. Each is unique within
#: one bank already (its rows name a row of that bank), so bank_id in front keeps its meaning;
#: a card's token hash is 192 random bits, unique in every bank together without a constraint,
#: and found without a bank through ix_cards_token_hash.
UNIQUES = [
    ("cards", "cards_token_hash_key", "token_hash"),
    ("field_checkins", "field_checkins_activity_id_resident_id_key", "activity_id, resident_id"),
    ("field_reports", "field_reports_pending_id_key", "pending_id"),
    ("field_signups", "field_signups_activity_id_resident_id_key", "activity_id, resident_id"),
    ("foundation_decisions", "foundation_decisions_application_id_key", "application_id"),
    ("foundation_ledger_links", "foundation_ledger_links_pending_id_key", "pending_id"),
    ("foundation_members", "foundation_members_applicant_id_resident_id_key",
     "applicant_id, resident_id"),
    ("foundation_panel", "foundation_panel_application_id_user_id_key", "application_id, user_id"),
    ("foundation_reviewer_residents", "foundation_reviewer_residents_user_id_key", "user_id"),
    ("foundation_scores", "foundation_scores_application_id_user_id_criterion_key",
     "application_id, user_id, criterion"),
    ("job_runs", "job_runs_job_bank_id_period_key", "job, bank_id, period"),
    ("redemption_lines", "uq_redemption_lines_entry_id", "entry_id"),
]

#: Foreign keys between two of a bank's tables, as 0021 has them: (table, column, referenced
#: table). Each becomes (bank_id, column) -> (bank_id, id); every one is ON DELETE NO ACTION.
FOREIGN_KEYS = [
    ("accounts", "household_id", "households"), ("accounts", "resident_id", "residents"),
    ("cards", "household_id", "households"), ("cards", "resident_id", "residents"),
    ("field_checkins", "activity_id", "field_activities"),
    ("field_checkins", "resident_id", "residents"),
    ("field_evidence", "pending_id", "pending_deeds"), ("field_evidence", "photo_id", "field_photos"),
    ("field_evidence", "transfer_id", "transfers"),
    ("field_reports", "card_id", "cards"), ("field_reports", "pending_id", "pending_deeds"),
    ("field_signups", "activity_id", "field_activities"), ("field_signups", "resident_id", "residents"),
    ("foundation_applications", "applicant_id", "foundation_applicants"),
    ("foundation_attachments", "application_id", "foundation_applications"),
    ("foundation_attachments", "progress_id", "foundation_progress"),
    ("foundation_claims", "wish_id", "foundation_wishes"),
    ("foundation_decisions", "application_id", "foundation_applications"),
    ("foundation_donors", "claim_id", "foundation_claims"),
    ("foundation_donors", "resident_id", "residents"),
    ("foundation_ledger_links", "application_id", "foundation_applications"),
    ("foundation_ledger_links", "pending_id", "pending_deeds"),
    ("foundation_ledger_links", "tranche_id", "foundation_tranches"),
    ("foundation_ledger_links", "wish_id", "foundation_wishes"),
    ("foundation_lines", "application_id", "foundation_applications"),
    ("foundation_members", "applicant_id", "foundation_applicants"),
    ("foundation_members", "resident_id", "residents"),
    ("foundation_panel", "application_id", "foundation_applications"),
    ("foundation_progress", "application_id", "foundation_applications"),
    ("foundation_reviewer_residents", "resident_id", "residents"),
    ("foundation_scores", "application_id", "foundation_applications"),
    ("foundation_tranches", "application_id", "foundation_applications"),
    ("foundation_transitions", "application_id", "foundation_applications"),
    ("foundation_wishes", "resident_id", "residents"),
    ("fund_receipts", "item_id", "catalog_items"), ("fund_receipts", "transfer_id", "transfers"),
    ("legacy_events", "first_id", "transfers"), ("legacy_events", "transfer_id", "transfers"),
    ("objections", "correction_id", "transfers"), ("objections", "resident_id", "residents"),
    ("objections", "transfer_id", "transfers"),
    ("pending_deeds", "resident_id", "residents"), ("pending_deeds", "transfer_id", "transfers"),
    ("redemption_lines", "entry_id", "transfers"), ("redemption_lines", "account_id", "accounts"),
    ("redemption_lines", "item_id", "catalog_items"),
    ("redemption_lines", "redemption_id", "redemptions"),
    ("redemptions", "account_id", "accounts"), ("redemptions", "resident_id", "residents"),
    ("resident_moves", "from_household_id", "households"),
    ("resident_moves", "resident_id", "residents"),
    ("resident_moves", "to_household_id", "households"),
    ("residents", "household_id", "households"),
    ("stats_resident_months", "resident_id", "residents"),
    ("stock_movements", "entry_id", "transfers"), ("stock_movements", "item_id", "catalog_items"),
    ("stock_movements", "redemption_line_id", "redemption_lines"),
    ("transfers", "credit_id", "accounts"), ("transfers", "debit_id", "accounts"),
    ("transfers", "doer_id", "residents"), ("transfers", "reverses_id", "transfers"),
]
#: The foreign keys 0021 named otherwise than PostgreSQL's default, table_column_fkey.
OLD_FK_NAMES = {("redemption_lines", "entry_id"): "fk_redemption_lines_entry_id_transfers",
                ("stock_movements", "entry_id"): "fk_stock_movements_entry_id_transfers"}

#: A transfer is reversed at most once.
REVERSES = "ux_transfers_reverses"
#: The audit log's own key: county entries (a county admin signing in) have no bank, and a
#: primary key refuses NULL, so the audit log is keyed by a unique (bank_id, id) instead.
AUDIT_KEY = "audit_log_bank_id_id_key"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, _ in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_old_fk(table, column)}")
    for table, name, _ in UNIQUES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"DROP INDEX {REVERSES}")
    for table, key in PRIMARY_KEYS.items():
        if table != "transfers":
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                       f"ADD CONSTRAINT {table}_pkey PRIMARY KEY (bank_id, {key})")
            op.execute(f"CREATE INDEX ix_{table}_{key} ON {table} ({key})")
    _rebuild("transfers", partitioned=True,
             key="ADD CONSTRAINT transfers_pkey PRIMARY KEY (bank_id, id)")
    op.execute("CREATE INDEX ix_transfers_id ON transfers (id)")
    _rebuild("audit_log", partitioned=True, key=f"ADD CONSTRAINT {AUDIT_KEY} UNIQUE (bank_id, id)")
    for table, _, columns in UNIQUES:
        rest = ", ".join(c for c in _names(columns) if c != "bank_id")
        op.execute(f"ALTER TABLE {table} ADD UNIQUE (bank_id, {rest})")
    op.execute("CREATE INDEX ix_cards_token_hash ON cards (token_hash)")
    op.execute(f"CREATE UNIQUE INDEX {REVERSES} ON transfers (bank_id, reverses_id) "
               "WHERE reverses_id IS NOT NULL")
    for table, column, target in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_bank_id_{column}_fkey "
                   f"FOREIGN KEY (bank_id, {column}) REFERENCES {target} (bank_id, id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, _ in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_bank_id_{column}_fkey")
    for table, _, columns in UNIQUES:
        rest = "_".join(c for c in _names(columns) if c != "bank_id")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_bank_id_{rest}_key")
    op.execute("DROP INDEX ix_cards_token_hash")
    op.execute(f"DROP INDEX {REVERSES}")
    op.execute("DROP INDEX ix_transfers_id")
    _rebuild("audit_log", partitioned=False, key="ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id)")
    _rebuild("transfers", partitioned=False, key="ADD CONSTRAINT transfers_pkey PRIMARY KEY (id)")
    for table, key in PRIMARY_KEYS.items():
        if table != "transfers":
            op.execute(f"DROP INDEX ix_{table}_{key}")
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                       f"ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
    for table, name, columns in UNIQUES:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns})")
    op.execute(f"CREATE UNIQUE INDEX {REVERSES} ON transfers (reverses_id) "
               "WHERE reverses_id IS NOT NULL")
    for table, column, target in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {_old_fk(table, column)} "
                   f"FOREIGN KEY ({column}) REFERENCES {target} (id)")


def _old_fk(table: str, column: str) -> str:
    return OLD_FK_NAMES.get((table, column), f"{table}_{column}_fkey")


def _names(columns: str) -> list[str]:
    return [c.strip() for c in columns.split(",")]


def _rebuild(table: str, *, partitioned: bool, key: str) -> None:
    """Make `table` anew, partitioned by hash of bank_id or not, with the same rows, columns,
    checks, defaults (its id sequence carries on), indexes, triggers and foreign keys either way;
    `key` is the ALTER TABLE clause that gives it its primary (or unique) key.

    What the old table has beyond its key is read from the catalogue before it goes: foreign keys
    still pointing at it or from it, its other unique constraints, its indexes, its own triggers.
    """
    bind = op.get_bind()

    def rows(sql: str) -> list[str]:
        return [r[0] for r in bind.exec_driver_sql(sql, (table,)).all()]

    inbound = bind.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = %s::regclass AND conrelid <> confrelid "
        "AND conparentid = 0", (table,)).all()
    outbound = bind.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = %s::regclass AND conparentid = 0", (table,)).all()
    uniques = bind.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'u' AND conrelid = %s::regclass AND conname <> %s", (table, AUDIT_KEY)).all()
    indexes = rows("SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                   "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
                   "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)")
    triggers = rows("SELECT pg_get_triggerdef(oid) FROM pg_trigger "
                    "WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0")
    # Its BEFORE TRUNCATE triggers (in pg_trigger.tgtype, 2 is BEFORE and 32 is TRUNCATE).
    guards = bind.exec_driver_sql(
        "SELECT tgname, tgfoid::regproc::text FROM pg_trigger WHERE tgrelid = %s::regclass "
        "AND NOT tgisinternal AND tgparentid = 0 AND tgtype & 34 = 34", (table,)).all()
    sequence = bind.exec_driver_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).scalar()
    for source, name, _ in inbound:
        op.execute(f"ALTER TABLE {source} DROP CONSTRAINT {name}")

    new = f"{table}_new"
    split = " PARTITION BY HASH (bank_id)" if partitioned else ""
    op.execute(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){split}")
    if partitioned:
        for part in range(PARTITIONS):
            op.execute(f"CREATE TABLE {table}_p{part:02d} PARTITION OF {new} "
                       f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {part})")
    # The rows keep their ids: the copy writes them as they are, and the sequence goes on from
    # where it was (it is the new table's now, and would otherwise go with the old one).
    op.execute(f"INSERT INTO {new} SELECT * FROM {table}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {new} RENAME TO {table}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    op.execute(f"ALTER TABLE {table} {key}")
    for name, definition in uniques:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for definition in indexes:
        op.execute(definition)
    for definition in triggers:
        op.execute(definition)
    if partitioned:
        # A statement's trigger guards only the table it is on: each part refuses TRUNCATE too.
        for name, function in guards:
            for part in range(PARTITIONS):
                op.execute(f"CREATE TRIGGER {name}_p{part:02d} BEFORE TRUNCATE ON {table}_p{part:02d} "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    for name, definition in outbound:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for source, name, definition in inbound:
        op.execute(f"ALTER TABLE {source} ADD CONSTRAINT {name} {definition}")
    op.execute(f"ANALYZE {table}")
