"""Request helpers every API view shares: the JSON body, pagination, query parameters."""
from __future__ import annotations

import base64
import binascii
import json
from itertools import accumulate

from flask import current_app, request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from ground.clock import Clock
from ground.errors import ValidationError, ZongzhiError
from ground.i18n import Message, _, in_language
from rules import bounds
from rules import schemas as rule_schemas

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Deepest nesting of arrays and objects a body may have: json.loads recurses once per level.
JSON_DEPTH_MAX = 64
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
#: Text a query parameter may hold (?q=, ?kind=, ...): one line, no control characters.
QUERY_TEXT_MAX = 100
#: The most names one object of a JSON body may hold (a deed has eight).
JSON_KEYS_MAX = 100
#: The most reasons an error lists under one field, and the most fields it names: what a bad
#: body is told stays small, however much is wrong with it.
REASONS_SHOWN, FIELDS_SHOWN = 20, 50


def json_depth(raw: bytes) -> int:
    """Return how deep the arrays and objects of a JSON text nest, without parsing it.

    Escaped backslashes and quotes are dropped, so every quote left opens or closes a string and
    every other piece between quotes lies outside one; the brackets there become +1 and −1
    (signed bytes) and their running sum is taken in C. Linear, no Python loop per byte: a body
    nested 100,000 deep is refused before json.loads recurses. Where the body is not JSON, the
    count may be off, but json.loads stops at that point too.
    """
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    steps = b"".join(unescaped.split(b'"')[::2]).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def clock() -> Clock:
    """Return the app's clock (the wall clock, or a fixed one under test)."""
    return current_app.extensions["zongzhi.clock"]


def json_body() -> dict:
    """Return the request's JSON object, or refuse it with a 400 the client can read (422 for
    an object of too many names)."""
    raw = request.get_data(cache=True)
    if json_depth(raw) > JSON_DEPTH_MAX:
        raise ZongzhiError(_("请求内容嵌套超过 %(n)s 层", n=JSON_DEPTH_MAX), code="malformed_json")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # the depth scan is exact for JSON; this is for the rest
        raise ZongzhiError(_("请求内容不是有效的 JSON"), code="malformed_json") from None
    if not isinstance(body, dict):
        raise ValidationError({"_schema": [_("请求内容须为 JSON 对象")]})
    if _most_names(body) > JSON_KEYS_MAX:
        raise ValidationError({"_schema": [_("一个对象最多 %(n)s 个字段", n=JSON_KEYS_MAX)]})
    return body


def _most_names(value) -> int:
    # The most names any object in a parsed body holds (its depth is bounded already).
    if isinstance(value, dict):
        return max(len(value), *(_most_names(v) for v in value.values())) if value else 0
    if isinstance(value, list):
        return max((_most_names(v) for v in value), default=0)
    return 0


def no_body() -> None:
    """Refuse a body sent to a write that reads none: nothing, or `{}`, is all it takes; bad
    JSON is a 400, anything else a 422 naming each field, before anything is written."""
    if request.get_data(cache=True).strip():
        load(_Nothing())


class _Nothing(rule_schemas.Schema):
    """A body with no fields at all."""


def load(schema: Schema, data: dict | None = None) -> dict:
    """Validate the body (or `data`) with a schema; every problem comes back at once as 422."""
    try:
        return schema.load(json_body() if data is None else data)
    except SchemaError as err:
        raise ValidationError(_listed(err.normalized_messages())) from None


def _listed(messages: dict) -> dict:
    """Return marshmallow's messages as the error body has them: each field with a list of its
    reasons as text to render, `{"quantity": ["须在 1 与 1000 之间"]}`.

    A reason about one element of a list, or a field inside one, is listed under the list's
    field, saying which: `{"items": ["第 1 项 quantity：须在 1 与 1000 之间"]}`; a field inside
    an element is named on its own as well (`"quantity"`), as a form would mark it.
    """
    listed: dict = {}
    for field, value in messages.items():
        for trail, why in _reasons(value, ()):
            if trail:
                why = _("%(where)s：%(why)s", where=_where(trail), why=why)
            listed.setdefault(str(field), []).append(why)
            names = [step for step in trail if not isinstance(step, int)]
            if names and names[-1] != field:
                listed.setdefault(names[-1], []).append(why)
    return _bounded(listed)


