"""Build bank_0018.db: a bank as the version before entries (schema 0018) left it.

Run from the repository root on that version (commit a8dfd47, before `transfers.entry_seq`):

    git worktree add /tmp/at-0018 a8dfd47 && cd /tmp/at-0018
    python tests/ledger/data/make_bank_0018.py /path/to/tests/ledger/data/bank_0018.db

It holds deeds (one of a team of two, one reversed, one kept under an idempotency key), money
received, goods bought from two of the fund's accounts at once, a redemption of two items (each
line a points leg and a cost leg, posted separately-linked as that version did), and a
micro-project paid in a tranche from two accounts and completed (spent and returned).
Its clerk's API token is printed, for the test that replays the kept deed.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conftest import NOW, Factory  # noqa: E402
from tests.foundation import conftest as foundation  # noqa: E402
from tests.redemption.conftest import DESK_RULES  # noqa: E402

RULES = DESK_RULES + foundation.FOUNDATION_RULES.split(foundation.RULES, 1)[1]


def main(target: str) -> None:
    import migrations
    from ground.clock import FixedClock
    from redemption import services as desk
    from web.auth import create_token
    from zongzhi.app import create_app

    Path(target).unlink(missing_ok=True)
    url = f"sqlite:///{Path(target).resolve()}"
    migrations.upgrade(url)
    clock = FixedClock(at=NOW)
    app = create_app({"DATABASE_URL": url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "old"})
    session = app.extensions["zongzhi.sessions"]()
    make = Factory(session, clock)

    class Old(foundation.District):
        def __init__(self):
            self.make, self.session, self.clock = make, session, clock
            self.bank = make.bank(code="hp", name="和平村综治银行", rules=RULES)
            self.wang_home = make.household(self.bank, "W01", "王家")
            self.li_home = make.household(self.bank, "L01", "李家")
            self.wang = make.resident(self.bank, "王大明", self.wang_home)
            self.wang_wife = make.resident(self.bank, "赵小红", self.wang_home)
            self.li = make.resident(self.bank, "李四", self.li_home)
            self.zhou = make.resident(self.bank, "周五")

            def user(role, name):
                u = foundation.fast_user(session, self.bank, role, name, clock)
                return u, {"Authorization": f"Bearer {create_token(session, u.name, clock=clock)}"}

            self.clerk_user, self.clerk = user("clerk", "clerk")
            self.supervisor_user, self.supervisor = user("supervisor", "supervisor")
            self.reviewers = [user("reviewer", f"lishi{i}") for i in range(3)]
            self.desk = user("desk", "desk")[1]

    old = Old()
    client = app.test_client()
    api = "/api/v1/banks/hp"
    # Deeds: a team of two, one kept under a key (replayed after the upgrade), one reversed.
    kept = client.post(f"{api}/deeds", headers={**old.clerk, "Idempotency-Key": "old-deed-1"}, json={
        "rule": "cleanup", "residents": [old.wang.id, old.li.id], "quantity": 20,
        "occurred_on": "2026-10-15", "memo": "清理河道"})
    assert kept.status_code == 201, kept.get_json()
    wrong = client.post(f"{api}/deeds", headers=old.clerk, json={
        "rule": "patrol", "residents": [old.zhou.id], "quantity": 2, "occurred_on": "2026-10-14"})
    assert wrong.status_code == 201, wrong.get_json()
    undone = client.post(f"{api}/transfers/{wrong.get_json()['transfers'][0]['id']}/reverse",
                         headers={**old.clerk, "Idempotency-Key": "old-reverse-1"}, json={"reason": "登记错人"})
    assert undone.status_code == 201, undone.get_json()
    # Money, goods bought from fund:goods and fund at once, a redemption of two items.
    for fen, restriction in ((50_000, None), (10_000, "goods"), (300_000, "projects")):
        desk.record_receipt(session, old.bank, source="town", donor=None, received_on=clock.today(),
                            amount_fen=fen, restriction=restriction, memo=None, by="test", clock=clock)
    for sku, name, points, cost in (("rice", "大米 5kg", 30, 2500), ("oil", "食用油", 12, 1500)):
        desk.create_item(session, old.bank, sku=sku, name=name, points=points, cost_fen=cost,
                         limit_per_window=None, by="test", clock=clock)
        desk.stock_in(session, old.bank, sku, quantity=6, source="purchase", cost_fen=None,
                      donor=None, by="test", clock=clock)
    redeemed = client.post(f"{api}/redemptions", headers=old.desk, json={
        "resident": old.wang.id, "items": [{"sku": "rice", "quantity": 1}, {"sku": "oil", "quantity": 2}]})
    assert redeemed.status_code == 201, redeemed.get_json()
    # A micro-project: awarded, paid from fund:projects and fund at once, completed.
    app_id = foundation.awarded(client, old, amount=320_000)
    paid = client.post(f"{api}/foundation/applications/{app_id}/tranches", headers=old.clerk,
                       json={"amount": 320_000})
    assert paid.status_code == 201, paid.get_json()
    done = client.post(f"{api}/foundation/applications/{app_id}/completion", headers=old.clerk, json={
        "spent": [{"item": "摄像头", "amount": 250_000}], "report": "验收"})
    assert done.status_code == 201, done.get_json()
    session.close()
    app.extensions["zongzhi.engine"].dispose()
    print("clerk", old.clerk["Authorization"])


if __name__ == "__main__":
    main(sys.argv[1])
