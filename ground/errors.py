"""The project's error tree: domain errors that the web edge turns into JSON answers."""
from __future__ import annotations

from .i18n import _, render


class ZongzhiError(Exception):
    """Base of every error the domain raises on purpose.

    Each carries the API code, the HTTP status it maps to, one message, and optionally which
    request fields were wrong and why. The message and the fields' reasons are gettext strings
    (`ground.i18n._`, the msgid in Chinese), rendered in the reader's language when shown:
    `raise ConflictError(_("户号 %(code)s 已存在", code=code), code="household_exists")`.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def text(self, lang: str | None = None) -> str:
        """Return the message as text in `lang` ("zh" or "en"), by default the reader's."""
        return render(self.message, lang)

    def field_texts(self, lang: str | None = None) -> dict:
        """Return the fields' reasons as text in `lang`, by default the reader's."""
        return render(self.fields, lang)

    @property
    def message_en(self) -> str:
        return self.text("en")


class ValidationError(ZongzhiError):
    status = 422
    code = "validation_error"

    def __init__(self, fields: dict, message=None, **kw):
        super().__init__(_("请求内容有误") if message is None else message, fields=fields, **kw)


class TooOld(ValidationError):
    """A day further back than the bank's rule file lets anything be dated (`cycle.backdate_days`)."""

    code = "too_old"


class TooLarge(ZongzhiError):
    """An upload over its size limit, naming the file's field and the limit."""

    status = 413
    code = "too_large"

    def __init__(self, field: str, max_bytes: int):
        size = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes / 2**10:g} KB"
        super().__init__(_("文件不能超过 %(size)s", size=size),
                         fields={field: [_("文件不能超过 %(size)s", size=size)]})


class NotFound(ZongzhiError):
    status = 404
    code = "not_found"

    def __init__(self, message=None):
        """`NotFound(_("找不到该居民"))`; with no message, "找不到该资源"."""
        super().__init__(_("找不到该资源") if message is None else message)


class ConflictError(ZongzhiError):
    status = 409
    code = "conflict"


class AlreadyReversed(ConflictError):
    code = "already_reversed"


class IdempotencyMismatch(ConflictError):
    code = "idempotency_mismatch"

    def __init__(self):
        super().__init__(_("该幂等键已用于另一个不同的请求"))


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
        super().__init__(_("需要有效的令牌"))


class Forbidden(ZongzhiError):
    status = 403
    code = "forbidden"

    def __init__(self):
        super().__init__(_("当前角色无权执行此操作"))
