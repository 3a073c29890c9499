"""signed-in sessions kept on the server, tokens that expire and note their last use, idempotency keys per user

Revision ID: 0010
Revises: 0009
"""
from datetime import timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: Tokens issued before tokens expired get the default lifetime, counted from their issue.
EXISTING_TOKEN_DAYS = 365


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)

    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # Every token issued so far keeps working for the default lifetime from its issue. Done
    # row by row through the column type, so the times are stored exactly as the app stores them.
    tokens = sa.table("api_tokens", sa.column("id", sa.Integer()),
                      sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
                      sa.column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime()))
    bind = op.get_bind()
    for token_id, created_at in bind.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        bind.execute(tokens.update().where(tokens.c.id == token_id).values(
            expires_at=created_at + timedelta(days=EXISTING_TOKEN_DAYS)))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False)

    # A key is the user's: records kept from before belong to no user (0), as the system's own do.
    old = _unique_on(bind, ["bank_id", "key"])
    with op.batch_alter_table("idempotency_records", naming_convention=_CONVENTION) as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), server_default="0", nullable=False))
        batch.drop_constraint(old or "uq_idempotency_records_bank_id", type_="unique")
        batch.create_unique_constraint("uq_idempotency_records_scope", ["bank_id", "user_id", "key"])


def downgrade() -> None:
    # Two users' records under one key cannot share the old (bank, key) constraint: the
    # newest is kept, as a retry would have found it.
    op.execute("""DELETE FROM idempotency_records WHERE id NOT IN (
                      SELECT max(id) FROM idempotency_records GROUP BY bank_id, key)""")
    with op.batch_alter_table("idempotency_records", naming_convention=_CONVENTION) as batch:
        batch.drop_constraint("uq_idempotency_records_scope", type_="unique")
        batch.create_unique_constraint("uq_idempotency_records_bank_id", ["bank_id", "key"])
        batch.drop_column("user_id")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")


#: Names SQLite's unnamed constraints the way the first schema left them, so they can be dropped.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_on(bind, columns: list[str]) -> str | None:
    """Return the name the database gave the unique constraint on `columns` (None on SQLite)."""
    for constraint in sa.inspect(bind).get_unique_constraints("idempotency_records"):
        if constraint["column_names"] == columns:
            return constraint["name"]
    return None
