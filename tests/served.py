"""What the tests that start a real `zongzhi serve` share: a free port, and a village on the
wall clock (the server's own) with a clerk's API token."""
from __future__ import annotations

import socket
from zoneinfo import ZoneInfo

import migrations
from ground.clock import Clock
from ground.db import make_engine, session_factory
from ledger import banks, people
from web.auth import create_token, create_user

from .conftest import RULES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def village(url: str, residents: int) -> dict:
    """Migrate the database at `url` and open bank "hp" in it with one household of `residents`
    residents and a clerk; return its URL, the residents' ids, the clerk's token, today's date
    (Asia/Shanghai, as the server reckons it) and the bank's id."""
    migrations.upgrade(url)
    clock = Clock(ZoneInfo("Asia/Shanghai"))
    engine = make_engine(url)
    with session_factory(engine)() as session:
        bank = banks.create_bank(session, "hp", "和平村综治银行", rules_text=RULES,
                                 source_name="t.yaml", by="test", clock=clock)
        people.create_household(session, bank, code="H1", name=None, clock=clock)
        ids = [people.create_resident(session, bank, name=f"居民{i}", household="H1", phone=None,
                                      clock=clock).id for i in range(residents)]
        create_user(session, "clerk", bank_code="hp", role="clerk", password="clerk password",
                    clock=clock)
        token = create_token(session, "clerk", clock=clock)
    engine.dispose()
    return {"url": url, "residents": ids, "token": token, "today": clock.today().isoformat(),
            "bank_id": bank.id}
