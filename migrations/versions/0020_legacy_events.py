"""the desk names a ledger entry, not its legs; events from before entries kept in legacy_events

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _bigid():
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


#: The first leg of the entry a transfer (`:transfer`, a column) is a leg of.
FIRST_OF_ENTRY = """(SELECT f.id FROM transfers t JOIN transfers f
                     ON f.bank_id = t.bank_id AND f.seq = t.entry_seq WHERE t.id = {transfer})"""

#: The legs the desk linked by hand that the ledger holds as separate entries (every transfer
#: posted before 0019 is an entry of its own): a line's points and cost, a purchase's payments.
PAIRS = """
    SELECT l.bank_id AS bank_id, l.points_transfer_id AS one, l.cost_transfer_id AS other
      FROM redemption_lines l
     WHERE l.cost_transfer_id IS NOT NULL
    UNION ALL
    SELECT m.bank_id, m.transfer_id, m.goods_transfer_id
      FROM stock_movements m
     WHERE m.transfer_id IS NOT NULL AND m.goods_transfer_id IS NOT NULL
       AND m.reason IN ('purchase', 'donation')
"""


def upgrade() -> None:
    op.create_table(
        "legacy_events",
        sa.Column("transfer_id", _bigid(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("first_id", _bigid(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"]),
        sa.ForeignKeyConstraint(["first_id"], ["transfers.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"]),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index("ix_legacy_events_first", "legacy_events", ["bank_id", "first_id"])
    # Each pair whose legs sit in different entries is one event: both legs name the one of
    # lower seq as its first.
    pairs = f"""
        SELECT p.bank_id, a.id AS one, b.id AS other,
               CASE WHEN a.seq < b.seq THEN a.id ELSE b.id END AS first_id
          FROM ({PAIRS}) p
          JOIN transfers a ON a.id = p.one
          JOIN transfers b ON b.id = p.other
         WHERE a.entry_seq <> b.entry_seq"""
    op.execute(f"""
        INSERT INTO legacy_events (bank_id, transfer_id, first_id)
        SELECT bank_id, one, first_id FROM ({pairs}) x
        UNION ALL
        SELECT bank_id, other, first_id FROM ({pairs}) y""")

    with op.batch_alter_table("redemption_lines") as batch:
        batch.add_column(sa.Column("entry_id", _bigid(), nullable=True))
    # The points leg was always posted first: it is the entry's first leg, or the event's.
    op.execute("UPDATE redemption_lines SET entry_id = points_transfer_id")
    with op.batch_alter_table("redemption_lines") as batch:
        batch.alter_column("entry_id", existing_type=_bigid(), nullable=False)
        batch.create_unique_constraint("uq_redemption_lines_entry_id", ["entry_id"])
        batch.create_foreign_key("fk_redemption_lines_entry_id_transfers", "transfers",
                                 ["entry_id"], ["id"])
        batch.drop_column("cost_transfer_id")
        batch.drop_column("points_transfer_id")

    with op.batch_alter_table("stock_movements") as batch:
        batch.add_column(sa.Column("entry_id", _bigid(), nullable=True))
    paid = "coalesce(stock_movements.transfer_id, stock_movements.goods_transfer_id)"
    op.execute(f"""
        UPDATE stock_movements SET entry_id = coalesce(
            (SELECT e.first_id FROM legacy_events e WHERE e.transfer_id = {paid}),
            {FIRST_OF_ENTRY.format(transfer=paid)})
         WHERE reason <> 'redemption' AND {paid} IS NOT NULL""")
    op.execute("""
        UPDATE stock_movements SET entry_id = (
            SELECT l.entry_id FROM redemption_lines l WHERE l.id = stock_movements.redemption_line_id)
         WHERE reason = 'redemption'""")
    with op.batch_alter_table("stock_movements") as batch:
        batch.create_foreign_key("fk_stock_movements_entry_id_transfers", "transfers",
                                 ["entry_id"], ["id"])
        batch.drop_column("goods_transfer_id")
        batch.drop_column("transfer_id")
    op.create_index("ix_stock_movements_entry", "stock_movements", ["entry_id"])


def downgrade() -> None:
    # The legs of an entry or a legacy event, by the event's first leg (`{first}`).
    legs = """(SELECT t.id FROM transfers t JOIN transfers f ON f.id = {first}
                WHERE t.bank_id = f.bank_id AND (t.entry_seq = f.seq OR t.id IN (
                      SELECT e.transfer_id FROM legacy_events e WHERE e.first_id = f.id))
                  AND {where})"""
    goods = "t.debit_id IN (SELECT a.id FROM accounts a WHERE a.code = 'fund:goods')"
    op.drop_index("ix_stock_movements_entry", table_name="stock_movements")
    with op.batch_alter_table("stock_movements") as batch:
        batch.add_column(sa.Column("transfer_id", _bigid(), nullable=True))
        batch.add_column(sa.Column("goods_transfer_id", _bigid(), nullable=True))
    first = "stock_movements.entry_id"
    op.execute(f"""
        UPDATE stock_movements
           SET transfer_id = {legs.format(first=first, where=f"t.kind <> 'redemption' AND NOT {goods}")},
               goods_transfer_id = {legs.format(first=first, where=f"t.kind = 'goods_purchase' AND {goods}")}
         WHERE reason IN ('purchase', 'donation')""")
    op.execute(f"""
        UPDATE stock_movements
           SET transfer_id = {legs.format(first=first, where="t.kind = 'goods_cost'")}
         WHERE reason = 'redemption'""")
    op.execute("""
        UPDATE stock_movements SET transfer_id = entry_id
         WHERE reason NOT IN ('purchase', 'donation', 'redemption')""")
    with op.batch_alter_table("stock_movements") as batch:
        batch.drop_column("entry_id")
        batch.create_foreign_key("fk_stock_movements_transfer_id_transfers", "transfers",
                                 ["transfer_id"], ["id"])
        batch.create_foreign_key("fk_stock_movements_goods_transfer_id_transfers", "transfers",
                                 ["goods_transfer_id"], ["id"])

    with op.batch_alter_table("redemption_lines") as batch:
        batch.add_column(sa.Column("points_transfer_id", _bigid(), nullable=True))
        batch.add_column(sa.Column("cost_transfer_id", _bigid(), nullable=True))
    first = "redemption_lines.entry_id"
    op.execute(f"""
        UPDATE redemption_lines
           SET points_transfer_id = entry_id,
               cost_transfer_id = {legs.format(first=first, where="t.kind = 'goods_cost'")}""")
    with op.batch_alter_table("redemption_lines") as batch:
        batch.alter_column("points_transfer_id", existing_type=_bigid(), nullable=False)
        batch.drop_constraint("uq_redemption_lines_entry_id", type_="unique")
        batch.drop_column("entry_id")
        batch.create_unique_constraint("redemption_lines_points_transfer_id_key", ["points_transfer_id"])
        batch.create_unique_constraint("redemption_lines_cost_transfer_id_key", ["cost_transfer_id"])
        batch.create_foreign_key("fk_redemption_lines_points_transfer_id_transfers", "transfers",
                                 ["points_transfer_id"], ["id"])
        batch.create_foreign_key("fk_redemption_lines_cost_transfer_id_transfers", "transfers",
                                 ["cost_transfer_id"], ["id"])
    op.drop_index("ix_legacy_events_first", table_name="legacy_events")
    op.drop_table("legacy_events")