def _bounded(listed: dict) -> dict:
    # At most FIELDS_SHOWN fields, each with at most REASONS_SHOWN reasons and a last one saying
    # how many more there were.
    out = {}
    for field, reasons in list(listed.items())[:FIELDS_SHOWN]:
        out[field] = reasons if len(reasons) <= REASONS_SHOWN else [
            *reasons[:REASONS_SHOWN], _("另有 %(n)s 个问题未列出", n=len(reasons) - REASONS_SHOWN)]
    return out


def _where(trail: tuple) -> Message:
    # "第 1 项 quantity" / "item 1 quantity", in the language the answer is shown in.
    steps = [_("第 %(n)s 项", n=step + 1) if isinstance(step, int) else step for step in trail]
    return in_language(lambda _lang: " ".join(str(step) for step in steps))


def _reasons(value, trail: tuple):
    # (where below the field, why) for each reason in marshmallow's nested messages: a list's
    # element by its index (an int, or digits when the messages were copied), a field by name.
    if isinstance(value, dict):
        for key, inner in value.items():
            step = int(key) if isinstance(key, int) or (isinstance(key, str) and key.isdigit()) else str(key)
            yield from _reasons(inner, trail + (step,))
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _reasons(inner, trail) if isinstance(inner, (dict, list, tuple)) else [(trail, inner)]
    else:
        yield trail, value


def page_args() -> tuple[int, int | None]:
    """Return (limit, cursor) from ?limit= and ?cursor=, refusing nonsense with 422.

    A cursor is a position (an id) the server wrote; one that decodes to anything but a whole
    number in bounds was not written here, and is refused before it reaches a query.
    """
    problems = {}
    limit = bounds.parse_whole(request.args.get("limit", str(DEFAULT_LIMIT)), max=MAX_LIMIT)
    if limit is None:
        problems["limit"] = [_("须为 1 到 %(max)s 之间的整数", max=MAX_LIMIT)]
    cursor = request.args.get("cursor")
    position = None
    if cursor:
        position = _cursor_position(cursor)
        if position is None:
            problems["cursor"] = [_("无效的翻页游标")]
    if problems:
        raise ValidationError(problems)
    return limit, position


def _cursor_position(cursor: str) -> int | None:
    """Return the position a cursor of page() encodes, or None if it is not one."""
    if len(cursor) > 24:  # base64 of 16 digits is 22 characters
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii")
    except (ValueError, binascii.Error):  # UnicodeError is a ValueError too
        return None
    return bounds.parse_whole(text, min=0)


def query_whole(name: str, *, min: int = 1, max: int = bounds.MAX_WHOLE) -> int | None:  # noqa: A002
    """Return the whole-number query parameter `name` (None when absent or empty), or 422.

    For ?after=, ?resident= and the like: werkzeug's type=int takes "٣" and 10^30, and the
    second reaches the database as an overflow.
    """
    value = request.args.get(name)
    if not value:
        return None
    number = bounds.parse_whole(value, min=min, max=max)
    if number is None:
        raise ValidationError({name: [bounds.out_of_range(min, max)]})
    return number


def query_text(name: str, *, max_len: int = QUERY_TEXT_MAX) -> str | None:
    """Return the text query parameter `name` (None when absent), refusing unsafe text with 422.

    A NUL in ?q= reaches PostgreSQL as a 500 otherwise; a blank one is the same as none.
    """
    value = request.args.get(name)
    if value is None:
        return None
    problem = bounds.text_problem(value, max_len=max_len, allow_blank=True)
    if problem:
        raise ValidationError({name: [problem]})
    return value


def page(items: list, limit: int, position_of) -> dict:
    """Build a page from up to limit+1 fetched rows: the items and the cursor to the next page."""
    more = len(items) > limit
    items = items[:limit]
    cursor = None
    if more and items:
        cursor = base64.urlsafe_b64encode(str(position_of(items[-1])).encode()).decode().rstrip("=")
    return {"items": items, "next_cursor": cursor}
