"""The desk's and the fund's request and response shapes (marshmallow), also the OpenAPI source."""
from __future__ import annotations

from marshmallow import fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from ledger.schemas import MEMO_MAX, TransferOut
from ground.i18n import _
from rules import bounds
from rules.schemas import Schema, day_field, note_field, text_field, whole

from .models import RESTRICTIONS, SOURCES

#: Lines one redemption may hold.
REDEMPTION_LINES_MAX = 50


def _fen(**kw):
    """An amount of money in fen, zero or more, at most bounds.FEN_MAX."""
    return whole(min=0, max=bounds.FEN_MAX, **kw)


SKU = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}\Z",
                      error=_("须为字母或数字开头的字母、数字、.、_、-，最长 40 个字符"))


class CatalogIn(Schema):
    sku = fields.String(required=True, validate=SKU)
    name = text_field(100, required=True)
    points = whole(max=bounds.CATALOG_POINTS_MAX, required=True, metadata={"description": "price in points"})
    cost_fen = _fen(required=True, metadata={"description": "what one unit costs the fund, in fen"})
    limit_per_window = whole(max=bounds.QUANTITY_MAX, load_default=None, allow_none=True,
                             metadata={"description": "most units one holder may take per window"})
    active = fields.Boolean(load_default=True)


class CatalogChangeIn(Schema):
    name = text_field(100)
    points = whole(max=bounds.CATALOG_POINTS_MAX)
    cost_fen = _fen()
    limit_per_window = whole(max=bounds.QUANTITY_MAX, allow_none=True)
    active = fields.Boolean()


class CatalogItemOut(Schema):
    sku = fields.String()
    name = fields.String()
    points = fields.Integer()
    cost_fen = fields.Integer()
    stock = fields.Integer()
    stock_value_fen = fields.Integer()
    limit_per_window = fields.Integer(allow_none=True)
    active = fields.Boolean()


class StockIn(Schema):
    quantity = whole(max=bounds.QUANTITY_MAX, required=True)
    source = fields.String(required=True, validate=validate.OneOf(["purchase", "donation"]))
    cost_fen = _fen(load_default=None, allow_none=True, metadata={
        "description": "the lot's total: what the fund paid, or the gift's stated value; "
                       "default quantity × the item's cost_fen"})
    donor = text_field(100, load_default=None, allow_none=True)
    donor_source = fields.String(load_default="donor", validate=validate.OneOf(SOURCES), metadata={
        "description": "for a donation: who gave it (sponsor = 社会赞助, donor = 村民捐献, ...)"})

    @validates_schema
    def _donation_names_donor(self, data, **kw):
        if data.get("source") == "donation" and not (data.get("donor") or "").strip():
            raise SchemaError(_("捐赠须写明捐赠人"), "donor")


class StockOut(CatalogItemOut):
    movement = fields.Integer()
    transfers = fields.List(fields.Nested(TransferOut))


class WindowIn(Schema):
    opens_on = day_field(required=True)
    closes_on = day_field(required=True)
    memo = note_field(200)


class WindowOut(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "null for a regular window from the rule file"})
    opens_on = fields.Date()
    closes_on = fields.Date()
    kind = fields.String(metadata={"description": "regular or extra"})


class WindowsOut(Schema):
    current = fields.Nested(WindowOut, allow_none=True)
    next = fields.Nested(WindowOut, allow_none=True)
    items = fields.List(fields.Nested(WindowOut))


class RedemptionItemIn(Schema):
    sku = text_field(40, required=True)
    quantity = whole(max=bounds.QUANTITY_MAX, required=True)


class RedemptionIn(Schema):
    resident = whole(required=True)
    items = fields.List(fields.Nested(RedemptionItemIn), required=True,
                        validate=validate.Length(min=1, max=REDEMPTION_LINES_MAX))


class RedemptionLineOut(Schema):
    id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    unit_points = fields.Integer()
    points = fields.Integer()
    cost_fen = fields.Integer()
    #: The legs of the line's entry: its points, and the goods' cost (none if they cost nothing).
    points_transfer = fields.Integer()
    cost_transfer = fields.Integer(allow_none=True)
    reversed = fields.Boolean()


class RedemptionOut(Schema):
    id = fields.Integer()
    resident = fields.Integer(attribute="resident_id")
    account = fields.String()
    points = fields.Integer(metadata={"description": "points paid"})
    cost_fen = fields.Integer(metadata={"description": "what the goods cost the fund"})
    balance = fields.Integer(attribute="balance_after", metadata={"description": "the new balance"})
    occurred_on = fields.Date()
    window = fields.Nested(WindowOut)
    lines = fields.List(fields.Nested(RedemptionLineOut))
    transfers = fields.List(fields.Nested(TransferOut))
    receipt_pdf = fields.String()


class FundReceiptIn(Schema):
    source = fields.String(required=True, validate=validate.OneOf(SOURCES), metadata={
        "description": "town 镇投入, village 村投入, sponsor 社会赞助, donor 村民捐献"})
    donor = text_field(100, load_default=None, allow_none=True)
    received_on = day_field(required=True)
    amount_fen = whole(max=bounds.FEN_MAX, required=True)
    restriction = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(RESTRICTIONS),
                                metadata={"description": "goods (for the desk only) or projects (micro-projects only)"})
    memo = note_field(MEMO_MAX)


class FundReceiptOut(Schema):
    id = fields.Integer()
    source = fields.String()
    donor = fields.String(allow_none=True)
    received_on = fields.Date()
    amount_fen = fields.Integer()
    restriction = fields.String(allow_none=True)
    in_kind = fields.Boolean()
    item = fields.String(allow_none=True, metadata={"description": "SKU of goods given in kind"})
    quantity = fields.Integer(allow_none=True)
    transfer = fields.Integer(attribute="transfer_id", allow_none=True)
    memo = fields.String(allow_none=True)
    reversed = fields.Boolean()


class FundReceiptPage(Schema):
    items = fields.List(fields.Nested(FundReceiptOut))
    next_cursor = fields.String(allow_none=True)


class CoverageOut(Schema):
    points_outstanding = fields.Integer()
    point_value_fen = fields.Integer()
    liability_fen = fields.Integer()
    available_fen = fields.Integer()
    percent = fields.Integer(allow_none=True)
    warning_percent = fields.Integer()
    warning = fields.Boolean()


class FundOut(Schema):
    unrestricted_fen = fields.Integer()
    goods_only_fen = fields.Integer()
    projects_only_fen = fields.Integer()
    cash_fen = fields.Integer()
    stock_fen = fields.Integer(metadata={"description": "goods on the shelf, at cost"})
    available_fen = fields.Integer(metadata={"description": "what can honour points: unrestricted + goods-only + stock"})
    coverage = fields.Nested(CoverageOut)


class CatalogPage(Schema):
    items = fields.List(fields.Nested(CatalogItemOut))
    next_cursor = fields.String(allow_none=True)
