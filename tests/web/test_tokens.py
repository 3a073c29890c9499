"""API tokens: their last use is noted cheaply, at most once an hour, never on every request."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select

from ground.clock import FixedClock
from ground.tenants import ApiToken


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
