"""How numbers, money, dates and personal details read on screen and paper, in Chinese or English.

Plain functions, so reports, screens and tests format alike. Money is integer fen throughout
the ledger; only here does it become yuan, and never through a float.
"""
from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo

from rules.periods import period_of, quarter_period


def yuan(fen: int | None, lang: str = "zh") -> str:
    """Return fen as money: 1250 -> ¥12.50, -5 -> -¥0.05, 1234567 -> ¥12,345.67."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def points(value: int | None) -> str:
    """Return points with thousands separators and an explicit sign only when negative."""
    return "—" if value is None else f"{int(value):,}"


def signed_points(value: int) -> str:
    """Return a movement of points: +6, -5."""
    return f"{int(value):+,}"


def local(moment: date | datetime, tz: tzinfo | None):
    """Return a stored instant as the bank's wall clock reads it; dates pass unchanged.

    Instants are stored in UTC; one that comes back from the database without its zone is UTC.
    """
    if tz is None or not isinstance(moment, datetime):
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(tz)


def day(value: date | datetime | None, lang: str = "zh", tz: tzinfo | None = None) -> str:
    """Return a date as a reader expects: 2026年10月5日, or 5 Oct 2026.

    An instant is first read in `tz` (the bank's time zone): a card issued at 06:43 in the
    village on 30 November is 22:43 UTC on the 29th, and the village calls it the 30th.
    """
    if value is None:
        return "—"
    value = local(value, tz)
    return period_of("day", value.date() if isinstance(value, datetime) else value).label(lang)


def when(moment: datetime | None, tz: tzinfo | None, lang: str = "zh") -> str:
    """Return an instant as the village reads it: its date and time in the bank's time zone."""
    if moment is None:
        return "—"
    moment = local(moment, tz)
    return f"{day(moment, lang)} {moment:%H:%M}"


def month(year: int, month_no: int, lang: str = "zh") -> str:
    """Return a month: 2026年10月, or Oct 2026."""
    return period_of("month", date(year, month_no, 1)).label(lang)


def quarter(year: int, quarter_no: int, lang: str = "zh") -> str:
    """Return a quarter: 2026年第四季度, or Q4 2026."""
    return quarter_period(year, quarter_no).label(lang)


#: The bank's own points accounts as people name them on a transfer ("{bank}" is the bank's
#: name): points are given out by 和平村综治银行 and spent at 积分超市. Every other account is
#: named by its holder (张三, 王家) or its Chinese name (镇投入).
SPOKEN_ACCOUNTS = {"issued": "{bank}", "redeemed": "积分超市"}


def account_name(code: str, name: str | None, bank_name: str) -> str:
    """Return an account as people say it: 村综治银行 → 张三, never "issued → resident:61"."""
    spoken = SPOKEN_ACCOUNTS.get(code)
    if spoken:
        return spoken.format(bank=bank_name)
    return name or code


def mask_phone(phone: str | None) -> str:
    """Return a phone number with its middle hidden: 13812345678 -> 138****5678."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """Return a name for a public wall: the surname and a star per other character (王*, 欧阳**)."""
    chars = list(name or "")
    if len(chars) <= 1:
        return name or ""
    return chars[0] + "*" * (len(chars) - 1)
