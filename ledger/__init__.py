"""The ledger engine: banks, residents, accounts, append-only transfers, the hash chain."""
