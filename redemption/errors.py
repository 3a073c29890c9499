"""The desk's refusals, each with its API code (409 unless said otherwise)."""
from __future__ import annotations

from ledger.errors import (ConflictError, InsufficientFunds, InsufficientPoints,  # noqa: F401
                           OutOfStock)  # (re-exported)


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
