"""The OpenAPI document, generated from the URL map, the views' docstrings and marshmallow schemas.

Each part has one home: a path parameter is described by its URL converter (`web/converters.py`
gives each its `openapi` schema), a body or an answer by its marshmallow schema, what an operation
does and its own refusals (409 codes) by its view's docstring. The refusals every operation shares
(401, 403, 404, 422 …) follow from what it takes, and are added here, so no docstring repeats them.
"""
from __future__ import annotations

import re
from http import HTTPStatus
from importlib import import_module

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.routing import AnyConverter, Rule

from web.api import MAX_LIMIT

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

METHODS = ("get", "put", "post", "patch", "delete")
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}

#: Parameters several operations share; a docstring names them (`- limit`), never repeats them.
PARAMETERS = {
    "limit": {"in": "query", "name": "limit", "description": "items per page",
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}},
    "cursor": {"in": "query", "name": "cursor",
               "description": "the `next_cursor` of the page before",
               "schema": {"type": "string", "maxLength": 24}},
    "IdempotencyKey": {
        "in": "header", "name": "Idempotency-Key",
        "description": "the same key and body again returns the first answer and writes nothing",
        "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
}

#: Why an operation may be refused, whatever it is: said once here, not in every docstring.
WHY = {
    400: "malformed_json: the body is not JSON",
    401: "unauthorized: no token, or one not valid",
    403: "forbidden: the token's role may not do this",
    404: "not_found: no such bank (or another bank's), or no such item in it",
    409: "idempotency_mismatch: the key was used with another body",
    413: "too_large: the body is larger than the server takes",
    422: "validation_error: `fields` names each field refused and why",
}


#: Python-only regex syntax and its ECMA-262 twin (the dialect JSON Schema's `pattern` speaks):
#: without the multiline flag, ECMA's ^ and $ match only at the ends, as Python's \A and \Z do.
_PYTHON_ONLY = [(re.compile(r"(?<!\\)((?:\\\\)*)\\A"), r"\1^"),
                (re.compile(r"(?<!\\)((?:\\\\)*)\\Z"), r"\1$")]


def ecma_pattern(pattern: str) -> str:
    """Say a marshmallow `Regexp` (Python's dialect) in the document's dialect, meaning the same."""
    for python, ecma in _PYTHON_ONLY:
        pattern = python.sub(ecma, pattern)
    return pattern


def _ecma_patterns(node) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            node["pattern"] = ecma_pattern(node["pattern"])
        for value in node.values():
            _ecma_patterns(value)
    elif isinstance(node, list):
        for value in node:
            _ecma_patterns(value)


def path_parameters(rule: Rule) -> list[dict]:
    """Describe each variable of a URL rule as its converter does: type, bounds or choices."""
    parameters = []
    for name, converter in rule._converters.items():  # werkzeug keeps no public map of these
        if isinstance(converter, AnyConverter):
            schema = {"type": "string", "enum": sorted(converter.items)}
        else:
            schema = dict(getattr(converter, "openapi", None) or {"type": "string"})
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return parameters


def _complete(operation: dict, path_params: list[dict], *, page: bool = False) -> None:
    """Add what every operation of its kind answers: the shared refusals and descriptions.
    A page (`PAGES`) answers its refusals as pages, and its docstring lists every one."""
    responses = operation.setdefault("responses", {})
    if page:
        for status, response in responses.items():
            response.setdefault("description", HTTPStatus(int(status)).phrase)
        return
    public = operation.get("security") == []
    body = operation.get("requestBody")
    retried = {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", [])
    statuses = set()
    if not public:
        statuses |= {401, 403}
    if path_params:
        statuses.add(404)
    if body or path_params or operation.get("parameters"):
        statuses.add(422)
    if body:
        body.setdefault("required", True)
        statuses |= {400, 413}
    if retried:
        statuses.add(409)
    for status in sorted(statuses):
        responses.setdefault(str(status), {"description": WHY[status], "content": ERROR})
    for status, response in responses.items():
        response.setdefault("description", HTTPStatus(int(status)).phrase)


#: Addresses outside /api/v1 that programs use too: a card's page and forms (the resident's side,
#: no sign-in) and the phone app with its sign-in. Each is described where its view's docstring
#: does so (`---`); the phone app's own files and translations are not.
PAGES = ("/c/", "/m/")


def _described(rule: Rule, view) -> bool:
    if rule.rule.startswith("/api/v1/"):
        return rule.endpoint != "openapi.document"
    return rule.rule.startswith(PAGES) and "---" in (view.__doc__ or "")


def build(app: Flask) -> dict:
    """Describe every endpoint under /api/v1, and the pages of `PAGES` that describe themselves."""
    from marshmallow import Schema

    spec = APISpec(title="综治银行 Zongzhi Bank API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[FlaskPlugin(), MarshmallowPlugin()],
                   info={"description": "Points bank for villages: deeds, balances, verification."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "`zongzhi token create NAME`"})
    for name, parameter in PARAMETERS.items():
        spec.components.parameter(name, parameter["in"], {
            k: v for k, v in parameter.items() if k != "in"})
    # Every schema a package with a blueprint defines in its schemas.py is a component, under its
    # class name, so a view's docstring can name it.
    packages = dict.fromkeys(blueprint.import_name.partition(".")[0] for blueprint in app.blueprints.values())
    for package in packages:
        try:
            module = import_module(f"{package}.schemas")
        except ModuleNotFoundError:
            continue
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__
                    and name not in spec.components.schemas):
                spec.components.schema(name, schema=value)
    parameters_of = {}
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            view = app.view_functions[rule.endpoint]
            if _described(rule, view):
                params = path_parameters(rule)
                spec.path(view=view, app=app, parameters=params)
                parameters_of[FlaskPlugin.flaskpath2openapi(rule.rule)] = params
    document = spec.to_dict()
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                _complete(item[method], parameters_of[path], page=not path.startswith("/api/"))
    _ecma_patterns(document)
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
