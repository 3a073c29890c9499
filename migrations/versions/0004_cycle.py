"""the cycle: period seals, report snapshots, objections, job runs

Revision ID: 0004
Revises: 0002
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_dt = sqlmodel.sql.sqltypes.UTCDateTime
_str = sqlmodel.sql.sqltypes.AutoString
_bigid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "period_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("month", _str(length=7), nullable=False),
        sa.Column("sealed_at", _dt(), nullable=False),
        sa.Column("sealed_by", _str(length=80), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", _str(length=64), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "month"),
    )
    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("kind", _str(length=10), nullable=False),
        sa.Column("period", _str(length=10), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", _str(length=64), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", _str(length=64), nullable=False),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("created_by", _str(length=80), nullable=False),
        sa.Column("window_closes_at", _dt(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "kind", "period"),
    )
    op.create_table(
        "objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", _bigid, nullable=True),
        sa.Column("month", _str(length=7), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", _str(length=10), nullable=False),
        sa.Column("filed_by", _str(length=80), nullable=False),
        sa.Column("filed_at", _dt(), nullable=False),
        sa.Column("decided_by", _str(length=80), nullable=True),
        sa.Column("decided_at", _dt(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("correction_id", _bigid, nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"]),
        sa.ForeignKeyConstraint(["correction_id"], ["transfers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_objections_bank_status", "objections", ["bank_id", "status"])
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", _str(length=20), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("period", _str(length=10), nullable=False),
        sa.Column("status", _str(length=10), nullable=False),
        sa.Column("owner", _str(length=120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", _dt(), nullable=False),
        sa.Column("lease_until", _dt(), nullable=False),
        sa.Column("finished_at", _dt(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "bank_id", "period"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_index("ix_objections_bank_status", table_name="objections")
    op.drop_table("objections")
    op.drop_table("report_snapshots")
    op.drop_table("period_seals")
