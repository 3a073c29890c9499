"""The bounds of every number and text that comes from outside: each limit in one place.

Plain functions on plain values, so the API's schemas, the office's forms, the URL converters
and the command line all refuse the same things with the same words.
"""
from __future__ import annotations

import re
from datetime import date

from ground.i18n import _

#: The largest whole number every JSON reader (a browser's too) holds exactly.
MAX_WHOLE = 2**53 - 1
#: The largest id a row can have: the id columns are PostgreSQL's `integer` (SQLite's hold more).
MAX_ID = 2**31 - 1
#: Units of one rule in one deed (次 or 小时).
QUANTITY_MAX = 1_000
#: Points a catalog item may cost.
CATALOG_POINTS_MAX = 100_000
#: Money in one entry, in fen (¥100,000,000.00).
FEN_MAX = 10**10
#: Years a period in a path or a form may name.
YEAR_MIN, YEAR_MAX = 2000, 2099
#: The range of the rule file's `cycle.backdate_days` (a year and a day at most).
BACKDATE_DAYS_MIN, BACKDATE_DAYS_MAX = 1, 366

#: Control characters (C0, DEL, C1), the Unicode line and paragraph separators, the bidirectional
#: embeddings, overrides and isolates (which make a name on a notice read as other letters than
#: it holds), and unpaired surrogates; newline is allowed only where a text may run over several
#: lines.
_FORBIDDEN_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_FORBIDDEN_MULTILINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
#: Characters that print as nothing (zero-width spaces and joiners, the byte-order mark, the
#: soft hyphen, word joiners): a text of these and spaces alone is blank, though not empty.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_ASCII_DIGITS = re.compile(r"[0-9]{1,16}")
_YUAN = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,2}))?")

#: The reasons, as gettext strings (the msgid in Chinese, Flask-Babel's lazy_gettext): each is
#: rendered in the reader's language where it is shown.
BAD_CHARACTER = _("不能含控制字符或不成对的代理字符")
BLANK = _("不能为空白")
NOT_WHOLE = _("须为整数")
DAY_OUT_OF_RANGE = _("须为 %(first)s 至 %(last)s 之间的日期（YYYY-MM-DD）",
                     first=date(YEAR_MIN, 1, 1).isoformat(), last=date(YEAR_MAX, 12, 31).isoformat())


def too_long(max_len: int):
    """The reason a text longer than `max_len` characters is refused."""
    return _("长度不能超过 %(max)s", max=max_len)


def out_of_range(min: int, max: int):  # noqa: A002
    """The reason a whole number outside min..max is refused."""
    return _("须在 %(min)s 与 %(max)s 之间", min=min, max=max)


def text_problem(value: str, *, max_len: int, multiline: bool = False,
                 allow_blank: bool = False) -> str | None:
    """Return why `value` is not acceptable text, or None."""
    forbidden = _FORBIDDEN_MULTILINE if multiline else _FORBIDDEN_ONE_LINE
    if forbidden.search(value):
        return BAD_CHARACTER
    if len(value) > max_len:
        return too_long(max_len)
    if not allow_blank and not _INVISIBLE.sub("", value).strip():
        return BLANK
    return None


def newlines(text: str) -> str:
    """Return text typed in a browser's text area with its CRLF line ends as plain newlines."""
    return text.replace("\r\n", "\n")


def whole_problem(value: int, *, min: int = 1, max: int = MAX_WHOLE) -> str | None:  # noqa: A002
    """Return why the integer `value` is out of its bounds, or None."""
    if not min <= value <= max:
        return out_of_range(min, max)
    return None


def day_problem(day: date) -> str | None:
    """Return why a day lies outside the years the cycle knows (2000–2099), or None."""
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        return DAY_OUT_OF_RANGE
    return None


def parse_whole(text: str | None, *, min: int = 1, max: int = MAX_WHOLE) -> int | None:  # noqa: A002
    """Return the whole number typed in a form or a query, or None if it is not one in bounds.

    Only ASCII digits count: int() would take "²"-free but "٣" (Arabic three) and " 12 ", and
    str.isdigit() says yes to "²", which int() then refuses.
    """
    text = (text or "").strip()
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if min <= value <= max else None



def parse_fen(yuan: str | None) -> int | None:
    """Return money typed in yuan ("1200", "35.5", "1,200.00") as whole fen, or None if it is not
    money within 0..FEN_MAX. Exact: never through a float; ASCII digits only."""
    text = (yuan or "").strip().replace(",", "").replace("，", "")
    match = _YUAN.fullmatch(text)
    if not match:
        return None
    fen = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return fen if fen <= FEN_MAX else None
