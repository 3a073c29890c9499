"""Dates on the cards' screens are the village's dates, not UTC's."""
from __future__ import annotations

from datetime import datetime, timezone

from cards import services
from ground.clock import FixedClock

from ..redemption.conftest import sign_in


def test_a_card_issued_early_in_the_morning_shows_the_villages_date(client, desk, make, session):
    # 06:43 in the village on 30 November is 22:43 UTC on the 29th.
    morning = FixedClock(at=datetime(2026, 11, 29, 22, 43, tzinfo=timezone.utc))
    services.issue_cards(session, desk.bank, resident_ids=[desk.wang.id], by="clerk", clock=morning)
    sign_in(client, make, desk.bank, "clerk", "jifenyuan")
    screen = client.get("/banks/hp/cards?q=wang").get_data(as_text=True)
    assert "2026年11月30日" in screen and "2026年11月29日" not in screen
