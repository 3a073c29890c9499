"""A card's page: which months take objections from it, and what one page costs the database."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, datetime, timezone

from sqlalchemy import event

from ground.clock import FixedClock
from ledger import periods

from .test_cards import _issue, _path


def _objection_links(text: str) -> dict[str, int]:
    """Return, by month heading, how many entries of the month carry an objection link."""
    months = re.split(r"<h2>", text)[1:]
    return {part.split(" ", 1)[0]: part.count("/object?entry=") for part in months
            if re.match(r"\d{4}年\d{1,2}月 ", part)}


def test_only_months_still_open_to_objections_link_their_entries(client, desk, make, session):
    from reports.services import publish_notice

    for day in (date(2026, 8, 31), date(2026, 9, 3), date(2026, 10, 2)):
        make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=day)
    # August's notice went up on 1 September: its week for objections is over by 15 October.
    publish_notice(session, desk.bank, "2026-08", by="test",
                   clock=FixedClock(at=datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)))
    # September's went up on 12 October: objections are taken until the 19th.
    publish_notice(session, desk.bank, "2026-09", by="test",
                   clock=FixedClock(at=datetime(2026, 10, 12, 0, 0, tzinfo=timezone.utc)))
    session.commit()
    card = _issue(client, desk, desk.wang)
    text = client.get(_path(card)).get_data(as_text=True)
    assert _objection_links(text) == {"2026年10月": 1, "2026年9月": 1, "2026年8月": 0}
    assert "09-03" in text and "08-31" in text  # a closed month's entries still show, unlinked

    periods.seal_month(session, desk.bank.id, "2026-09", by="test", clock=make.clock)
    session.commit()
    text = client.get(_path(card)).get_data(as_text=True)
    assert _objection_links(text) == {"2026年10月": 1, "2026年9月": 0, "2026年8月": 0}


@contextmanager
def _statements(app):
    seen = []
    engine = app.extensions["zongzhi.engine"]

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_card_page_reads_the_database_in_ten_statements(app, client, desk, make, session):
    """The card, the bank with its rules, the holder's household, the accounts, the entries, the
    latest notice, the desk's windows, the months' objection windows, the holder's objections and
    the card's reports: one statement each, however many months and entries the page shows."""
    from reports import objections

    for day in (date(2026, 8, 31), date(2026, 9, 3), date(2026, 10, 2), date(2026, 10, 9)):
        make.deed(desk.bank, "cleanup", [desk.wang], occurred_on=day)
    objections.file_objection(session, desk.bank, resident_id=desk.wang.id, transfer_id=None,
                              month="2026-10", text="漏登了", filed_by="test", clock=make.clock)
    session.commit()
    card = _issue(client, desk, desk.wang)
    assert client.get(_path(card)).status_code == 200  # this month's ranking is counted once
    with _statements(app) as seen:
        page = client.get(_path(card))
    assert page.status_code == 200 and "漏登了" in page.get_data(as_text=True)
    assert len(seen) == 10, "\n".join(seen)
    # A new entry anywhere in the bank: the month's ranking is built again, as its notice
    # would be (reports.notice.gather_notice): residents, households, rule versions, the
    # month's movements and the balances as they stand (one read of the accounts, not the
    # bank's whole history added up), five more.
    make.deed(desk.bank, "cleanup", [desk.li])
    session.commit()
    with _statements(app) as seen:
        page = client.get(_path(card))
    assert page.status_code == 200 and "共 3 人" in page.get_data(as_text=True)
    assert len(seen) == 15, "\n".join(seen)


def test_a_household_cards_page_reads_all_its_members_entries_at_once(app, client, household_desk):
    d = household_desk
    d.points(d.wang, 30)
    d.points(d.wang2, 15)
    card = client.post("/api/v1/banks/hp/households/E01/card", headers=d.clerk).get_json()
    assert client.get(_path(card)).status_code == 200
    with _statements(app) as seen:
        page = client.get(_path(card))
    assert page.status_code == 200 and ">45<" in page.get_data(as_text=True)
    # One more than a resident's card: the members' names, for the reports they sent.
    assert len(seen) == 11, "\n".join(seen)
