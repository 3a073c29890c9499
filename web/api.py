"""Request helpers every API view shares: the JSON body, pagination, idempotency keys."""
from __future__ import annotations

import base64
import json

from flask import current_app, request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from ledger.chain import request_fingerprint
from ledger.clock import Clock
from ledger.errors import ValidationError, ZongzhiError
from ledger.posting import Idempotency

from .auth import current_user

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def clock() -> Clock:
    """Return the app's clock (the wall clock, or a fixed one under test)."""
    return current_app.extensions["zongzhi.clock"]


def json_body() -> dict:
    """Return the request's JSON object, or refuse it with a 400 the client can read."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ZongzhiError("请求内容不是有效的 JSON", "the body is not valid JSON",
                           code="malformed_json") from None
    if not isinstance(body, dict):
        raise ValidationError({"_schema": ["请求内容须为 JSON 对象"]})
    return body


def load(schema: Schema, data: dict | None = None) -> dict:
    """Validate the body (or `data`) with a schema; every problem comes back at once as 422."""
    try:
        return schema.load(json_body() if data is None else data)
    except SchemaError as err:
        raise ValidationError(err.normalized_messages()) from None


def page_args() -> tuple[int, int | None]:
    """Return (limit, cursor) from ?limit= and ?cursor=, refusing nonsense with 422."""
    problems = {}
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        problems["limit"] = [f"须为 1 到 {MAX_LIMIT} 之间的整数"]
        limit = DEFAULT_LIMIT
    cursor = request.args.get("cursor")
    position = None
    if cursor:
        try:
            position = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        except ValueError:
            problems["cursor"] = ["无效的翻页游标"]
    if problems:
        raise ValidationError(problems)
    return limit, position


def page(items: list, limit: int, position_of) -> dict:
    """Build a page from up to limit+1 fetched rows: the items and the cursor to the next page."""
    more = len(items) > limit
    items = items[:limit]
    cursor = None
    if more and items:
        cursor = base64.urlsafe_b64encode(str(position_of(items[-1])).encode()).decode().rstrip("=")
    return {"items": items, "next_cursor": cursor}


def idempotency() -> Idempotency | None:
    """Return the request's Idempotency-Key with a fingerprint of what it asks, if it sent one.

    The key is the asking user's own, and a request without a body (an approval) is an empty one.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200:
        raise ValidationError({"Idempotency-Key": ["须为 1 到 200 个字符"]})
    body = json_body() if request.get_data(cache=True).strip() else {}
    return Idempotency(key, request_fingerprint(request.method, request.path, body),
                       user_id=current_user().id)
