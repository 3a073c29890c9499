"""join the package branches; index a resident's transfers by day

Revision ID: 0007
Revises: 0003, 0004, 0005, 0006
"""
from alembic import op

revision = "0007"
down_revision = ("0003", "0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A resident's month (the balance screen, caps) reads this index instead of walking every
    # transfer the whole bank posted that month.
    op.create_index("ix_transfers_doer_day", "transfers", ["bank_id", "doer_id", "occurred_on"])


def downgrade() -> None:
    op.drop_index("ix_transfers_doer_day", table_name="transfers")
