"""The API document at /api/v1/openapi.json: valid, complete, and as bounded as the server."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from rules import bounds

METHODS = ("get", "put", "post", "patch", "delete")

#: The endpoints ../shared/API.md promises, as built: the document must describe each.
PROMISED = [
    ("post", "/banks/{bank}/households"), ("post", "/banks/{bank}/residents"),
    ("get", "/banks/{bank}/residents"), ("post", "/banks/{bank}/deeds"),
    ("get", "/banks/{bank}/pending"), ("post", "/banks/{bank}/pending/{pending_id}/approve"),
    ("post", "/banks/{bank}/pending/{pending_id}/reject"),
    ("post", "/banks/{bank}/transfers/{transfer_id}/reverse"),
    ("get", "/banks/{bank}/residents/{resident_id}/account"),
    ("get", "/banks/{bank}/residents/{resident_id}/transfers"), ("get", "/banks/{bank}/verify"),
    ("get", "/banks/{bank}/notices/{month}"), ("get", "/banks/{bank}/notices/{month}.pdf"),
    ("get", "/banks/{bank}/rules"), ("post", "/banks/{bank}/residents/{resident_id}/card"),
    ("post", "/banks/{bank}/catalog"), ("post", "/banks/{bank}/catalog/{sku}/stock"),
    ("post", "/banks/{bank}/redemption-windows"), ("get", "/banks/{bank}/catalog"),
    ("post", "/banks/{bank}/redemptions"), ("get", "/health"),
]


@pytest.fixture(scope="module")
def api():
    """The app, only to read its URL map and its document: no database is touched."""
    from zongzhi.app import create_app

    return create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture(scope="module")
def document(api):
    return api.test_client().get("/api/v1/openapi.json").get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], item.get("parameters", [])


def test_the_document_is_valid_openapi(document):
    validate(document)


@pytest.mark.parametrize("python, ecma", [
    (r"^\+?[0-9][0-9-]{4,19}\Z", r"^\+?[0-9][0-9-]{4,19}$"), (r"\Aab\Z", "^ab$"),
    (r"a\\Z", r"a\\Z"), (r"^[0-9]{4}-[0-9]{2}$", r"^[0-9]{4}-[0-9]{2}$")])
def test_a_pattern_in_pythons_dialect_is_said_in_the_documents(python, ecma):
    from zongzhi.openapi import ecma_pattern

    assert ecma_pattern(python) == ecma
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
                "components": {"schemas": {"X": {"type": "string", "pattern": ecma}}}}
    validate(document)


def test_every_path_parameter_is_declared_once_from_its_converter(document):
    for path, method, operation, shared in operations(document):
        named = set(re.findall(r"{([^}]+)}", path))
        declared = [p["name"] for p in shared if p["in"] == "path"]
        assert sorted(declared) == sorted(named), (method, path)
        assert not [p for p in operation.get("parameters", []) if p.get("in") == "path"], (
            f"{method} {path} declares a path parameter by hand")


def test_path_parameters_carry_their_bounds(document):
    shared = {path: {p["name"]: p["schema"] for p in item.get("parameters", [])}
              for path, item in document["paths"].items()}
    transfer = shared["/api/v1/banks/{bank}/transfers/{transfer_id}"]
    assert transfer["bank"] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert transfer["transfer_id"] == {"type": "integer", "minimum": 1, "maximum": bounds.MAX_ID}
    assert shared["/api/v1/banks/{bank}/notices/{month}"]["month"]["pattern"]
    quarter = shared["/api/v1/banks/{bank}/foundation/reports/{year}-Q{quarter}"]
    assert quarter["year"] == {"type": "integer", "minimum": bounds.YEAR_MIN,
                               "maximum": bounds.YEAR_MAX}
    assert quarter["quarter"]["maximum"] == 4
    move = shared["/api/v1/banks/{bank}/foundation/wishes/{wish_id}/{action}"]
    assert move["action"] == {"type": "string", "enum": ["reject", "verify"]}


def test_every_api_route_is_described_with_its_methods(api, document):
    described = {(m, p) for p, m, _, _ in operations(document)}
    for rule in api.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "openapi.document":
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method.lower(), path) in described


def test_every_endpoint_the_api_promises_is_described(document):
    for method, path in PROMISED:
        assert method in document["paths"].get(f"/api/v1{path}", {}), (method, path)


#: The pages outside /api/v1 that API.md names for programs too: the resident's side of a card
#: (no sign-in) and the grid worker's phone app.
PROMISED_PAGES = [
    ("get", "/c/{token}"), ("get", "/c/{token}/activities"),
    ("post", "/c/{token}/activities/{activity_id}/signup"), ("get", "/c/{token}/reports"),
    ("post", "/c/{token}/reports"), ("get", "/m/"), ("post", "/m/token"),
]


def test_the_card_pages_and_the_phone_app_api_md_names_are_described_as_public(document):
    for method, path in PROMISED_PAGES:
        operation = document["paths"].get(path, {}).get(method)
        assert operation is not None, (method, path)
        assert operation["security"] == [], (method, path)
        assert "401" not in operation["responses"] or path == "/m/token", (method, path)  # a wrong password
    report = document["paths"]["/c/{token}/reports"]["post"]
    form = report["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["rule", "occurred_on", "memo"] and form["properties"]["photos"]["maxItems"] == 4
    assert report["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"}
    assert "text/html" in document["paths"]["/c/{token}"]["get"]["responses"]["404"]["content"]


def test_every_operation_documents_its_refusals_with_the_error_body(document):
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, method, operation, shared in operations(document):
        if not path.startswith("/api/"):
            continue  # a page lists its own refusals, as pages (above)
        responses = operation["responses"]
        assert all(r.get("description") for r in responses.values()), (method, path)
        if operation.get("security") != []:
            assert {"401", "403"} <= set(responses), (method, path)
        if shared:
            assert responses["404"]["content"]["application/json"]["schema"] == error
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, (method, path)
            assert {"400", "413", "422"} <= set(responses), (method, path)


def test_retried_writes_name_the_bounded_idempotency_key(document):
    key = document["components"]["parameters"]["IdempotencyKey"]
    assert key["in"] == "header" and key["schema"]["maxLength"] == 200
    deed = document["paths"]["/api/v1/banks/{bank}/deeds"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in deed["parameters"]
    assert "409" in deed["responses"]
    for path, method, operation, _ in operations(document):
        assert not [p for p in operation.get("parameters", []) if p.get("name") == "Idempotency-Key"], (
            f"{method} {path} declares the key by hand")


@pytest.mark.parametrize("call, parameters", [
    ("idempotency()", ["IdempotencyKey"]), ("page_args()", ["limit", "cursor"])])
def test_every_view_that_reads_a_shared_parameter_declares_it(api, document, call, parameters):
    import inspect

    from zongzhi.openapi import FlaskPlugin

    for rule in api.url_map.iter_rules():
        view = api.view_functions[rule.endpoint]
        if rule.rule.startswith("/api/v1/") and call in inspect.getsource(view):
            item = document["paths"][FlaskPlugin.flaskpath2openapi(rule.rule)]
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                declared = item[method.lower()].get("parameters", [])
                for name in parameters:
                    assert {"$ref": f"#/components/parameters/{name}"} in declared, (rule.rule, name)


def test_only_the_health_check_open_data_and_the_card_and_phone_pages_need_no_token(document):
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    public = {(m, p) for p, m, op, _ in operations(document) if op.get("security") == []}
    assert public == {("get", "/api/v1/health"), ("get", "/api/v1/banks/{bank}/open-data/{year}.zip"),
                      ("get", "/c/{address}"), ("post", "/c/{address}"),   # no card there
                      ("post", "/c/{token}/activities/{activity_id}/withdraw"), *PROMISED_PAGES}
    assert "401" not in document["paths"]["/api/v1/health"]["get"]["responses"]


def test_paginated_lists_bound_their_page_size(document):
    limit = document["components"]["parameters"]["limit"]
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 500
    residents = document["paths"]["/api/v1/banks/{bank}/residents"]["get"]
    refs = {p.get("$ref") for p in residents["parameters"]}
    assert {"#/components/parameters/limit", "#/components/parameters/cursor"} <= refs


def test_the_health_check_answers_503_naming_the_database_when_it_cannot_be_reached():
    import socket

    from zongzhi.app import create_app

    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    app = create_app({"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/county", "SECRET_KEY": "t"})
    answer = app.test_client().get("/api/v1/health")
    assert (answer.status_code, answer.get_json()) == (503, {"status": "unavailable", "database": "unreachable"})
