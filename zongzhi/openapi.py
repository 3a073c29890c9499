"""The OpenAPI document, generated from the views' docstrings and the marshmallow schemas."""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


def build(app: Flask) -> dict:
    """Describe every endpoint under /api/v1."""
    from ledger import schemas

    spec = APISpec(title="综治银行 Zongzhi Bank API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[FlaskPlugin(), MarshmallowPlugin()],
                   info={"description": "Points bank for villages: deeds, balances, verification."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.options["security"] = [{"bearer": []}]
    for name in ("ErrorOut", "HouseholdIn", "HouseholdOut", "ResidentIn", "ResidentOut", "DeedIn",
                 "DeedOut", "PendingOut", "PendingListOut", "ReasonIn", "TransferOut", "AccountOut",
                 "VerifyOut", "RulesOut", "ResidentPage", "TransferPage", "PendingPage"):
        # A schema nested in one registered earlier is already there under its own name.
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=getattr(schemas, name))
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith("/api/v1/") and rule.endpoint != "openapi.document":
                spec.path(view=app.view_functions[rule.endpoint], app=app)
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    return document


@bp.get("/openapi.json")
def document():
    return jsonify(current_app.extensions["zongzhi.openapi"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions["zongzhi.openapi"] = build(app)
