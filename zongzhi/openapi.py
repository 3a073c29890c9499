"""The OpenAPI document, generated from the views' docstrings and the marshmallow schemas."""
from __future__ import annotations

from importlib import import_module

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


def build(app: Flask) -> dict:
    """Describe every endpoint under /api/v1."""
    from marshmallow import Schema

    spec = APISpec(title="综治银行 Zongzhi Bank API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[FlaskPlugin(), MarshmallowPlugin()],
                   info={"description": "Points bank for villages: deeds, balances, verification."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.options["security"] = [{"bearer": []}]
    # Every schema a package defines in its schemas.py is a component, under its class name,
    # so a view's docstring can name it.
    from .app import PACKAGES

    for package in PACKAGES:
        try:
            module = import_module(f"{package}.schemas")
        except ModuleNotFoundError:
            continue
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__
                    and name not in spec.components.schemas):
                spec.components.schema(name, schema=value)
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith("/api/v1/") and rule.endpoint != "openapi.document":
                spec.path(view=app.view_functions[rule.endpoint], app=app)
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    return document


@bp.get("/openapi.json")
def document():
    """Serve the document, built on first request: starting the app need not parse every docstring."""
    app = current_app._get_current_object()
    if "zongzhi.openapi" not in app.extensions:
        app.extensions["zongzhi.openapi"] = build(app)
    return jsonify(app.extensions["zongzhi.openapi"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
