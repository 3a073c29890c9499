"""Bounds everywhere: every number and text from outside is refused past its bound, by name,
before anything is written (API.md "Bounds, everywhere"), on SQLite and on PostgreSQL.

The first half walks every request schema, so a field added tomorrow without a bound fails here;
the second half sends the bad values over HTTP and counts every table's rows before and after.
"""
from __future__ import annotations

import base64
import importlib
import io
import json

import pytest
from marshmallow import Schema, fields
from sqlalchemy import func, select

from rules import bounds
from rules.schemas import SafeText, StrictInteger
from web.api import JSON_DEPTH_MAX, json_depth
from zongzhi.tables import metadata

SCHEMA_MODULES = ("ledger.schemas", "redemption.schemas", "foundation.schemas", "cards.schemas",
                  "reports.schemas")
HUGE = 2**70
BAD_TEXTS = {"nul": "a\x00b", "control": "a\x01b", "lone surrogate": "a\ud800b",
             "line separator": "a\u2028b", "right-to-left override": "a\u202eb", "isolate": "a\u2067b",
             "too long": "长" * 5001}


def _request_schemas() -> list[type[Schema]]:
    found = {}
    for name in SCHEMA_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Schema) and value.__name__.endswith("In"):
                found[value.__name__] = value
    return [found[k] for k in sorted(found)]


def _leaves(schema: Schema, path=()):
    """Yield (path, field) for every value field of a schema, inside lists and nested schemas."""
    for name, field in schema.fields.items():
        yield from _leaf(field, path + (field.data_key or name,))


def _leaf(field, path):
    if isinstance(field, fields.List):
        yield from _leaf(field.inner, path + (0,))
    elif isinstance(field, fields.Nested):
        yield from _leaves(field.schema, path)
    else:
        yield path, field


def _body(path, value):
    """The smallest body that holds `value` at `path` ("items", 0, "quantity" → {"items": [{...}]})."""
    for step in reversed(path):
        value = [value] if step == 0 else {step: value}
    return value


def _named(errors, path) -> bool:
    """Whether marshmallow's errors name the field at `path` (lists are keyed by index)."""
    for step in path:
        if not isinstance(errors, dict) or step not in errors:
            return False
        errors = errors[step]
    return True


def _lists(schema: Schema, path=()):
    """Yield (path, field) for every list of a schema, inside nested schemas too."""
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(field, fields.List):
            yield path + (name,), field
        if isinstance(inner, fields.Nested):
            yield from _lists(inner.schema, path + (name,))


SCHEMAS = _request_schemas()
INTEGERS = [(s, p) for s in SCHEMAS for p, f in _leaves(s()) if isinstance(f, fields.Integer)]
TEXTS = [(s, p, f) for s in SCHEMAS for p, f in _leaves(s()) if isinstance(f, SafeText)]


def test_every_request_schema_is_walked():
    names = {s.__name__ for s in SCHEMAS}
    assert {"DeedIn", "CatalogIn", "StockIn", "RedemptionIn", "FundReceiptIn", "ApplicantIn",
            "WishIn", "ObjectionIn", "CardSheetIn", "UpholdIn"} <= names
    assert len(INTEGERS) > 30 and len(TEXTS) > 30


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_every_number_and_text_field_of_a_request_schema_has_a_bound(schema):
    """An integer is a bounded StrictInteger; text is SafeText, or a closed choice or pattern."""
    for path, field in _leaves(schema()):
        where = f"{schema.__name__}.{'.'.join(map(str, path))}"
        if isinstance(field, fields.Integer):
            assert isinstance(field, StrictInteger), where
            assert -bounds.MAX_WHOLE <= field.bounds[0] <= field.bounds[1] <= bounds.MAX_WHOLE, where
        elif isinstance(field, fields.String) and not isinstance(field, SafeText):
            kinds = {type(v).__name__ for v in field.validators}
            assert kinds & {"OneOf", "Regexp"}, f"{where} is free text without SafeText"
            for v in field.validators:
                if type(v).__name__ == "Regexp":
                    assert v.regex.pattern.endswith("\\Z") or v.regex.pattern.endswith("$") and \
                        not v.regex.match("a\n"), where


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_every_list_of_a_request_schema_has_a_most(schema):
    for path, field in _lists(schema()):
        most = [v.max for v in field.validators if type(v).__name__ == "Length"]
        assert most and most[0] is not None and most[0] <= 5000, f"{schema.__name__}.{'.'.join(path)}"


