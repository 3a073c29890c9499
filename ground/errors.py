"""The project's error tree: domain errors that the web edge turns into JSON answers."""
from __future__ import annotations


class ZongzhiError(Exception):
    """Base of every error the domain raises on purpose.

    Each carries the API code, the HTTP status it maps to, a Chinese message (the default)
    and its English twin, and optionally which request fields were wrong and why.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str, message_en: str | None = None, *,
                 fields: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.message_en = message_en or message
        self.fields = fields or {}
        if code:
            self.code = code

    def text(self, lang: str = "zh") -> str:
        """Return the message in the reader's language."""
        return self.message_en if lang == "en" else self.message


class ValidationError(ZongzhiError):
    status = 422
    code = "validation_error"

    def __init__(self, fields: dict[str, list[str]], message: str = "请求内容有误",
                 message_en: str = "the request is not valid", **kw):
        super().__init__(message, message_en, fields=fields, **kw)


class TooOld(ValidationError):
    """A day further back than the bank's rule file lets anything be dated (`cycle.backdate_days`)."""

    code = "too_old"


class TooLarge(ZongzhiError):
    """An upload over its size limit, naming the file's field and the limit."""

    status = 413
    code = "too_large"

    def __init__(self, field: str, max_bytes: int):
        size = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes / 2**10:g} KB"
        super().__init__(f"文件不能超过 {size}", f"the file may be at most {size}",
                         fields={field: [f"文件不能超过 {size}"]})


class NotFound(ZongzhiError):
    status = 404
    code = "not_found"

    def __init__(self, what: str = "资源", what_en: str = "resource", *, named: bool = False):
        # "找不到该居民" points at the thing asked for; a thing named in full reads
        # "找不到 2026年11月 的公示" (named=True).
        super().__init__(f"找不到 {what}" if named else f"找不到该{what}", f"{what_en} not found")


class ConflictError(ZongzhiError):
    status = 409
    code = "conflict"


class AlreadyReversed(ConflictError):
    code = "already_reversed"


class IdempotencyMismatch(ConflictError):
    code = "idempotency_mismatch"

    def __init__(self):
        super().__init__("该幂等键已用于另一个不同的请求",
                         "this Idempotency-Key was already used with a different request")


class CapExceeded(ConflictError):
    code = "cap_exceeded"


class PeriodSealed(ConflictError):
    code = "period_sealed"


class InsufficientPoints(ConflictError):
    code = "insufficient_points"


class OutOfStock(ConflictError):
    code = "out_of_stock"


class InsufficientFunds(ConflictError):
    """The fund's cash cannot pay it: a purchase beyond it, or a reversal of money already spent."""

    code = "insufficient_funds"


class Unauthorized(ZongzhiError):
    status = 401
    code = "unauthorized"

    def __init__(self):
        super().__init__("需要有效的令牌", "a valid token is required")


class Forbidden(ZongzhiError):
    status = 403
    code = "forbidden"

    def __init__(self):
        super().__init__("当前角色无权执行此操作", "your role may not do this")
