"""Sign-in throttling: failures slow a guesser with a growing delay and never lock a user out."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from ground.audit import AuditEntry
from ground.clock import FixedClock
from web.throttle import ACCOUNT, ADDRESS, GrowingDelay

PASSWORD = "correct horse battery"


@pytest.fixture
def bank(make):
    return make.bank()


def _sign_in(client, name, password=PASSWORD, address="127.0.0.1"):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def _later(app, seconds: int) -> None:
    clock = app.extensions["zongzhi.clock"]
    app.extensions["zongzhi.clock"] = FixedClock(tz=clock.tz, at=clock.now() + timedelta(seconds=seconds))


def _actions(session, actor):
    session.rollback()
    return session.execute(select(AuditEntry.action).where(AuditEntry.actor == actor)
                           .order_by(AuditEntry.id)).scalars().all()


def test_five_wrong_passwords_delay_the_right_one_a_second_and_then_it_signs_in(app, client, make, bank, session):
    make.user(bank, "clerk", name="wang")
    for _ in range(5):
        assert _sign_in(client, "wang", "wrong password").status_code == 401
    refused = _sign_in(client, "wang")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "登录失败次数过多，请 1 秒后再试" in refused.get_data(as_text=True)
    _later(app, 1)
    assert _sign_in(client, "wang").status_code == 302
    # Refused attempts were never checked, so they are not in the log either.
    assert _actions(session, "wang") == ["login_failed"] * 5 + ["login"]


def test_each_further_failure_doubles_the_delay_up_to_a_minute(app, client, make, bank):
    make.user(bank, "clerk", name="wang")
    for _ in range(5):
        _sign_in(client, "wang", "wrong password")
    waits = []
    for _ in range(8):
        refused = _sign_in(client, "wang", "wrong password")
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        _later(app, waits[-1])
        assert _sign_in(client, "wang", "wrong password").status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    # However long a guesser has kept at it, the owner waits at most a minute.
    assert int(_sign_in(client, "wang").headers["Retry-After"]) <= 60
    _later(app, 60)
    assert _sign_in(client, "wang").status_code == 302


def test_signing_in_forgets_the_accounts_failures(client, make, bank):
    make.user(bank, "clerk", name="wang")
    for _ in range(2):
        for _ in range(4):
            assert _sign_in(client, "wang", "wrong password").status_code == 401
        assert _sign_in(client, "wang").status_code == 302
    assert _sign_in(client, "wang", "wrong password").status_code == 401


def test_one_accounts_failures_do_not_slow_another_account(client, make, bank):
    make.user(bank, "clerk", name="wang")
    make.user(bank, "clerk", name="li")
    for _ in range(7):
        _sign_in(client, "wang", "wrong password", address="10.0.0.1")
    assert _sign_in(client, "wang", address="10.0.0.2").status_code == 429  # the account, from anywhere
    assert _sign_in(client, "li", address="10.0.0.1").status_code == 302


def test_an_address_guessing_many_names_is_slowed_and_other_addresses_are_not(app, client, make, bank):
    make.user(bank, "clerk", name="wang")
    for n in range(20):
        assert _sign_in(client, f"guess{n}", "wrong password", address="100.64.0.1").status_code == 401
    refused = _sign_in(client, "wang", address="100.64.0.1")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert _sign_in(client, "wang", address="100.64.0.2").status_code == 302
    _later(app, 1)
    assert _sign_in(client, "wang", address="100.64.0.1").status_code == 302


@pytest.mark.parametrize("delay, failures, wait", [
    (ACCOUNT, 4, 0), (ACCOUNT, 5, 1), (ACCOUNT, 6, 2), (ACCOUNT, 11, 60), (ACCOUNT, 10_000, 60),
    (ADDRESS, 19, 0), (ADDRESS, 20, 1), (GrowingDelay("x", free=1, base=3, cap=10), 2, 6),
])
def test_the_delay_after_so_many_failures(delay, failures, wait):
    assert delay.after(failures) == wait


def test_no_request_passes_through_flask_limiters_own_per_request_checks(app):
    """No route declares a limit, so the hooks that would look for one on every request are off."""
    hooks = [hook for registry in (app.before_request_funcs, app.after_request_funcs,
                                   app.teardown_request_funcs)
             for funcs in registry.values() for hook in funcs]
    assert hooks and not [h for h in hooks if getattr(h, "func", h).__module__.startswith("flask_limiter")]
    assert app.extensions["zongzhi.throttle"].storage.check()  # while its storage serves the throttles


@pytest.mark.parametrize("typed", ["wang\x00", "\x01", "w" * 81, "wa\nng"])
def test_a_name_no_user_can_have_is_a_wrong_name_logged_escaped(client, make, bank, session, typed):
    make.user(bank, "clerk", name="wang")
    assert _sign_in(client, typed).status_code == 401
    escaped = ascii(typed)[1:-1][:80]
    assert _actions(session, escaped) == ["login_failed"]
    assert _sign_in(client, "wang").status_code == 302


def test_a_user_cannot_be_created_with_a_name_no_sign_in_could_type(make, bank):
    from ground.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        make.user(bank, "clerk", name="wang\x00")
    assert "name" in refused.value.fields


def test_the_delay_holds_its_full_second_when_the_last_failure_falls_late_in_a_second(app, client, make, bank):
    make.user(bank, "clerk", name="wang")
    clock = app.extensions["zongzhi.clock"]
    app.extensions["zongzhi.clock"] = FixedClock(tz=clock.tz, at=clock.now() + timedelta(milliseconds=950))
    for _ in range(5):
        assert _sign_in(client, "wang", "wrong password").status_code == 401
    # A tenth of a second later, across the turn of the second, it must still be refused.
    app.extensions["zongzhi.clock"] = FixedClock(
        tz=clock.tz, at=app.extensions["zongzhi.clock"].now() + timedelta(milliseconds=100))
    assert _sign_in(client, "wang").status_code == 429
    _later(app, 1)
    assert _sign_in(client, "wang").status_code == 302