@pytest.mark.parametrize("schema,path", INTEGERS,
                         ids=[f"{s.__name__}.{'.'.join(map(str, p))}" for s, p in INTEGERS])
def test_an_integer_beyond_2_to_the_53_is_refused_by_name_in_every_field(schema, path):
    errors = schema().validate(_body(path, HUGE))
    assert _named(errors, path), errors
    errors = schema().validate(_body(path, -HUGE))
    assert _named(errors, path), errors


@pytest.mark.parametrize("kind", sorted(BAD_TEXTS))
@pytest.mark.parametrize("schema,path,field", TEXTS,
                         ids=[f"{s.__name__}.{'.'.join(map(str, p))}" for s, p, _f in TEXTS])
def test_unsafe_or_over_long_text_is_refused_by_name_in_every_text_field(schema, path, field, kind):
    value = BAD_TEXTS[kind]
    if kind == "too long":
        value = "长" * (field.max_len + 1)
    errors = schema().validate(_body(path, value))
    assert _named(errors, path), errors


@pytest.mark.parametrize("schema,path,field", [t for t in TEXTS if not t[2].allow_blank],
                         ids=[f"{s.__name__}.{'.'.join(map(str, p))}" for s, p, f in TEXTS if not f.allow_blank])
def test_text_that_prints_as_nothing_is_refused_as_blank_where_blank_is(schema, path, field):
    # Zero-width spaces and a byte-order mark among spaces: a code or a name no one could read.
    errors = schema().validate(_body(path, "\u200b\ufeff \u2060"))
    assert _named(errors, path), errors


@pytest.mark.parametrize("schema,path,field", [t for t in TEXTS if t[2].multiline],
                         ids=[f"{s.__name__}.{'.'.join(map(str, p))}" for s, p, f in TEXTS if f.multiline])
def test_a_memo_may_run_over_lines_typed_in_a_browser(schema, path, field):
    errors = schema().validate(_body(path, "第一行\r\n第二行\n第三行"))
    assert not _named(errors, path), errors


def test_the_tight_bounds_of_api_md_hold():
    from foundation.schemas import BudgetLineIn, WishIn
    from ledger.schemas import DeedIn
    from redemption.schemas import CatalogIn, FundReceiptIn, StockIn

    assert "quantity" in DeedIn().validate({"quantity": bounds.QUANTITY_MAX + 1})
    assert "quantity" not in DeedIn().validate({"quantity": bounds.QUANTITY_MAX})
    assert "quantity" in StockIn().validate({"quantity": 10**18})
    assert "points" in CatalogIn().validate({"points": bounds.CATALOG_POINTS_MAX + 1})
    assert "points" not in CatalogIn().validate({"points": bounds.CATALOG_POINTS_MAX})
    assert "cost_fen" in CatalogIn().validate({"cost_fen": bounds.FEN_MAX + 1})
    assert "cost_fen" not in CatalogIn().validate({"cost_fen": bounds.FEN_MAX})
    assert "amount_fen" in FundReceiptIn().validate({"amount_fen": bounds.FEN_MAX + 1})
    assert "amount" in BudgetLineIn().validate({"amount": bounds.FEN_MAX + 1})
    assert "estimated_value" in WishIn().validate({"estimated_value": bounds.FEN_MAX + 1})


# --- JSON depth, counted without recursing --------------------------------------------------------

