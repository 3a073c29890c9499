"""the register by month: an index of the active residents by bank and registration time

The figures count, for each bank and month, the residents still active who were registered by
the month's end; the county's read does it for every bank at once. This index answers that from
the index alone (on PostgreSQL an index-only scan) instead of reading every resident's row. Its
condition is written as each database's planner matches the query's: `active` on PostgreSQL
(`active IS TRUE` would not use it), `active = 1` on SQLite.

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_residents_registered", "residents", ["bank_id", "created_at"],
                    sqlite_where=sa.text("active = 1"), postgresql_where=sa.text("active"))


def downgrade() -> None:
    op.drop_index("ix_residents_registered", table_name="residents")
