"""Migration 0021: a link per leg becomes a link per event (its entry), and back again."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command

import migrations
from ground.db import normalize_url

from .conftest import API, awarded


def _links(url: str, columns: str) -> list[tuple]:
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(
            f"SELECT {columns} FROM foundation_ledger_links ORDER BY purpose, id"))]
    engine.dispose()
    return rows


def test_links_per_leg_go_down_and_come_back_up_as_one_per_event(client, district, app, session,
                                                                 database_url):
    district.fund(restricted=300_000, unrestricted=300_000)
    app_id = awarded(client, district, amount=400_000)
    assert client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk,
                       json={"amount": 400_000}).status_code == 201
    assert client.post(f"{API}/applications/{app_id}/completion", headers=district.clerk, json={
        "spent": [{"item": "摄像头", "amount": 330_000}], "report": "完工"}).status_code == 201
    session.close()
    app.extensions["zongzhi.engine"].dispose()
    events = _links(database_url, "purpose, entry_seq, application_id, tranche_id")
    assert [e[0] for e in events] == ["completion", "tranche"]

    command.downgrade(migrations.config(database_url), "0020")
    # Each leg its own link again: the completion's spending and its return tell their kind.
    legs = _links(database_url, "purpose, transfer_id, application_id")
    assert sorted(p for p, *_ in legs) == ["returned", "spent", "tranche", "tranche"]
    assert len({t for _, t, _ in legs}) == 4 and {a for *_, a in legs} == {app_id}

    migrations.upgrade(database_url)
    assert _links(database_url, "purpose, entry_seq, application_id, tranche_id") == events
