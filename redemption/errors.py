"""The desk's refusals, each with its API code (409 unless said otherwise)."""
from __future__ import annotations

# Re-exported: refusals the ledger raises too (InsufficientFunds when the database refuses
# fund cash below zero, whoever posts).
from ground.errors import ConflictError, InsufficientFunds, InsufficientPoints, OutOfStock


class WindowClosed(ConflictError):
    code = "window_closed"


class LimitExceeded(ConflictError):
    code = "limit_exceeded"


class WindowOverlaps(ConflictError):
    code = "window_overlaps"


class SkuExists(ConflictError):
    code = "sku_exists"


class ReversalTooLate(ConflictError):
    code = "reversal_too_late"
