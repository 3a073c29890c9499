"""The ledger's request and response shapes (marshmallow), also the source of the OpenAPI document."""
from __future__ import annotations

from marshmallow import fields, validate

from ground.i18n import _
from rules import bounds
from rules.schemas import Schema, SafeText, day_field, note_field, text_field, whole

MEMO_MAX = 500
#: Residents one deed may name (a team of volunteers).
DEED_RESIDENTS_MAX = 200
#: Photos one deed may carry as evidence.
EVIDENCE_MAX = 4


#: A phone number: ASCII digits and dashes only (\Z, not $, which would let a trailing newline in).
PHONE = validate.Regexp(r"^\+?[0-9][0-9-]{4,19}\Z", error=_("不是有效的电话号码"))


class HouseholdIn(Schema):
    code = text_field(40, required=True)
    name = SafeText(100, allow_blank=True, load_default=None, allow_none=True)


class HouseholdOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()


class ResidentIn(Schema):
    name = text_field(50, required=True)
    household = text_field(40, required=True, metadata={"description": "the household's code"})
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)


class ResidentOut(Schema):
    id = fields.Integer()
    name = fields.String()
    household = fields.String(attribute="household_code")
    phone = fields.String(allow_none=True)
    active = fields.Boolean()
    pinyin = fields.String()
    initials = fields.String()


class DeedIn(Schema):
    rule = text_field(40, required=True, metadata={"description": "rule code from the rules in force"})
    residents = fields.List(whole(), required=True,
                            validate=validate.Length(min=1, max=DEED_RESIDENTS_MAX),
                            metadata={"description": "resident ids: all are posted or none"})
    quantity = whole(max=bounds.QUANTITY_MAX, load_default=1,
                     metadata={"description": "units of the rule (次 or 小时)"})
    occurred_on = day_field(required=True, metadata={
        "description": "YYYY-MM-DD: not in the future, not in a sealed month, at most the rule "
                       "file's cycle.backdate_days (default 45) days back"})
    memo = note_field(MEMO_MAX)
    evidence = fields.List(whole(), load_default=list, validate=validate.Length(max=EVIDENCE_MAX),
                           metadata={"description": "ids of the bank's photos (POST /photos) "
                                                    "that show the deed, at most 4"})


class ReasonIn(Schema):
    reason = SafeText(MEMO_MAX, multiline=True, required=True)


class TransferOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    ledger = fields.String()
    kind = fields.String(metadata={"description": "deed, penalty, reversal, ..."})
    resident = fields.Integer(attribute="doer_id", allow_none=True)
    account = fields.String(allow_none=True, metadata={"description": "the resident-side account"})
    debit = fields.String()
    credit = fields.String()
    amount = fields.Integer(metadata={"description": "always positive: it moves from debit to credit"})
    points = fields.Integer(allow_none=True,
                            metadata={"description": "signed effect on the resident-side account"})
    rule = fields.String(attribute="rule_code", allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    occurred_on = fields.Date()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()
    memo = fields.String(allow_none=True)
    reverses = fields.Integer(attribute="reverses_id", allow_none=True)
    entry = fields.Integer(attribute="entry_seq", metadata={
        "description": "the seq of its entry's first leg: the transfers of one event share it, "
                       "and reversing any of them reverses them all"})
    hash = fields.String()
    evidence = fields.List(fields.Integer(), metadata={"description": "photo ids"})


class PendingOut(Schema):
    id = fields.Integer()
    resident = fields.Integer(attribute="resident_id")
    rule = fields.String(attribute="rule_code")
    rule_version = fields.Integer()
    quantity = fields.Integer()
    points = fields.Integer()
    occurred_on = fields.Date()
    memo = fields.String(allow_none=True)
    status = fields.String()
    submitted_by = fields.String()
    submitted_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    transfer = fields.Integer(attribute="transfer_id", allow_none=True)
    source = fields.String(metadata={"description": "clerk, or resident for a resident's own report"})
    evidence = fields.List(fields.Integer(), metadata={"description": "photo ids"})


class DeedOut(Schema):
    transfers = fields.List(fields.Nested(TransferOut))


class PendingListOut(Schema):
    pending = fields.List(fields.Nested(PendingOut))


class AccountOut(Schema):
    resident = fields.Integer()
    name = fields.String()
    household = fields.String()
    account_unit = fields.String()
    account = fields.String()
    balance = fields.Integer()
    household_balance = fields.Integer()
    earned_this_month = fields.Integer()
    penalties_this_month = fields.Integer()
    as_of = fields.Date()


class VerifyOut(Schema):
    ok = fields.Boolean()
    transfers = fields.Integer()
    head = fields.String()
    first_bad_seq = fields.Integer(allow_none=True)
    problems = fields.List(fields.Dict())


class CapsOut(Schema):
    day = fields.Integer()
    week = fields.Integer()
    month = fields.Integer()
    year = fields.Integer()


class RuleOut(Schema):
    code = fields.String()
    name = fields.String()
    category = fields.String()
    points = fields.Integer()
    unit = fields.String()
    caps = fields.Nested(CapsOut)
    review = fields.Boolean()
    notice = fields.String()
    evidence = fields.String(metadata={"description": "optional, or required: photos must come with the deed"})
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)


class RulesOut(Schema):
    version = fields.Integer()
    content_hash = fields.String()
    account_unit = fields.String()
    rules = fields.List(fields.Nested(RuleOut))


class ErrorOut(Schema):
    """The one error body (web/errors.py): every refusal carries all three."""

    error = fields.String(required=True, metadata={"description": "a stable code: not_found, cap_exceeded, ..."})
    message = fields.String(required=True, metadata={"description": "in Chinese, or English for Accept-Language: en"})
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                          required=True, metadata={"description": "each refused field, with why; a "
                                                   "reason about an element of a list is the list's, "
                                                   "saying which (第 2 项 quantity：…)"})


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """Return the schema of a page of items: {"items": [...], "next_cursor": ...}."""
    return type(f"{item_schema.__name__.removesuffix('Out')}Page", (Schema,), {
        "items": fields.List(fields.Nested(item_schema)),
        "next_cursor": fields.String(allow_none=True),
    })


ResidentPage = page_of(ResidentOut)
TransferPage = page_of(TransferOut)
PendingPage = page_of(PendingOut)
HouseholdPage = page_of(HouseholdOut)
