"""the desk: catalog, stock, redemption windows, redemptions, fund receipts, cards

Revision ID: 0005
Revises: 0002
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

_dt = sqlmodel.sql.sqltypes.UTCDateTime
_str = sqlmodel.sql.sqltypes.AutoString


def _bigid():
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('catalog_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('sku', _str(length=40), nullable=False),
    sa.Column('name', _str(length=100), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('cost_fen', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('stock_value_fen', sa.BigInteger(), nullable=False),
    sa.Column('limit_per_window', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', _dt(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bank_id', 'sku')
    )
    op.create_index(op.f('ix_catalog_items_bank_id'), 'catalog_items', ['bank_id'], unique=False)
    op.create_table('redemption_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('kind', _str(length=10), nullable=False),
    sa.Column('memo', _str(length=200), nullable=True),
    sa.Column('created_at', _dt(), nullable=False),
    sa.Column('created_by', _str(length=80), nullable=False),
    sa.Column('closed_at', _dt(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('closed_by', _str(length=80), nullable=True),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_redemption_windows_bank', 'redemption_windows', ['bank_id', 'opens_on'], unique=False)
    op.create_table('cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', _str(length=64), nullable=False),
    sa.Column('number', _str(length=12), nullable=False),
    sa.Column('issued_at', _dt(), nullable=False),
    sa.Column('issued_by', _str(length=80), nullable=False),
    sa.Column('revoked_at', _dt(), nullable=True),
    sa.Column('revoked_by', _str(length=80), nullable=True),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bank_id', 'number'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_cards_household', 'cards', ['bank_id', 'household_id'], unique=False)
    op.create_index('ix_cards_resident', 'cards', ['bank_id', 'resident_id'], unique=False)
    op.create_table('redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('window_opens_on', sa.Date(), nullable=False),
    sa.Column('window_closes_on', sa.Date(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('cost_fen', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', _dt(), nullable=False),
    sa.Column('recorded_by', _str(length=80), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_redemptions_bank_day', 'redemptions', ['bank_id', 'occurred_on'], unique=False)
    op.create_index(op.f('ix_redemptions_resident_id'), 'redemptions', ['resident_id'], unique=False)
    op.create_table('fund_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('source', _str(length=10), nullable=False),
    sa.Column('donor', _str(length=100), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('restriction', _str(length=10), nullable=True),
    sa.Column('in_kind', sa.Boolean(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('transfer_id', _bigid(), nullable=True),
    sa.Column('memo', sa.Text(), nullable=True),
    sa.Column('recorded_at', _dt(), nullable=False),
    sa.Column('recorded_by', _str(length=80), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_items.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_fund_receipts_bank_day', 'fund_receipts', ['bank_id', 'received_on'], unique=False)
    op.create_table('redemption_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('sku', _str(length=40), nullable=False),
    sa.Column('name', _str(length=100), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_points', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('cost_fen', sa.BigInteger(), nullable=False),
    sa.Column('points_transfer_id', _bigid(), nullable=False),
    sa.Column('cost_transfer_id', _bigid(), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.ForeignKeyConstraint(['cost_transfer_id'], ['transfers.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_items.id'], ),
    sa.ForeignKeyConstraint(['points_transfer_id'], ['transfers.id'], ),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cost_transfer_id'),
    sa.UniqueConstraint('points_transfer_id')
    )
    op.create_index('ix_redemption_lines_account', 'redemption_lines', ['bank_id', 'account_id', 'item_id'], unique=False)
    op.create_index(op.f('ix_redemption_lines_redemption_id'), 'redemption_lines', ['redemption_id'], unique=False)
    op.create_table('stock_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('value_fen', sa.BigInteger(), nullable=False),
    sa.Column('reason', _str(length=20), nullable=False),
    sa.Column('donor', _str(length=100), nullable=True),
    sa.Column('transfer_id', _bigid(), nullable=True),
    sa.Column('goods_transfer_id', _bigid(), nullable=True),
    sa.Column('redemption_line_id', sa.Integer(), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', _dt(), nullable=False),
    sa.Column('recorded_by', _str(length=80), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.ForeignKeyConstraint(['goods_transfer_id'], ['transfers.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_items.id'], ),
    sa.ForeignKeyConstraint(['redemption_line_id'], ['redemption_lines.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_stock_movements_item', 'stock_movements', ['bank_id', 'item_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stock_movements_item', table_name='stock_movements')
    op.drop_table('stock_movements')
    op.drop_index(op.f('ix_redemption_lines_redemption_id'), table_name='redemption_lines')
    op.drop_index('ix_redemption_lines_account', table_name='redemption_lines')
    op.drop_table('redemption_lines')
    op.drop_index('ix_fund_receipts_bank_day', table_name='fund_receipts')
    op.drop_table('fund_receipts')
    op.drop_index(op.f('ix_redemptions_resident_id'), table_name='redemptions')
    op.drop_index('ix_redemptions_bank_day', table_name='redemptions')
    op.drop_table('redemptions')
    op.drop_index('ix_cards_resident', table_name='cards')
    op.drop_index('ix_cards_household', table_name='cards')
    op.drop_table('cards')
    op.drop_index('ix_redemption_windows_bank', table_name='redemption_windows')
    op.drop_table('redemption_windows')
    op.drop_index(op.f('ix_catalog_items_bank_id'), table_name='catalog_items')
    op.drop_table('catalog_items')
