"""The reports' request and response shapes (marshmallow), also the source of the OpenAPI document."""
from __future__ import annotations

from marshmallow import fields, validate

from ledger.schemas import MEMO_MAX
from rules import bounds
from rules.schemas import Schema, SafeText, text_field, whole


class ObjectionIn(Schema):
    resident = whole(required=True, metadata={"description": "the resident who objects"})
    transfer = whole(load_default=None, allow_none=True,
                           metadata={"description": "the entry objected to; omit for a missing deed"})
    month = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\d{4}-\d{2}$"),
                          metadata={"description": "YYYY-MM; needed for a missing deed"})
    text = SafeText(MEMO_MAX, multiline=True, required=True)


class ObjectionOut(Schema):
    id = fields.Integer()
    resident = fields.Integer(attribute="resident_id")
    transfer = fields.Integer(attribute="transfer_id", allow_none=True)
    month = fields.String()
    text = fields.String()
    status = fields.String(metadata={"description": "open | upheld | rejected"})
    filed_by = fields.String()
    filed_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    correction = fields.Integer(attribute="correction_id", allow_none=True,
                                metadata={"description": "the transfer that corrected it"})


class ObjectionPage(Schema):
    items = fields.List(fields.Nested(ObjectionOut))
    next_cursor = fields.String(allow_none=True)


class UpholdIn(Schema):
    correction = fields.String(required=True, validate=validate.OneOf(["reverse", "deed"]))
    reason = SafeText(MEMO_MAX, multiline=True, required=True)
    rule = text_field(40, load_default=None, allow_none=True,
                      metadata={"description": "for a deed: the rule of the missing deed"})
    quantity = whole(max=bounds.QUANTITY_MAX, load_default=1)


class RejectIn(Schema):
    reason = SafeText(MEMO_MAX, multiline=True, required=True)


class NoticeOut(Schema):
    bank = fields.Dict()
    month = fields.String()
    snapshot_hash = fields.String()
    head = fields.Dict(metadata={"description": "the ledger's chain head when the notice was frozen"})
    published_at = fields.String()
    objection_deadline = fields.String()
    sealed = fields.Dict(allow_none=True, metadata={"description": "who sealed the month, when, chain head"})
    categories = fields.List(fields.String())
    residents = fields.List(fields.Dict())
    households = fields.List(fields.Dict())
    totals = fields.Dict()
    late = fields.List(fields.Dict(), metadata={
        "description": "entries dated in an earlier month but recorded after that month's notice was "
                       "frozen (补登与更正), each listed here once: seq, occurred_on, resident, name, "
                       "household, what, penalty, reversal, points; absent when there are none"})


class RegisterOut(Schema):
    day = fields.String()
    count = fields.Integer()
    points = fields.Integer()
    entries = fields.List(fields.Dict())
    totals = fields.List(fields.Dict())
    closed = fields.Dict(allow_none=True, metadata={"description": "the daily close, once the day is closed"})
