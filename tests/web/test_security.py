"""Hardening: password hashes, CSRF on every form, cookies, headers, the audit log (throttles: test_throttle)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ground.audit import AuditEntry
from ground.tenants import User

PASSWORD = "correct horse battery"


@pytest.fixture
def bank(make):
    return make.bank()


def _sign_in(client, name, password=PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def _actions(session, actor):
    session.rollback()
    return session.execute(select(AuditEntry.action).where(AuditEntry.actor == actor)
                           .order_by(AuditEntry.id)).scalars().all()


def test_passwords_are_stored_with_a_memory_hard_hash(make, bank, session):
    make.user(bank, "clerk", name="wang")
    stored = session.execute(select(User.password_hash).where(User.name == "wang")).scalar()
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_signing_out_is_audited_and_needs_the_csrf_token(client, make, bank, session):
    make.user(bank, "clerk", name="wang")
    _sign_in(client, "wang")
    assert client.post("/logout").status_code == 400
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert _actions(session, "wang") == ["login", "logout"]


@pytest.mark.slow
def test_every_post_form_on_every_screen_carries_a_csrf_token(app, make, bank, session, signed_in):
    """Walks every page the URL map has, as a clerk and as the county admin, and reads each form."""
    from tests.web.test_walls import _ids_of, _urls

    home = make.household(bank, "E01")
    resident = make.resident(bank, "王大", home)
    make.deed(bank, "patrol", [resident])
    make.deed(bank, "mediation", [resident])
    ids = _ids_of(session, bank.id)
    forms_seen = 0
    for user in (make.user(bank, "reviewer", name="li"), make.user(None, "admin", name="county")):
        client = signed_in(user)
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.rule.startswith("/api/") or rule.endpoint == "static":
                continue
            for url in _urls(rule, bank.code, ids):
                answer = client.get(url)
                if answer.mimetype != "text/html":
                    continue
                for form in re.findall(r"<form\b[^>]*>.*?</form>", answer.get_data(as_text=True), re.S | re.I):
                    if re.search(r'method="post"', form, re.I):
                        forms_seen += 1
                        assert 'name="csrf_token"' in form, f"{url}: a form without its CSRF token"
    assert forms_seen >= 15


def test_a_screen_form_posted_without_its_token_is_refused_and_changes_nothing(make, bank, session, signed_in):
    from ledger.models import Household

    client = signed_in(make.user(bank, "clerk", name="wang"))
    answer = client.post("/banks/hp/households", data={"code": "E09"})
    assert answer.status_code == 400
    assert session.execute(select(Household).where(Household.code == "E09")).first() is None


def test_the_api_takes_writes_only_with_a_bearer_token_never_with_a_session_cookie(make, bank, signed_in):
    client = signed_in(make.user(bank, "clerk", name="wang"))
    assert client.get("/api/v1/banks/hp/residents").status_code == 200
    refused = client.post("/api/v1/banks/hp/households", json={"code": "E01"})
    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("word, secure", [("yes", True), ("ON", True), ("0", False), ("", False)])
def test_zongzhi_secure_cookies_marks_the_cookie_secure_even_over_plain_http(app, make, bank, word, secure):
    # Behind a proxy that ends HTTPS without saying so, the request looks plain: the setting says it is not.
    from zongzhi.config import check

    app.config.update(check({"SECURE_COOKIES": word}))
    make.user(bank, "clerk", name="wang")
    cookie = _sign_in(app.test_client(), "wang").headers["Set-Cookie"]
    assert "zongzhi_session=" in cookie and ("Secure" in cookie) is secure


def test_the_session_cookie_is_http_only_same_site_and_secure_over_https(app, make, bank):
    make.user(bank, "clerk", name="wang")
    plain = _sign_in(app.test_client(), "wang").headers["Set-Cookie"]
    assert "zongzhi_session=" in plain and "HttpOnly" in plain and "SameSite=Lax" in plain
    assert "Secure" not in plain  # a village office on plain http://127.0.0.1 must still sign in
    secure = app.test_client()
    page = secure.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = secure.post("/login", base_url="https://localhost",
                         data={"name": "wang", "password": PASSWORD, "csrf_token": token})
    assert "Secure" in answer.headers["Set-Cookie"]
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/login", "/api/v1/health"])
def test_every_answer_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_a_header_the_view_set_itself_is_kept_and_none_is_sent_twice(app):
    from flask import Response

    def own():
        return Response("x", headers={"x-frame-options": "SAMEORIGIN", "cache-control": "max-age=60"})

    app.add_url_rule("/own-headers", "own_headers", own)
    headers = app.test_client().get("/own-headers").headers
    assert headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert headers.getlist("Cache-Control") == ["max-age=60"]
    assert headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert len(headers.getlist("Content-Security-Policy")) == 1


@pytest.mark.parametrize("cookie", [None, "", "forged.value"])
@pytest.mark.parametrize("secret", ["test", None])
def test_a_request_opens_the_session_flasks_own_cookie_sessions_would(app, cookie, secret):
    from flask.sessions import SecureCookieSessionInterface

    app.secret_key = secret
    headers = {"Cookie": f"zongzhi_session={cookie}"} if cookie is not None else {}
    with app.test_request_context("/api/v1/health", headers=headers) as ctx:
        ours = app.session_interface.open_session(app, ctx.request)
        flasks = SecureCookieSessionInterface().open_session(app, ctx.request)
    assert type(ours) is type(flasks) and ours == flasks
    assert (ours is None) == (secret is None)
    if ours is not None:
        assert not ours.modified and not ours.accessed


def test_signed_in_pages_are_not_kept_in_the_browser_cache(make, bank, signed_in):
    client = signed_in(make.user(bank, "clerk", name="wang"))
    assert client.get("/banks/hp/residents").headers["Cache-Control"] == "no-store"


def test_the_audit_log_is_read_by_supervisors_and_not_by_clerks(app, make, bank, session, clock, signed_in):
    from ledger import roster

    roster.import_roster(session, bank, "名册.csv", "姓名,户号\n王大,E01\n".encode(), by="wang", clock=clock)
    make.deed(bank, "cleanup", [make.resident(bank, "李四")])
    supervisor, clerk = make.user(bank, "supervisor", name="zhao"), make.user(bank, "clerk", name="wang")
    _sign_in(app.test_client(), "wang")
    pages = {}
    for user in (supervisor, clerk):
        pages[user.role] = signed_in(user).get("/banks/hp/audit")
    assert pages["clerk"].status_code == 403
    log = pages["supervisor"].get_data(as_text=True)
    assert pages["supervisor"].status_code == 200
    for seen in ("导入名册", "登分", "登录", "开设银行", "wang"):
        assert seen in log
    only_imports = signed_in(supervisor).get("/banks/hp/audit?action=roster_import").get_data(as_text=True)
    assert "名册 名册.csv" in only_imports and "环境整治" not in only_imports
