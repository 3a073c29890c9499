"""Schemathesis against the API, on each database: nothing a client sends breaks the server.

Every operation of /api/v1/openapi.json goes through schemathesis's three phases (the document's
examples, coverage of each parameter's bounds and edges, then fuzzing) against the real app and
database, in a village with people, points, goods and a deed waiting for review. Each request
carries the token of one of the five roles in turn, so every role meets every operation. The
answer must never be a 5xx, its status must be one the document lists, and its content type and
body must match the document's for that status. Seeded and derandomized: CI sees the same cases
each run.

The engine runs in the test, rather than schemathesis's pytest plugin: the plugin's schema from
a fixture (needed here, the app being per database) fails under pytest 9 (`Function._nodeid`).
"""
from __future__ import annotations

import itertools
import os

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from ..conftest import RULES
from ..foundation.conftest import FOUNDATION_RULES
from ..redemption.conftest import DESK_RULES

pytestmark = pytest.mark.slow

ROLES = ("clerk", "reviewer", "desk", "supervisor", "admin")
#: The desk's rules (the October window open today) with the foundation's section.
VILLAGE_RULES = DESK_RULES + FOUNDATION_RULES[len(RULES):]
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")
#: Fuzzed cases per operation, after its examples and coverage cases: enough to find what a
#: minute of an outsider's fuzzing found, few enough for the suite's time on two cores. A deeper
#: run for a person: ZONGZHI_FUZZ_EXAMPLES=200 ZONGZHI_FUZZ_SEED=7 pytest tests/web/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("ZONGZHI_FUZZ_EXAMPLES", 6))
SEED = int(os.environ.get("ZONGZHI_FUZZ_SEED", 20261015))


@pytest.fixture
def village(app, make, session, clock):
    """A bank with households, residents, points, money, goods in stock, a pending deed, and a
    micro-project application and a wish of its foundation."""
    from redemption.services import catalog, fund

    bank = make.bank(rules=VILLAGE_RULES)
    make.bank(code="other", name="别村")
    east = make.household(bank, "E01", "王家")
    wang, wang2 = make.resident(bank, "王大", east), make.resident(bank, "王二", east)
    li = make.resident(bank, "李四")
    posted = make.deed(bank, "cleanup", [wang, li], quantity=5, memo="清理河道")
    make.deed(bank, "litter", [wang2])
    pending = make.deed(bank, "mediation", [li])
    fund.record_receipt(session, bank, source="town", donor=None, received_on=clock.today(),
                        amount_fen=100_000, restriction=None, memo=None, by="test", clock=clock)
    catalog.create_item(session, bank, sku="rice", name="大米 5kg", points=3, cost_fen=2500,
                     limit_per_window=None, by="test", clock=clock)
    catalog.stock_in(session, bank, "rice", quantity=10, source="purchase", cost_fen=None,
                  donor=None, by="test", clock=clock)
    tokens = {role: make.token(None if role == "admin" else bank, role) for role in ROLES}
    api, clerk = app.test_client(), tokens["clerk"]

    def created(response):
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    foundation = f"/api/v1/banks/{bank.code}/foundation"
    applicant = created(api.post(f"{foundation}/applicants", headers=clerk, json={
        "kind": "group", "name": "河道志愿队", "members": [wang.id, li.id]}))
    application = created(api.post(f"{foundation}/applications", headers=clerk, json={
        "applicant": applicant["id"], "title": "修缮凉亭", "purpose": "村口凉亭漏雨",
        "budget": [{"item": "瓦片", "amount": 30_000}], "amount_requested": 30_000,
        "starts_on": "2026-11-01", "ends_on": "2026-12-31"}))
    wish = created(api.post(f"{foundation}/wishes", headers=clerk, json={
        "resident": wang2.id, "title": "一副老花镜", "description": "看报用"}))
    return {"bank": bank.code, "residents": [wang.id, wang2.id, li.id],
            "households": [east.code], "transfers": [t.id for t in posted.transfers],
            "pending": [p.id for p in pending.pending], "skus": ["rice"],
            "rules": ["patrol", "cleanup", "mediation", "litter"],
            "applicants": [applicant["id"]], "applications": [application["id"]],
            "wishes": [wish["id"]], "tokens": tokens}


