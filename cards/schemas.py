"""The cards' request and response shapes (marshmallow), also the source of the OpenAPI document."""
from __future__ import annotations

from marshmallow import fields, validate

from rules.schemas import Schema, text_field, whole


class CardOut(Schema):
    token = fields.String(metadata={"description": "the card's secret; shown this once, only its hash is kept"})
    url = fields.String(metadata={"description": "what the card's QR code holds: the resident's page"})
    number = fields.String(metadata={"description": "short card number to read over the phone"})


class RevokedOut(Schema):
    revoked = fields.Integer(metadata={"description": "how many live cards were revoked"})


class CardSheetIn(Schema):
    residents = fields.List(whole(), load_default=list, validate=validate.Length(max=5000))
    households = fields.List(text_field(40), load_default=list,
                             validate=validate.Length(max=5000),
                             metadata={"description": "household codes (only when points are per household)"})
    all = fields.Boolean(load_default=False, metadata={"description": "every active resident (and household)"})
    per_page = whole(max=10, load_default=10, validate=validate.OneOf([8, 10]))
