"""The wall between banks and between roles, checked on every route the app has.

The routes come from app.url_map, so a route another package adds tomorrow is walked too:
as every role of bank A asking for bank B's things (always 404, nothing of B's in the answer,
nothing of B's changed), as A's supervisor writing (nothing changes anywhere), and as nobody
at all (sign in first, unless the route is public by design).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from zongzhi.tables import metadata

from ..conftest import RULES

SECRET = "乙村秘密"
#: Public by design: the resident's card (/c/), the notice a printed QR code opens (/n/), public
#: pages (/p/), sign-in, the phone app's shell and its sign-in (/m/), health, the API document.
#: A new public route must be added here on purpose.
PUBLIC_PREFIXES = ("/c/", "/n/", "/p/", "/static/", "/login", "/m/", "/logout", "/api/v1/health", "/api/v1/openapi.json")
#: Public pages outside those prefixes: a bank's open data, public like its notice.
PUBLIC_ENDPOINTS = ("static", "stats.open_data")
ROLES = ("clerk", "reviewer", "supervisor", "desk")


@pytest.fixture
def app(database_url, clock):
    """The app with CSRF checks off, so every request reaches its view and its bank check."""
    from zongzhi.app import create_app

    app = create_app({"DATABASE_URL": database_url, "CLOCK": clock, "TESTING": True,
                      "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})
    yield app
    app.extensions["zongzhi.engine"].dispose()


@pytest.fixture
def world(make, session, clock):
    """Bank A with a user of every role; bank B with a user, a resident, a deed, a reversal and a pending deed."""
    from web.auth import create_token

    a = make.bank("hp", "甲村综治银行")
    b = make.bank("xz", f"{SECRET}银行", rules=RULES)
    a_people = [make.resident(a, "王大", make.household(a, "E01"))]
    b_home = make.household(b, "SECRETB", f"{SECRET}户")
    b_people = [make.resident(b, f"{SECRET}居民", b_home, phone="13900001111")]
    posted = make.deed(b, "patrol", b_people, quantity=2, memo=f"{SECRET}备注").transfers[0]
    from ledger import reversals

    reversals.reverse_transfer(session, b, posted.id, reason=f"{SECRET}原因", by="test", clock=clock)
    make.deed(b, "mediation", b_people, memo=f"{SECRET}调解")
    make.deed(a, "patrol", a_people, quantity=1)
    users = {role: make.user(a, role, name=f"a-{role}") for role in ROLES}
    make.user(b, "clerk", name="b-clerk")  # so a path's user id can be one of B's users
    tokens = {role: create_token(session, u.name, clock=clock) for role, u in users.items()}
    return {"a": a, "b": b, "users": users, "tokens": tokens}


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _is_public(rule) -> bool:
    return rule.rule.startswith(PUBLIC_PREFIXES) or rule.endpoint in PUBLIC_ENDPOINTS


def _ids_of(session, bank_id: int) -> dict[str, int]:
    """The smallest id of a row of the bank in every table that has bank_id and id."""
    ids = {}
    for table in metadata.sorted_tables:
        if "bank_id" in table.c and "id" in table.c:
            found = session.execute(select(table.c.id).where(table.c.bank_id == bank_id)
                                    .order_by(table.c.id).limit(1)).scalar()
            if found is not None:
                ids[table.name] = found
    return ids


def _value(rule, arg: str, bank_code: str, ids: dict[str, int]):
    converter = rule._converters[arg]
    if arg == "bank":
        return bank_code
    if type(converter).__name__ == "YearConverter":
        return 2026
    if type(converter).__name__ == "DayConverter":
        return "2026-10-15"
    if type(converter).__name__ == "WholeConverter":
        stem = arg.removesuffix("_id")
        for table in (f"{stem}s", stem, *sorted(ids)):
            if table in ids and (table.startswith(stem) or table == f"{stem}s"):
                return ids[table]
        return ids.get("residents", 1)
    if "year" in arg or "period" in arg or "quarter" in arg or "month" in arg:
        return "2026-10"
    return "x"


def _urls(rule, bank_code: str, ids: dict[str, int]) -> list[str]:
    """Every URL of the rule for these ids: one per choice of an any(...) part (approve, reject)."""
    values = {**(rule.defaults or {}),
              **{arg: _value(rule, arg, bank_code, ids) for arg in rule._converters}}
    urls = [values]
    for arg, converter in rule._converters.items():
        if hasattr(converter, "items"):
            urls = [{**v, arg: item} for v in urls for item in sorted(converter.items)]
    return [rule.build(v, append_unknown=False)[1] for v in urls]


def _shows_b(answer) -> bool:
    return SECRET.encode("utf-8") in answer.get_data()


def _ask(client, method, url, *, token=None):
    if url.startswith("/api/"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.open(url, method=method, json={}, headers=headers)
    return client.open(url, method=method, data={})


#: What signing in and using a token note about the user themselves: no one's data changes.
BOOKKEEPING = {"user_sessions": {"*"}, "api_tokens": {"last_used_at"}}


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(*[c for c in t.columns if c.name not in skipped])
                                     .order_by(*t.primary_key.columns)).all()
                for t in metadata.sorted_tables
                if "*" not in (skipped := BOOKKEEPING.get(t.name, set()))}


@pytest.mark.slow
def test_no_role_of_one_bank_reaches_anything_of_another_bank_on_any_route(app, world, session, signed_in):
    b_ids = _ids_of(session, world["b"].id)
    before = _snapshot(app.extensions["zongzhi.engine"])
    leaks = []
    for role in ROLES:
        client, token = signed_in(world["users"][role]), world["tokens"][role]
        for rule, method in _routes(app):
            if _is_public(rule) or rule.endpoint in ("web.logout", "web.login"):
                continue
            if "bank" in rule._converters:
                # Bank B by name: 404, whatever the role and whatever the rest of the path.
                for url in _urls(rule, "xz", b_ids):
                    answer = _ask(client, method, url, token=token)
                    if answer.status_code != 404 or _shows_b(answer):
                        leaks.append(f"{role} {method} {url} -> {answer.status_code}")
                # Bank A by name but B's ids in the rest of the path: nothing of B's comes back.
                if any(a != "bank" for a in rule._converters):
                    for url in _urls(rule, "hp", b_ids):
                        answer = _ask(client, method, url, token=token)
                        if _shows_b(answer) or (answer.status_code < 400 and method != "GET"):
                            leaks.append(f"{role} {method} {url} (B's ids) -> {answer.status_code}")
            elif method == "GET":
                for url in _urls(rule, "hp", b_ids):
                    answer = _ask(client, method, url, token=token)
                    if _shows_b(answer):
                        leaks.append(f"{role} {method} {url} shows bank B -> {answer.status_code}")
    assert leaks == []
    assert _snapshot(app.extensions["zongzhi.engine"]) == before, "a request changed stored data"


def test_a_supervisor_writes_nothing_anywhere(app, world, session, signed_in):
    a_ids = _ids_of(session, world["a"].id)
    client = signed_in(world["users"]["supervisor"])
    before = _snapshot(app.extensions["zongzhi.engine"])
    wrote = []
    for rule, method in _routes(app):
        if method == "GET" or _is_public(rule) or rule.endpoint in ("web.logout", "web.login"):
            continue
        for url in _urls(rule, "hp", a_ids):
            answer = _ask(client, method, url, token=world["tokens"]["supervisor"])
            if answer.status_code < 400:
                wrote.append(f"{method} {url} -> {answer.status_code}")
    assert wrote == []
    assert _snapshot(app.extensions["zongzhi.engine"]) == before


def test_nobody_signed_in_gets_anything_but_the_public_pages(app, world, session):
    a_ids = _ids_of(session, world["a"].id)
    client = app.test_client()
    open_doors = []
    for rule, method in _routes(app):
        if _is_public(rule):
            continue
        for url in _urls(rule, "hp", a_ids):
            answer = _ask(client, method, url)
            refused = answer.status_code == 401 or (
                answer.status_code == 302 and "/login" in answer.headers.get("Location", ""))
            if not refused:
                open_doors.append(f"{method} {url} -> {answer.status_code}")
    assert open_doors == []


def test_a_county_admin_reaches_every_bank(app, world, make, signed_in):
    admin = make.user(None, "admin", name="county")
    client = signed_in(admin)
    assert client.get("/banks/xz/residents").status_code == 200
    assert SECRET in client.get("/admin/banks").get_data(as_text=True)
    clerk = signed_in(world["users"]["clerk"])
    refused = clerk.get("/admin/banks")
    assert refused.status_code == 403
    # A refusal page says what it is in words, its status beside them.
    assert '<h1>无权访问 <span class="muted">403</span></h1>' in refused.get_data(as_text=True)
    assert "<h1>Not allowed" in clerk.get("/admin/banks?lang=en").get_data(as_text=True)
    assert "<h1>找不到该页面" in clerk.get("/banks/nowhere/residents?lang=zh").get_data(as_text=True)
    home = clerk.get("/").get_data(as_text=True)
    assert "甲村综治银行" in home and SECRET not in home