@pytest.fixture
def api_schema(app, village):
    """The app's own document, with the village's codes and ids offered to the generator."""
    dictionaries = {name: village[name] for name in (
        "residents", "households", "transfers", "pending", "skus", "rules", "applicants",
        "applications", "wishes")}
    dictionaries.update(banks=[village["bank"]], months=["2026-10", "2026-09"],
                        days=["2026-10-15", "2026-10-01"])
    bound = {"path.bank": ("banks", 0.9), "path.resident_id": ("residents", 0.6),
             "path.code": ("households", 0.6), "path.transfer_id": ("transfers", 0.6),
             "path.pending_id": ("pending", 0.6), "path.sku": ("skus", 0.6),
             "path.application_id": ("applications", 0.6), "path.wish_id": ("wishes", 0.6),
             "path.month": ("months", 0.5), "path.day": ("days", 0.5),
             "body.rule": ("rules", 0.7), "body.residents[*]": ("residents", 0.7),
             "body.resident": ("residents", 0.6), "body.household": ("households", 0.5),
             "body.members[*]": ("residents", 0.6), "body.applicant": ("applicants", 0.6),
             "body.items[*].sku": ("skus", 0.6), "body.occurred_on": ("days", 0.5)}
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "workers": 1,
        # No state kept between runs (it would replay last run's failures first): same run each time.
        "cache": {"enabled": False},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none",
                       "with-security-parameters": False},
        "phases": {"examples": {"enabled": True},
                   # Other methods than the document's answer 405: the router's, not the API's.
                   "coverage": {"enabled": True, "unexpected-methods": []},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
        "parameters": {key: {"dictionary": name, "probability": p}
                       for key, (name, p) in bound.items()},
    })
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    turns = itertools.cycle(ROLES)

    class EachRoleInTurn:
        """The next role's token for each request, so every role meets every operation."""

        def get(self, case, ctx):
            return village["tokens"][next(turns)]

        def set(self, case, headers, ctx):
            case.headers = {**(case.headers or {}), **headers}

    schema.auth(refresh_interval=None)(EachRoleInTurn)
    return schema


def failures(schema) -> tuple[list[str], set[str]]:
    """Run schemathesis's engine over the schema: each failing request, told plainly, and the
    operations it tried."""
    found, operations = {}, set()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            found[repr(event.value)] = {f"{event.label}: error"}
        if not isinstance(event, events.ScenarioFinished):
            continue
        operations.add(event.label)
        recorder = event.recorder
        for case_id, checks in recorder.checks.items():
            failed = {c.failure_info.failure.title for c in checks if c.status == Status.FAILURE}
            if not failed:
                continue
            interaction = recorder.interactions[case_id]
            request, response = interaction.request, interaction.response
            body = (request.body or b"")[:200]
            answer = f"{response.status_code} {response.content[:200]!r}" if response else "no answer"
            found.setdefault(f"{request.method} {request.uri} {body!r} -> {answer}", set()).update(failed)
    return [f"{', '.join(sorted(why))}: {what}" for what, why in sorted(found.items())], operations


def test_nothing_a_client_sends_breaks_the_api(api_schema):
    found, operations = failures(api_schema)
    described = {f"{method.upper()} {path}" for path, item in api_schema.raw_schema["paths"].items()
                 for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert described <= operations
    assert not found, f"{len(found)} failures:\n" + "\n".join(found)


def test_a_path_id_beyond_what_an_id_column_holds_is_404_not_500(client, make):
    """Found by the fuzzing above on PostgreSQL, whose id columns are `integer`: 2^31 and more."""
    bank = make.bank()
    headers = make.token(bank, "admin")
    for path in ("residents/{id}", "residents/{id}/account", "transfers/{id}", "redemptions/{id}",
                 "objections/{id}", "foundation/applications/{id}", "foundation/wishes/{id}"):
        for number in (2**31 - 1, 2**31, 2**53 - 2):
            url = f"/api/v1/banks/{bank.code}/{path.format(id=number)}"
            response = client.get(url, headers=headers)
            assert response.status_code == 404, (url, response.get_json())
            assert response.get_json()["error"] == "not_found"