@pytest.mark.parametrize("raw,depth", [
    (b"", 0), (b"null", 0), (b"[]", 1), (b'{"a": [1, {"b": 2}]}', 3),
    (b'{"a": "[[[[{{{{"}', 1),                  # brackets inside a string do not nest
    (b'{"a": "say \\"[[[\\" twice"}', 1),        # nor after an escaped quote
    (b'["back\\\\", [[]]]', 3),                  # an escaped backslash ends before the quote
    (b"[" * 100_000, 100_000),
])
def test_json_depth_counts_only_the_brackets_outside_strings(raw, depth):
    assert json_depth(raw) == depth


# --- over HTTP, on both databases -------------------------------------------------------------------

def _rows(session) -> dict[str, int]:
    session.rollback()  # see what the requests committed
    return {t.name: session.execute(select(func.count()).select_from(t)).scalar()
            for t in metadata.sorted_tables}


@pytest.fixture
def world(make, session, clock):
    """A bank with residents, a posted deed, a catalog item and money in the fund; and bank B."""
    from redemption.services import catalog

    bank = make.bank()
    other = make.bank("xz", "小庄村综治银行")
    wang, li = make.resident(bank, "王大"), make.resident(bank, "李四")
    stranger = make.resident(other, "外村人")
    deed = make.deed(bank, "cleanup", [wang]).transfers[0]
    catalog.create_item(session, bank, sku="rice", name="大米", points=3, cost_fen=2500,
                     limit_per_window=None, by="test", clock=clock)
    return {"bank": bank, "wang": wang, "li": li, "stranger": stranger, "deed": deed,
            "clerk": make.token(bank, "clerk"), "desk": make.token(bank, "desk")}


def _post(client, world, path, body, role="clerk", method="POST"):
    # json.dumps escapes a lone surrogate as \ud800, as a hostile client would send it.
    return client.open(f"/api/v1/banks/hp{path}", method=method, data=json.dumps(body),
                       content_type="application/json", headers=world[role])


def _deed(**change):
    return {"rule": "cleanup", "residents": ["wang"], "occurred_on": "2026-10-14", **change}


