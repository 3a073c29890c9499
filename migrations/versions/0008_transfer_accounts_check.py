"""the database refuses a transfer whose accounts are not on its bank and ledger

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Both accounts of a transfer belong to the transfer's bank and ledger, the amount is positive
# and the two accounts differ: checked by the database on every insert, so no code path (and
# no hand-written SQL) can move points between banks or mix points with money.
REFUSED = "a transfer moves a positive amount between two accounts of its own bank and ledger"

_BAD = """NEW.debit_id = NEW.credit_id OR NEW.amount <= 0
          OR (SELECT count(*) FROM accounts
              WHERE id IN (NEW.debit_id, NEW.credit_id)
                AND bank_id = NEW.bank_id AND ledger = NEW.ledger) <> 2"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"""
            CREATE TRIGGER transfers_accounts_check BEFORE INSERT ON transfers
            WHEN {_BAD}
            BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""")
        return
    op.execute(f"""
        CREATE FUNCTION transfers_accounts_check() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {_BAD} THEN
                RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("""CREATE TRIGGER transfers_accounts_check BEFORE INSERT ON transfers
                  FOR EACH ROW EXECUTE FUNCTION transfers_accounts_check()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS transfers_accounts_check")
        return
    op.execute("DROP TRIGGER IF EXISTS transfers_accounts_check ON transfers")
    op.execute("DROP FUNCTION IF EXISTS transfers_accounts_check()")
