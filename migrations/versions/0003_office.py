"""the village office: residents' relation and recorded reading, household moves, audit lookups

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("relation", sqlmodel.sql.sqltypes.AutoString(length=20),
                                   nullable=False, server_default=""))
        batch.add_column(sa.Column("reading", sqlmodel.sql.sqltypes.AutoString(length=300),
                                   nullable=False, server_default=""))
    op.create_table(
        "resident_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("from_household_id", sa.Integer(), nullable=False),
        sa.Column("to_household_id", sa.Integer(), nullable=False),
        sa.Column("moved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("moved_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"]),
        sa.ForeignKeyConstraint(["from_household_id"], ["households.id"]),
        sa.ForeignKeyConstraint(["to_household_id"], ["households.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resident_moves_resident", "resident_moves", ["bank_id", "resident_id"])
    # Login throttling counts recent failures by name and by address.
    op.create_index("ix_audit_action_actor_at", "audit_log", ["action", "actor", "at"])
    op.create_index("ix_audit_action_subject_at", "audit_log", ["action", "subject", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_action_subject_at", table_name="audit_log")
    op.drop_index("ix_audit_action_actor_at", table_name="audit_log")
    op.drop_index("ix_resident_moves_resident", table_name="resident_moves")
    op.drop_table("resident_moves")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("reading")
        batch.drop_column("relation")