#: (path, body, the field named). "wang" and "deed" in a body stand for the world's ids.
BAD_BODIES = [
    ("/deeds", _deed(quantity=1_800_000_000_000_000_000), "quantity"),
    ("/deeds", _deed(quantity=bounds.QUANTITY_MAX + 1), "quantity"),
    ("/deeds", _deed(residents=[390609208842169548820971520]), "residents"),
    ("/deeds", _deed(residents=["wang", HUGE]), "residents"),
    ("/deeds", _deed(memo="夜巡\x00"), "memo"),
    ("/deeds", _deed(memo="夜巡\x01"), "memo"),
    ("/deeds", _deed(memo="夜巡\ud800"), "memo"),
    ("/deeds", _deed(memo="长" * 501), "memo"),
    ("/deeds", _deed(rule="cleanup\x00"), "rule"),
    ("/households", {"code": "E9\ud800"}, "code"),
    ("/households", {"code": "E9", "name": "王\x00家"}, "name"),
    ("/residents", {"name": "王五", "household": "E9\x00"}, "household"),
    ("/residents", {"name": "王五\ud800", "household": "H001"}, "name"),
    ("/catalog", {"sku": "oil", "name": "油", "points": bounds.CATALOG_POINTS_MAX + 1, "cost_fen": 1}, "points"),
    ("/catalog", {"sku": "oil", "name": "油", "points": 3, "cost_fen": bounds.FEN_MAX + 1}, "cost_fen"),
    ("/catalog", {"sku": "oil\n", "name": "油", "points": 3, "cost_fen": 1}, "sku"),
    ("/catalog", {"sku": "oil", "name": "油\ud800", "points": 3, "cost_fen": 1}, "name"),
    ("/catalog", {"sku": "oil", "name": "油", "points": 3, "cost_fen": 1, "limit_per_window": HUGE},
     "limit_per_window"),
    ("/catalog/rice/stock", {"quantity": 10**18, "source": "purchase"}, "quantity"),
    ("/catalog/rice/stock", {"quantity": 1, "source": "donation", "donor": "张\x00"}, "donor"),
    ("/catalog/rice/stock", {"quantity": 1, "source": "purchase", "cost_fen": HUGE}, "cost_fen"),
    ("/redemptions", {"resident": HUGE, "items": [{"sku": "rice"}]}, "resident"),
    ("/redemptions", {"resident": "wang", "items": [{"sku": "rice", "quantity": 10**18}]}, "items"),
    ("/redemptions", {"resident": "wang", "items": [{"sku": "rice\x00"}]}, "items"),
    ("/fund/receipts", {"source": "town", "received_on": "2026-10-14", "amount_fen": bounds.FEN_MAX + 1},
     "amount_fen"),
    ("/fund/receipts", {"source": "town", "received_on": "2026-10-14", "amount_fen": 100,
                        "memo": "拨款\x01"}, "memo"),
    ("/foundation/applicants", {"kind": "group", "name": "志愿队", "members": [HUGE]}, "members"),
    ("/foundation/applicants", {"kind": "group", "name": "志愿队\x00", "members": ["wang"]}, "name"),
    ("/foundation/wishes", {"resident": HUGE, "title": "轮椅", "description": "需要"}, "resident"),
    ("/foundation/wishes", {"resident": "wang", "title": "轮椅", "description": "需要\ud800"},
     "description"),
    ("/foundation/wishes", {"resident": "wang", "title": "轮椅", "description": "需要",
                            "estimated_value": bounds.FEN_MAX + 1}, "estimated_value"),
    ("/foundation/applications", {"applicant": HUGE}, "applicant"),
    ("/objections", {"resident": HUGE, "transfer": "deed", "text": "不对"}, "resident"),
    ("/objections", {"resident": "wang", "transfer": HUGE, "text": "不对"}, "transfer"),
    ("/objections", {"resident": "wang", "transfer": "deed", "text": "不对\x00"}, "text"),
    ("/card-sheets", {"residents": [HUGE]}, "residents"),
    ("/card-sheets", {"households": ["E1\x00"]}, "households"),
    ("/transfers/deed/reverse", {"reason": "错登\x01"}, "reason"),
    ("/transfers/deed/reverse", {"reason": "错登\ud800"}, "reason"),
]


def _fill(value, world):
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return {"wang": world["wang"].id, "deed": world["deed"].id}.get(value, value) \
        if isinstance(value, str) else value


def test_a_number_or_text_beyond_its_bound_is_refused_by_name_and_writes_nothing(client, session, world):
    """Every body of the table in one test (one bank to set up, not forty): each answers 422
    naming its field, and no table has one row more afterwards."""
    before = _rows(session)
    wrong = []
    for path, body, field in BAD_BODIES:
        path = path.replace("/deed/", f"/{world['deed'].id}/")
        answer = _post(client, world, path, _fill(body, world),
                       role="desk" if path == "/redemptions" else "clerk")
        if answer.status_code != 422 or field not in (answer.get_json() or {}).get("fields", {}):
            wrong.append((path, body, field, answer.status_code, answer.get_data(as_text=True)[:300]))
    assert not wrong, "\n".join(map(repr, wrong))
    assert _rows(session) == before


def test_a_quantity_of_10_to_the_18_twice_leaves_the_bank_whole(client, session, world):
    """Issue 10, seen 1: sent twice it answered 201 twice and broke the bank for ever."""
    for _ in range(2):
        answer = _post(client, world, "/deeds", _deed(rule="litter", residents=[world["wang"].id],
                                                      quantity=1_800_000_000_000_000_000))
        assert answer.status_code == 422 and "quantity" in answer.get_json()["fields"]
    account = client.get(f"/api/v1/banks/hp/residents/{world['wang'].id}/account", headers=world["clerk"])
    assert account.status_code == 200 and account.get_json()["balance"] == 3


