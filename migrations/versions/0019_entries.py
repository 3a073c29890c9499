"""entries: every transfer names the entry (the event) it is a leg of

Revision ID: 0019
Revises: 0018
"""
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# As the first migration words it.
APPEND_ONLY = "transfers are append-only: post a reversal instead"
ENTRY_CHECK = "entry_seq BETWEEN 1 AND seq"


def upgrade() -> None:
    # Every transfer already written is an entry of its own: its entry is its own seq. The
    # chain encodes the entry only for a leg that is not its entry's first (ledger.chain), so
    # no hash changes and `verify` passes as before. Filling the column is the one UPDATE the
    # ledger ever sees: the guard against changes is lifted for it, in this transaction only.
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a NOT NULL column only with a default; the trigger below refuses the
        # default (0) for any row written from now on.
        op.execute("ALTER TABLE transfers ADD COLUMN entry_seq BIGINT NOT NULL DEFAULT 0")
        op.execute("DROP TRIGGER transfers_no_update")
        op.execute("UPDATE transfers SET entry_seq = seq")
        op.execute(f"""
            CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
        op.execute(f"""
            CREATE TRIGGER ck_transfers_entry_seq_insert BEFORE INSERT ON transfers
            WHEN NOT (NEW.entry_seq BETWEEN 1 AND NEW.seq)
            BEGIN SELECT RAISE(ABORT, 'ck_transfers_entry_seq: a leg names an entry at or before it'); END""")
    else:
        op.execute("ALTER TABLE transfers ADD COLUMN entry_seq BIGINT")
        op.execute("ALTER TABLE transfers DISABLE TRIGGER transfers_no_update")
        op.execute("UPDATE transfers SET entry_seq = seq")
        op.execute("ALTER TABLE transfers ENABLE TRIGGER transfers_no_update")
        op.execute("ALTER TABLE transfers ALTER COLUMN entry_seq SET NOT NULL")
        op.execute(f"ALTER TABLE transfers ADD CONSTRAINT ck_transfers_entry_seq CHECK ({ENTRY_CHECK})")
    op.create_index("ix_transfers_entry", "transfers", ["bank_id", "entry_seq"])


def downgrade() -> None:
    bind = op.get_bind()
    several = bind.exec_driver_sql("SELECT 1 FROM transfers WHERE entry_seq <> seq LIMIT 1").first()
    if several:
        # Their hashes cover the entry: without the column they would no longer verify.
        raise RuntimeError("the ledger holds entries of several legs: it cannot go back before 0019")
    op.drop_index("ix_transfers_entry", table_name="transfers")
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ck_transfers_entry_seq_insert")
    else:
        op.execute("ALTER TABLE transfers DROP CONSTRAINT IF EXISTS ck_transfers_entry_seq")
    op.execute("ALTER TABLE transfers DROP COLUMN entry_seq")
