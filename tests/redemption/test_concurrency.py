"""Twenty desks at once against one account and one scarce item: nothing overdraws."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from ground.db import make_engine, session_factory
from ground.errors import InsufficientPoints, OutOfStock
from ledger.models import Transfer
from ground.tenants import Bank
from ledger.posting import Idempotency
from ledger.verify import verify_bank
from redemption.services import redeeming
from redemption.models import Redemption, RedemptionLine

DESKS = 20


def test_twenty_desks_at_once_never_overdraw_points_or_stock(desk, database_url, clock, session):
    desk.money(1_000_000)
    desk.item(sku="scarce", name="电饭煲", points=30, cost_fen=9900, stock=3)
    desk.item(sku="plenty", name="洗衣粉", points=30, cost_fen=1200, stock=100)
    desk.points(desk.wang, 180)                       # enough for 6 redemptions of 30
    # Each desk its own engine connection (threads on SQLite, separate connections on PostgreSQL).
    engine = make_engine(database_url, pool_size=DESKS, max_overflow=0)
    sessions = session_factory(engine)
    start = threading.Barrier(DESKS)
    outcomes: list = [None] * DESKS

    def one_desk(n: int) -> None:
        with sessions() as s:
            bank = s.get(Bank, desk.bank.id)
            start.wait()
            try:
                done = redeeming.redeem(s, bank, resident_id=desk.wang.id,
                                       items=[("scarce" if n % 2 else "plenty", 1)], by=f"desk{n}",
                                       clock=clock, idem=Idempotency(f"desk-{n}", f"{n:064x}"))
                outcomes[n] = ("ok", done.redemption.id, done.redemption.balance_after)
            except (InsufficientPoints, OutOfStock) as refused:
                outcomes[n] = ("refused", refused.code, None)
            except Exception as err:  # noqa: BLE001 - the test reports anything else as it is
                outcomes[n] = ("error", repr(err), None)

    threads = [threading.Thread(target=one_desk, args=(n,)) for n in range(DESKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    engine.dispose()

    assert not [o for o in outcomes if o is None or o[0] == "error"], outcomes
    accepted = [o for o in outcomes if o[0] == "ok"]
    assert len(accepted) == 6
    assert all(balance >= 0 for _, _, balance in accepted)
    assert sorted(balance for _, _, balance in accepted) == [0, 30, 60, 90, 120, 150]
    assert desk.balance(desk.wang) == 0
    assert desk.stock("scarce") >= 0 and desk.stock("plenty") >= 0
    scarce_taken = 3 - desk.stock("scarce")
    assert scarce_taken + (100 - desk.stock("plenty")) == 6
    session.rollback()
    ids = [o[1] for o in accepted]
    assert session.execute(select(func.count()).select_from(Redemption)).scalar() == 6
    lines = session.execute(select(RedemptionLine.entry_id).where(
        RedemptionLine.redemption_id.in_(ids))).scalars().all()
    assert len(lines) == len(set(lines)) == 6
    assert session.execute(select(func.count()).select_from(Transfer).where(
        Transfer.kind == "redemption")).scalar() == 6
    assert verify_bank(session, desk.bank).ok