def test_a_patch_of_a_catalog_item_beyond_its_bounds_changes_nothing(client, session, world):
    before = _rows(session)
    for change, field in (({"points": HUGE}, "points"), ({"cost_fen": -1}, "cost_fen"),
                          ({"name": "米\x00"}, "name")):
        answer = _post(client, world, "/catalog/rice", change, method="PATCH")
        assert answer.status_code == 422 and field in answer.get_json()["fields"], change
    assert _rows(session) == before
    assert client.get("/api/v1/banks/hp/catalog", headers=world["clerk"]).get_json()["items"][0]["points"] == 3


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_QUERIES = [
    ("q=%00", "q"), ("q=%01", "q"), ("q=" + "长" * 101, "q"),
    (f"cursor={_cursor(str(HUGE))}", "cursor"), (f"cursor={_cursor(str(bounds.MAX_WHOLE + 1))}", "cursor"),
    (f"cursor={_cursor('²')}", "cursor"), (f"cursor={_cursor('-1')}", "cursor"),
    ("cursor=!!!!", "cursor"), ("cursor=" + "A" * 1000, "cursor"), ("cursor=%C3%A9", "cursor"),
    ("limit=%C2%B2", "limit"), ("limit=99999999999999999999999", "limit"), ("limit=0", "limit"),
]
PAGED = ["/residents", "/residents/wang/transfers", "/pending", "/catalog", "/objections",
         "/foundation/applications", "/foundation/wishes"]


def test_a_query_parameter_beyond_its_bound_is_refused_by_name(client, world):
    """?q= with a NUL answered 500 on PostgreSQL; a cursor past 2^53 − 1 reached the database."""
    wrong = []
    for path in PAGED:
        path = path.replace("wang", str(world["wang"].id))
        for query, field in BAD_QUERIES if path == "/residents" else BAD_QUERIES[3:]:
            answer = client.get(f"/api/v1/banks/hp{path}?{query}", headers=world["clerk"])
            if answer.status_code != 422 or field not in answer.get_json()["fields"]:
                wrong.append((path, query, answer.status_code, answer.get_data(as_text=True)[:200]))
    answer = client.get("/api/v1/banks/hp/objections?month=2026-10%00", headers=world["clerk"])
    assert answer.status_code == 422 and "month" in answer.get_json()["fields"]
    assert not wrong, "\n".join(map(repr, wrong))


def test_a_cursor_the_server_wrote_still_pages(client, world):
    first = client.get("/api/v1/banks/hp/residents?limit=1", headers=world["clerk"]).get_json()
    second = client.get(f"/api/v1/banks/hp/residents?limit=1&cursor={first['next_cursor']}",
                        headers=world["clerk"]).get_json()
    assert [r["name"] for r in first["items"] + second["items"]] == ["王大", "李四"]


def test_json_nested_too_deep_is_refused_cleanly_and_writes_nothing(client, session, world):
    """100,000 deep answered 500 (RecursionError in json.loads)."""
    before = _rows(session)
    for raw in (b"[" * 100_000, b'{"a":' * 100_000, b"[" * (JSON_DEPTH_MAX + 1)):
        answer = client.post("/api/v1/banks/hp/deeds", data=raw, content_type="application/json",
                             headers=world["clerk"])
        assert answer.status_code == 400 and answer.get_json()["error"] == "malformed_json"
    assert _rows(session) == before


def test_json_nested_to_the_limit_still_reaches_the_schema(client, world):
    deep = "[" * (JSON_DEPTH_MAX - 1) + "]" * (JSON_DEPTH_MAX - 1)
    raw = f'{{"rule": "cleanup", "residents": [{world["wang"].id}], "occurred_on": "2026-10-14", "memo": {deep}}}'
    answer = client.post("/api/v1/banks/hp/deeds", data=raw, content_type="application/json",
                         headers=world["clerk"])
    assert answer.status_code == 422 and "memo" in answer.get_json()["fields"]


