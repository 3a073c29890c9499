"""monthly figures counted by the daily close: how far each bank's transfers are counted

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_progress",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("counted_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("bank_id"),
    )
    # Until now every posting counted itself in (and 0015 counted the ledger before it): every
    # bank's figures stand at its chain head.
    op.execute("INSERT INTO stats_progress (bank_id, counted_seq) SELECT id, head_seq FROM banks")


def downgrade() -> None:
    op.drop_table("stats_progress")
