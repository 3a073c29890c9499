"""What the figures' endpoints answer, as marshmallow schemas (the API document names them)."""
from __future__ import annotations

from marshmallow import fields

from rules.schemas import Schema


class ObjectionsOut(Schema):
    filed = fields.Integer()
    upheld = fields.Integer()


class PenaltyOut(Schema):
    rule = fields.String()
    name = fields.String()
    points = fields.Integer()


class StatsMonthOut(Schema):
    month = fields.String(metadata={"example": "2026-10"})
    residents = fields.Integer()
    active_residents = fields.Integer()
    participation_percent = fields.Float(allow_none=True)
    points = fields.Integer()
    points_by_category = fields.Dict(keys=fields.String(), values=fields.Integer())
    penalty_points = fields.Integer()
    penalties_by_rule = fields.List(fields.Nested(PenaltyOut))
    redeemed_points = fields.Integer()
    points_outstanding = fields.Integer()
    fund_fen = fields.Integer()
    coverage_percent = fields.Integer(allow_none=True)
    coverage_warning_percent = fields.Integer()
    coverage_warning = fields.Boolean()
    objections = fields.Nested(ObjectionsOut)


class BankStatsOut(Schema):
    months = fields.List(fields.Nested(StatsMonthOut))


class CountyBankOut(Schema):
    code = fields.String()
    name = fields.String()
    residents = fields.Integer()
    active_residents = fields.Integer()
    participation_percent = fields.Float(allow_none=True)
    points = fields.Integer()
    penalty_points = fields.Integer()
    fund_fen = fields.Integer()
    coverage_percent = fields.Integer(allow_none=True)
    coverage_warning = fields.Boolean()
    objections = fields.Nested(ObjectionsOut)
    notice_posted = fields.Boolean()
    notice_late = fields.Boolean()


class CountyStatsOut(Schema):
    month = fields.String()
    banks = fields.List(fields.Nested(CountyBankOut))
