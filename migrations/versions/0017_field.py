"""in the field: photos kept in the database as evidence, activities with sign-ups and check-ins, residents' own reports

Revision ID: 0017
Revises: 0010
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "field_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("sha256", _TEXT(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", _TEXT(length=80), nullable=False),
        sa.Column("uploaded_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_field_photos_bank_id", "field_photos", ["bank_id"])
    op.create_table(
        "field_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", _BIG_ID, nullable=True),
        sa.Column("pending_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.ForeignKeyConstraint(["photo_id"], ["field_photos.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"]),
        sa.ForeignKeyConstraint(["pending_id"], ["pending_deeds.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_field_evidence_transfer", "field_evidence", ["bank_id", "transfer_id"])
    op.create_index("ix_field_evidence_pending", "field_evidence", ["bank_id", "pending_id"])
    op.create_table(
        "field_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("title", _TEXT(length=100), nullable=False),
        sa.Column("rule_code", _TEXT(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("starts_at", _TIME(), nullable=False),
        sa.Column("ends_at", _TIME(), nullable=False),
        sa.Column("place", _TEXT(length=100), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("created_by", _TEXT(length=80), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("closed_by", _TEXT(length=80), nullable=True),
        sa.Column("closed_at", _TIME(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_field_activities_bank", "field_activities", ["bank_id", "ends_at"])
    for table in ("field_signups", "field_checkins"):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("bank_id", sa.Integer(), nullable=False),
            sa.Column("activity_id", sa.Integer(), nullable=False),
            sa.Column("resident_id", sa.Integer(), nullable=False),
            sa.Column("at", _TIME(), nullable=False),
            *([sa.Column("by", _TEXT(length=80), nullable=False)] if table == "field_checkins" else []),
            sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
            sa.ForeignKeyConstraint(["activity_id"], ["field_activities.id"]),
            sa.ForeignKeyConstraint(["resident_id"], ["residents.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("activity_id", "resident_id"),
        )
    op.create_table(
        "field_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("pending_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"]),
        sa.ForeignKeyConstraint(["pending_id"], ["pending_deeds.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pending_id"),
    )
    op.create_index("ix_field_reports_card", "field_reports", ["bank_id", "card_id", "submitted_at"])


def downgrade() -> None:
    for table in ("field_reports", "field_checkins", "field_signups", "field_activities",
                  "field_evidence", "field_photos"):
        op.drop_table(table)
