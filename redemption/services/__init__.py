"""The desk's services, one module per responsibility: the catalogue and its stock, the windows,
redeeming, reading what was redeemed, undoing it, and the fund.

Each write takes the session and what it needs and runs in one ledger.unit.UnitOfWork (the bank's
posting lock, so that twenty desks at once cannot overdraw an account or a shelf; the idempotency
key; the audit entry). Every point and every fen moves through the ledger.
"""
