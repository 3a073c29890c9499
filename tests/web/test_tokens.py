"""API tokens: their last use is noted cheaply, at most once an hour, never on every request;
a revoked or expired token, or a deactivated user's, is refused at once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from ground.clock import FixedClock
from ground.tenants import ApiToken, User


def _later(app, minutes: int) -> None:
    clock = app.extensions["zongzhi.clock"]
    app.extensions["zongzhi.clock"] = FixedClock(tz=clock.tz, at=clock.now() + timedelta(minutes=minutes))


def test_a_tokens_last_use_is_written_at_most_once_an_hour(app, client, make, session, clock):
    bank = make.bank()
    headers = make.token(bank, "clerk")
    writes = []
    event.listen(app.extensions["zongzhi.engine"], "before_cursor_execute",
                 lambda conn, cursor, sql, *rest: writes.append(sql) if "UPDATE api_tokens" in sql else None)

    def last_used():
        session.rollback()
        return session.execute(select(ApiToken.last_used_at)).scalar_one()

    assert last_used() is None
    for _ in range(3):
        assert client.get("/api/v1/banks/hp/rules", headers=headers).status_code == 200
    assert last_used() == clock.now() and len(writes) == 1
    _later(app, 59)
    assert client.get("/api/v1/banks/hp/rules", headers=headers).status_code == 200
    assert last_used() == clock.now() and len(writes) == 1
    _later(app, 2)
    assert client.get("/api/v1/banks/hp/rules", headers=headers).status_code == 200
    assert last_used() == clock.now() + timedelta(minutes=61) and len(writes) == 2


def _refuse(session, clock, how: str) -> None:
    # The one token there is: revoked, expired, or its user deactivated.
    from web.auth import revoke_token

    token = session.execute(select(ApiToken)).scalar_one()
    if how == "revoked":
        revoke_token(session, token.id, clock=clock)
        return
    if how == "expired":
        token.expires_at = clock.now()
    else:
        session.get(User, token.user_id).active = False
    session.commit()


@pytest.mark.parametrize("how", ["revoked", "expired", "deactivated"])
def test_a_refused_token_is_401_at_once_at_every_address_known_bank_or_not(client, make, session,
                                                                           clock, how):
    bank = make.bank()
    resident = make.resident(bank)
    headers = make.token(bank, "clerk")
    deed = {"rule": "cleanup", "residents": [resident.id], "occurred_on": "2026-10-14"}
    assert client.post("/api/v1/banks/hp/deeds", json=deed, headers=headers).status_code == 201
    assert client.get("/api/v1/banks/nowhere/rules", headers=headers).status_code == 404
    _refuse(session, clock, how)
    for method, path in (("post", "/api/v1/banks/hp/deeds"), ("get", "/api/v1/banks/hp/rules"),
                         ("get", "/api/v1/banks/nowhere/rules")):
        answer = getattr(client, method)(path, json=deed, headers=headers)
        assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized", path
