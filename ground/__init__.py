"""The ground floor: what every other package shares and nothing of ours lies beneath.

Errors, the database (engines, sessions, transactions, the fast path), the clock, the tenant
tables (banks, their users, users' tokens and sessions) and the audit log every floor writes to.
It imports nothing from the floors above.
"""
