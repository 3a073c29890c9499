"""A month of the cycle as the office sees it: where it stands, and its page.

The page is the month screen's (reports/screens.py) and the answer of the cycle's job run by
hand from it (cycle/views.py), refused or done.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import defer

from ledger import formatting, periods
from ledger import banks as ledger_banks
from ground.db import get_session
from ground.errors import NotFound
from ledger.periods import Period, PeriodSeal
from web.api import clock
from web.auth import WRITERS
from web.i18n import language
from web.pdf import qr_png_data_uri

from . import objections
from .models import Snapshot
from .notice import notice_due
from .views import public_url


def month_title(period: Period) -> str:
    """Return a month as the screens name it, in the reader's language."""
    return period.label(language())


@dataclass
class MonthState:
    """Where a month is in the cycle: running, draft (no notice yet), open (objections until
    `closes`), closed (waiting to be sealed), sealed."""

    period: Period
    title: str
    status: str
    notice: Snapshot | None
    seal: PeriodSeal | None
    #: When the notice falls due (running, draft) or the month may be sealed (open, closed).
    due: datetime | None
    open_objections: int

    @property
    def key(self) -> str:
        return self.period.key


def month_states(session, bank, wanted: list[Period]) -> list[MonthState]:
    """Return where each of these months stands, in order."""
    c = clock()
    keys = [p.key for p in wanted]
    notices = {s.period: s for s in session.execute(
        select(Snapshot).options(defer(Snapshot.content)).where(
            Snapshot.bank_id == bank.id, Snapshot.kind == "notice", Snapshot.period.in_(keys))).scalars()}
    seals = {s.month: s for s in session.execute(select(PeriodSeal).where(
        PeriodSeal.bank_id == bank.id, PeriodSeal.month.in_(keys))).scalars()}
    waiting = objections.open_counts(session, bank.id)
    cycle = ledger_banks.rulebook(session, bank.id)[1].settings.cycle
    now, today = c.now(), c.today()
    found = []
    for period in wanted:
        notice, seal = notices.get(period.key), seals.get(period.key)
        due = notice_due(cycle, period, c.tz)
        if seal is not None:
            status = "sealed"
        elif notice is not None:
            due = notice.window_closes_at
            status = "open" if now < notice.window_closes_at else "closed"
        else:
            status = "running" if period.end >= today else "draft"
        found.append(MonthState(period, month_title(period), status, notice, seal, due,
                                waiting.get(period.key, 0)))
    return found


def cycle_month(session, bank, month: str) -> Period:
    """Return the month typed in the path, or NotFound if it is before the bank's first month or
    still to come: not a month of its cycle."""
    period = periods.parse_period("month", month, field="month")
    c = clock()
    if period.end < periods.first_day(session, bank, c.tz) or period.start > c.today():
        year, number = period.start.year, period.start.month
        raise NotFound(_("找不到 %(month)s", month=formatting.month(year, number, language())))
    return period


def month_page(bank, user, month: str, *, message: str | None = None, status: int = 200):
    """Answer with one month's page: its notice's status, preview, print, public link and QR,
    and `message` (a job run by hand from it refused, say) with `status`."""
    session = get_session()
    period = cycle_month(session, bank, month)
    [state] = month_states(session, bank, [period])
    link = qr = None
    if state.notice is not None:
        link = public_url(bank.code, state.notice)
        qr = qr_png_data_uri(link, box_size=6)
    return render_template("reports/month.html", bank=bank, s=state, link=link, qr=qr,
                           now=clock().now(), may_run=user.role in WRITERS,
                           message=message), status