def test_a_lone_surrogate_with_an_idempotency_key_is_refused_by_name(client, session, world):
    before = _rows(session)
    answer = client.post("/api/v1/banks/hp/deeds", data=json.dumps(_fill(_deed(memo="\udc00"), world)),
                         content_type="application/json",
                         headers={**world["clerk"], "Idempotency-Key": "k-1"})
    assert answer.status_code == 422 and "memo" in answer.get_json()["fields"]
    assert _rows(session) == before


def test_a_lone_surrogate_in_a_body_a_view_does_not_read_is_no_500(client, world, make):
    """Approving takes no body: one sent is refused, naming what it holds, never a 500."""
    answer = client.post("/api/v1/banks/hp/pending/1/approve", data='{"note": "\\ud800"}',
                         content_type="application/json",
                         headers={**make.token(world["bank"], "reviewer"), "Idempotency-Key": "k-2"})
    assert (answer.status_code, list(answer.get_json()["fields"])) == (422, ["note"])


def test_the_services_screens_share_refuse_unsafe_text_by_name_and_write_nothing(session, world, clock):
    """The card page's objections and the office's reasons reach these services without a schema."""
    from ledger import people
    from ground.errors import ValidationError
    from reports.objections import file_objection

    bank, wang = world["bank"], world["wang"]
    before = _rows(session)
    calls = [
        ("text", lambda: file_objection(session, bank, resident_id=wang.id, transfer_id=world["deed"].id,
                                        month=None, text="不对\x01", filed_by="card:1", clock=clock)),
        ("reason", lambda: people.set_resident_active(session, bank, wang.id, False, reason="迁出\x00",
                                                      by="t", clock=clock)),
        ("reason", lambda: people.move_resident(session, bank, wang.id, household="H002",
                                                reason="搬\u2028家", by="t", clock=clock)),
        ("code", lambda: people.create_household(session, bank, code="E\ud800", name=None, clock=clock)),
        ("name", lambda: people.update_household(session, bank, wang.household_id, name="王\x1b家",
                                                 active=True, by="t", clock=clock)),
    ]
    for field, call in calls:
        with pytest.raises(ValidationError) as refused:
            call()
        assert field in refused.value.fields
    assert people.find_household(session, bank, "H001\x00") is None
    assert _rows(session) == before


def test_a_body_of_many_unknown_names_is_refused_at_once_and_small(client, session, world):
    import time

    many = {"rule": "cleanup", **{f"x{n}": 1 for n in range(20_000)}}
    began = time.perf_counter()
    answer = client.post("/api/v1/banks/hp/deeds", json=many, headers=world["clerk"])
    assert (answer.status_code, answer.get_json()["fields"]) == (422, {"_schema": ["一个对象最多 100 个字段"]})
    assert time.perf_counter() - began < 5       # a guard against seconds of work, not a benchmark
    # Within the names an object may have, each list of reasons is cut short, saying how many more.
    items = [{"sku": "rice", "quantity": 1, **{f"x{n}": 1 for n in range(90)}} for _ in range(5)]
    said = client.post("/api/v1/banks/hp/redemptions", json={"resident": 1, "items": items},
                       headers=world["desk"]).get_json()["fields"]
    assert len(said["items"]) == 21 and said["items"][-1] == "另有 430 个问题未列出"
    assert len(said) <= 50 and len(json.dumps(said, ensure_ascii=False)) < 10_000


def test_a_form_of_too_many_parts_is_413_without_being_called_a_big_file(client, world):
    parts = {**{f"f{n}": "x" * 60 for n in range(20_000)}, "file": (io.BytesIO(b"\xff\xd8"), "a.jpg")}
    answer = client.post("/api/v1/banks/hp/photos", data=parts, headers=world["clerk"])
    assert answer.status_code == 413 and "8 MB" not in answer.get_json()["message"]
