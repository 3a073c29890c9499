"""foundation links: one link per event, naming its entry, instead of one per leg

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

LINKS = "foundation_ledger_links"


def upgrade() -> None:
    op.add_column(LINKS, sa.Column("entry_seq", sa.BigInteger(), nullable=True))
    op.execute(f"""UPDATE {LINKS} SET entry_seq = (
        SELECT t.entry_seq FROM transfers t WHERE t.id = {LINKS}.transfer_id)
        WHERE transfer_id IS NOT NULL""")
    # A completion's spending and its returns are one event; the legs' kinds tell them apart.
    op.execute(f"UPDATE {LINKS} SET purpose = 'completion' WHERE purpose IN ('spent', 'returned')")
    # The links of an entry's other legs say what its first leg's link says.
    op.execute(f"""DELETE FROM {LINKS} WHERE entry_seq IS NOT NULL AND id NOT IN (
        SELECT first_id FROM (SELECT MIN(id) AS first_id FROM {LINKS}
                              WHERE entry_seq IS NOT NULL GROUP BY bank_id, entry_seq) AS firsts)""")
    with op.batch_alter_table(LINKS) as batch:
        batch.drop_column("transfer_id")
        batch.drop_column("resident_id")
        batch.create_unique_constraint("uq_foundation_links_entry", ["bank_id", "entry_seq"])
        batch.create_foreign_key("fk_foundation_links_entry", "transfers",
                                 ["bank_id", "entry_seq"], ["bank_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table(LINKS) as batch:
        batch.add_column(sa.Column("transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                   nullable=True))
        batch.add_column(sa.Column("resident_id", sa.Integer(), nullable=True))
    # A link per leg again: the first leg's on the row that named the entry, the others added.
    op.execute(f"""INSERT INTO {LINKS} (bank_id, purpose, transfer_id, application_id, tranche_id, wish_id)
        SELECT l.bank_id, l.purpose, t.id, l.application_id, l.tranche_id, l.wish_id
        FROM {LINKS} l JOIN transfers t ON t.bank_id = l.bank_id AND t.entry_seq = l.entry_seq
        WHERE t.seq <> l.entry_seq""")
    op.execute(f"""UPDATE {LINKS} SET transfer_id = (
        SELECT t.id FROM transfers t WHERE t.bank_id = {LINKS}.bank_id AND t.seq = {LINKS}.entry_seq)
        WHERE entry_seq IS NOT NULL""")
    op.execute(f"""UPDATE {LINKS} SET resident_id = COALESCE(
        (SELECT t.doer_id FROM transfers t WHERE t.id = {LINKS}.transfer_id),
        (SELECT p.resident_id FROM pending_deeds p WHERE p.id = {LINKS}.pending_id))""")
    op.execute(f"""UPDATE {LINKS} SET purpose = CASE
        (SELECT t.kind FROM transfers t WHERE t.id = {LINKS}.transfer_id)
        WHEN 'project_spend' THEN 'spent' ELSE 'returned' END WHERE purpose = 'completion'""")
    with op.batch_alter_table(LINKS) as batch:
        batch.drop_constraint("fk_foundation_links_entry", type_="foreignkey")
        batch.drop_constraint("uq_foundation_links_entry", type_="unique")
        batch.drop_column("entry_seq")
        batch.create_unique_constraint("uq_foundation_ledger_links_transfer_id", ["transfer_id"])
        batch.create_foreign_key("fk_foundation_ledger_links_transfer_id", "transfers",
                                 ["transfer_id"], ["id"])
        batch.create_foreign_key("fk_foundation_ledger_links_resident_id", "residents",
                                 ["resident_id"], ["id"])
