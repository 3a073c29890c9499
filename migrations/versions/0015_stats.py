"""monthly figures per bank, kept with the transfers: months, months by rule, months by resident

Revision ID: 0015
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0010"
branch_labels = None
depends_on = None


def _whole(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "stats_months",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        *(_whole(name) for name in ("earned", "penalty", "redeemed", "held_change", "cash_change_fen",
                                    "backing_change_fen", "active_residents")),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("bank_id", "month"),
    )
    op.create_table(
        "stats_rule_months",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=False),
        _whole("earned"), _whole("penalty"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("bank_id", "month", "rule_code"),
    )
    op.create_table(
        "stats_resident_months",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        _whole("earned"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"]),
        sa.PrimaryKeyConstraint("bank_id", "month", "resident_id"),
    )
    # The figures of every bank's ledger so far, counted once as the posting path counts them.
    from stats.upkeep import rebuild

    connection = op.get_bind()
    for bank_id, head_seq in connection.execute(sa.text("SELECT id, head_seq FROM banks")).all():
        if head_seq:
            rebuild(connection, bank_id, head_seq)


def downgrade() -> None:
    op.drop_table("stats_resident_months")
    op.drop_table("stats_rule_months")
    op.drop_table("stats_months")
