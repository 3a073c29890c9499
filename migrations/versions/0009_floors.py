"""the database refuses a balance beyond its range or not an integer, stock below zero, and the
fund's cash below zero

Revision ID: 0009
Revises: 0008
"""
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# What must never be, whoever writes it (a service, a forgotten check, hand-written SQL):
# - a balance that is not an integer within ±(2^53 - 1). On SQLite an overflowing sum becomes
#   a REAL (1.8e+19 was seen) and breaks the bank for good; 2^53 - 1 is the largest integer
#   every reader of the API holds exactly.
# - stock, or the value of the stock, below zero.
# - the fund's cash (fund, fund:goods, fund:projects) below zero. A receipt moves money from
#   a source:* account (debit, below zero) into the fund (credit, above zero): the fund's
#   balance is the money it holds.
# Each check's name leads its message, on both databases: that is how ground.db tells them
# apart when it turns a refusal into the API's answer.
LIMIT = 2 ** 53 - 1
CASH = "('fund', 'fund:goods', 'fund:projects')"

# {row} is the row being written: the table's own columns in a CHECK (PostgreSQL), NEW. in a
# trigger (SQLite, which cannot add a CHECK to a table, and keeps whatever type it is given).
CHECKS = {
    "accounts": {
        "ck_accounts_balance_range": (
            f"{{sqlite_type}}{{row}}balance BETWEEN {-LIMIT} AND {LIMIT}",
            "a balance is an integer within 2^53 - 1 either way"),
        "ck_accounts_fund_floor": (
            f"{{row}}ledger <> 'CNY' OR {{row}}code NOT IN {CASH} OR {{row}}balance >= 0",
            "the fund cash never goes below zero"),
    },
    "catalog_items": {
        "ck_catalog_items_stock_floor": (
            "{row}stock >= 0 AND {row}stock_value_fen >= 0",
            "stock never goes below zero"),
    },
}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, checks in CHECKS.items():
        for name, (condition, meaning) in checks.items():
            if not sqlite:
                condition = condition.format(row="", sqlite_type="")
                op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID")
                _validate(table, name)
                continue
            # SQLite cannot add a CHECK to a table: triggers refuse the same rows.
            guard = condition.format(row="NEW.", sqlite_type="typeof(NEW.balance) = 'integer' AND ")
            for event in ("INSERT", "UPDATE"):
                op.execute(f"""
                    CREATE TRIGGER {name}_{event.lower()} BEFORE {event} ON {table}
                    WHEN NOT ({guard})
                    BEGIN SELECT RAISE(ABORT, '{name}: {meaning}'); END""")


def _validate(table: str, name: str) -> None:
    # Every row written from now on is checked (NOT VALID above); the rows already there are
    # vouched for when they all hold, as in a new database. An upgrade never fails on a row an
    # older version let through: the check stays NOT VALID, and `verify` names the balances
    # among them.
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
    except DBAPIError:
        pass


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, checks in CHECKS.items():
        for name in checks:
            if sqlite:
                op.execute(f"DROP TRIGGER IF EXISTS {name}_insert")
                op.execute(f"DROP TRIGGER IF EXISTS {name}_update")
            else:
                op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
