"""The field's request and response shapes (marshmallow), also in the OpenAPI document."""
from __future__ import annotations

import re
from datetime import datetime

from marshmallow import fields, validate
from marshmallow import ValidationError as SchemaError

from ground.i18n import _
from rules import bounds
from rules.schemas import Schema, SafeText, text_field, whole

#: Deeds one batch may carry.
BATCH_MAX = 200
CAPACITY_MAX = 10_000
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?([+-][0-9]{2}:[0-9]{2}|Z)?")


class LocalTime(fields.DateTime):
    """A moment: ISO text (YYYY-MM-DDTHH:MM), in the bank's time zone unless it names an offset."""

    def __init__(self, **kw):
        super().__init__(format="iso", **kw)
        self.metadata.setdefault("example", "2026-10-18T08:00")

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
            raise SchemaError([_("须为 YYYY-MM-DDTHH:MM 格式的时间")])
        moment = super()._deserialize(value, attr, data, **kw)
        if bounds.day_problem(moment.date()):
            raise SchemaError([bounds.DAY_OUT_OF_RANGE])
        return moment


class PhotoOut(Schema):
    id = fields.Integer()
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()


class BatchIn(Schema):
    deeds = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=BATCH_MAX),
                        metadata={"description": "each {\"key\", ...a deed's body (DeedIn)}; instead of "
                                                 "\"residents\", a deed may name \"cards\": what a phone scanned "
                                                 "(a card's URL or token, or its short number)"})


class BatchResult(Schema):
    key = fields.String(allow_none=True, metadata={"description": "the deed's key, null when it sent none"})
    status = fields.Integer(metadata={"description": "what POST /deeds would answer: 201, 202, 409, 422, ..."})
    body = fields.Dict(metadata={"description": "its answer: DeedOut, PendingListOut or ErrorOut"})


class BatchOut(Schema):
    results = fields.List(fields.Nested(BatchResult))


class ActivityIn(Schema):
    title = text_field(100, required=True)
    rule = text_field(40, required=True, metadata={"description": "rule code in force on the day"})
    quantity = whole(max=bounds.QUANTITY_MAX, load_default=1)
    starts_at = LocalTime(required=True)
    ends_at = LocalTime(required=True)
    place = SafeText(100, allow_blank=True, load_default=None, allow_none=True)
    capacity = whole(max=CAPACITY_MAX, load_default=None, allow_none=True)


class ActivityOut(Schema):
    id = fields.Integer()
    title = fields.String()
    rule = fields.String(attribute="rule_code")
    quantity = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    place = fields.String(allow_none=True)
    capacity = fields.Integer(allow_none=True)
    signups = fields.Integer()
    checkins = fields.Integer()
    closed_at = fields.DateTime(allow_none=True)


class ActivityPage(Schema):
    items = fields.List(fields.Nested(ActivityOut))
    next_cursor = fields.String(allow_none=True)


class CheckinIn(Schema):
    card = text_field(300, required=True, metadata={
        "description": "what the card's QR holds (its URL or token), or the short number printed on it"})


class CheckinOut(Schema):
    resident = fields.Integer()
    name = fields.String()


class TokenIn(Schema):
    name = text_field(80, required=True)
    password = fields.String(required=True, validate=validate.Length(max=200))


class TokenOut(Schema):
    """The phone's sign-in (POST /m/token): a bearer token for the API and whose it is."""

    token = fields.String(required=True)
    user = fields.String(required=True)
    role = fields.String(required=True)
    bank = fields.String(allow_none=True, metadata={"description": "null for a county admin"})


class SignupOut(Schema):
    """A sign-up from a card's page, answered as JSON to a program that asks for it."""

    activity = fields.Integer(required=True)
    resident = fields.Integer(required=True)


def as_local(moment: datetime, tz) -> datetime:
    """Return a moment typed without an offset as the bank's local time."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
