"""Signed-in sessions end on the server, and the secret key outlives a restart."""
from __future__ import annotations

import os
import re
import stat
from datetime import timedelta

import pytest
from click.testing import CliRunner

from ground.clock import FixedClock

PASSWORD = "correct horse battery"
COOKIE = "zongzhi_session"


@pytest.fixture
def wang(make):
    return make.user(make.bank(), "clerk", name="wang")


def _sign_in(client, name="wang"):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    return client


def _sign_out(client):
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def _copy(client, app):
    """A second browser holding a copy of the first one's session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _signed_in(client) -> bool:
    answer = client.get("/banks/hp/residents")
    return answer.status_code == 200


def test_a_session_cookie_copied_before_signing_out_signs_nobody_in_after_it(app, client, wang):
    _sign_in(client)
    copied = _copy(client, app)
    assert _signed_in(copied)
    _sign_out(client)
    assert not _signed_in(copied)
    assert copied.get("/banks/hp/residents").headers["Location"].startswith("/login")
    assert not _signed_in(client)


def test_signing_out_on_one_device_leaves_the_users_other_sessions_signed_in(app, wang):
    office, phone = _sign_in(app.test_client()), _sign_in(app.test_client())
    _sign_out(office)
    assert _signed_in(phone) and not _signed_in(office)


def test_a_cookie_naming_a_user_without_a_session_on_record_signs_nobody_in(app, wang):
    forged = app.test_client()
    with forged.session_transaction() as s:  # what a cookie from before sessions were kept looks like
        s["_user_id"] = str(wang.id)
        s["_fresh"] = True
    assert not _signed_in(forged)


def test_a_session_ends_on_the_server_after_its_lifetime(app, client, wang):
    _sign_in(client)
    clock = app.extensions["zongzhi.clock"]
    app.extensions["zongzhi.clock"] = FixedClock(tz=clock.tz, at=clock.now() + timedelta(hours=12, seconds=1))
    assert not _signed_in(client)


def test_a_deactivated_user_is_signed_out_everywhere(app, client, wang, session):
    _sign_in(client)
    wang.active = False
    session.add(wang)
    session.commit()
    assert not _signed_in(client)


# --- the secret key ------------------------------------------------------------------------------

@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An instance folder of its own and no key in the environment, as a fresh office install."""
    monkeypatch.setenv("ZONGZHI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("ZONGZHI_SECRET_KEY", raising=False)
    return tmp_path / "instance"


def test_without_a_configured_key_the_embedded_default_keeps_one_private_key_in_the_instance_folder(
        instance, database_url, clock):
    from zongzhi.app import create_app

    if not database_url.startswith("sqlite"):
        pytest.skip("the kept key is the embedded database's")
    first = create_app({"DATABASE_URL": database_url, "CLOCK": clock})
    second = create_app({"DATABASE_URL": database_url, "CLOCK": clock})  # a restart, or a second process
    kept = instance / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == kept.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 64
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert [p.name for p in instance.iterdir() if "secret" in p.name] == ["secret_key"]
    for app in (first, second):
        app.extensions["zongzhi.engine"].dispose()


def test_a_session_signed_in_before_a_restart_is_still_signed_in_after_it(instance, database_url, clock, make, wang):
    from zongzhi.app import create_app

    if not database_url.startswith("sqlite"):
        pytest.skip("the kept key is the embedded database's")
    before = create_app({"DATABASE_URL": database_url, "CLOCK": clock})
    client = _sign_in(before.test_client())
    after = create_app({"DATABASE_URL": database_url, "CLOCK": clock})
    assert _signed_in(_copy(client, after))
    for app in (before, after):
        app.extensions["zongzhi.engine"].dispose()


def test_serve_refuses_to_start_on_postgresql_without_a_secret_key(monkeypatch, instance):
    import waitress

    from zongzhi.cli import main

    started = []
    monkeypatch.setattr(waitress, "serve", lambda *a, **kw: started.append(a))
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", "postgresql://zongzhi@db.example/zongzhi")
    refused = CliRunner().invoke(main, ["serve"])
    assert refused.exit_code == 1 and started == []
    assert "ZONGZHI_SECRET_KEY" in refused.output
    assert not instance.exists()  # nothing made up in its place


def test_serve_starts_on_the_embedded_default_without_a_key_and_keeps_one(monkeypatch, instance, tmp_path):
    import waitress

    from zongzhi.cli import main

    started = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: started.append(app))
    monkeypatch.setenv("ZONGZHI_DATABASE_URL", f"sqlite:///{tmp_path / 'zongzhi.db'}")
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    answer = CliRunner().invoke(main, ["serve"])
    assert answer.exit_code == 0, answer.output
    [app] = started
    assert app.config["SECRET_KEY"] == (instance / "secret_key").read_text().strip()
    app.extensions["zongzhi.engine"].dispose()
