"""The desk's paper: A6 receipts, the quarter's desk summary and the fund's disclosure, as PDF."""
from __future__ import annotations

from datetime import datetime, time, timezone

from flask import render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from ground.clock import Clock
from ledger.models import Household, Resident
from ground.tenants import Bank
from web.pdf import render_pdf

from .services import books, catalog, fund, reading

RECEIPT_CSS = """
@page { size: A6; margin: 7mm 7mm 9mm; @bottom-center { content: none; } }
html { font-size: 9pt; }
h1 { font-size: 12pt; margin: 0 0 2mm; }
th, td { padding: 0.8mm 1.2mm; }
/* the figures keep their columns (数量 and 积分 on one line each), a long item folds in its own */
table.lines { table-layout: fixed; }
table.lines col.qty { width: 11mm; } table.lines col.pts { width: 17mm; }
table.lines th.num, table.lines td.num { white-space: nowrap; }
table.lines td.item { overflow-wrap: anywhere; }
.nobr { white-space: nowrap; }
.receipt p { overflow-wrap: anywhere; }
"""

#: Money columns of one width on every table of a page, so the figures line up down the page.
TABLE_CSS = "td.num, th.num { width: 32mm; white-space: nowrap; }"

#: The desk summary: the item's name has the room (A4 less the margins: 182mm), the figures
#: just what they need; the headings fold at their spaces (English), the figures never.
SUMMARY_CSS = """
table.summary { table-layout: fixed; font-size: 9.5pt; }
table.summary col.sku { width: 22mm; } table.summary col.fig { width: 20mm; }
table.summary col.money { width: 26mm; }
table.summary td.num { white-space: nowrap; }
table.summary td.sku, table.summary td.item { overflow-wrap: anywhere; }
"""


def receipt_context(session: Session, bank: Bank, redemption_id: int) -> dict:
    """Return what a receipt shows: who, what, for how many points, the balance left."""
    outcome = reading.get_redemption(session, bank, redemption_id)
    resident = session.get(Resident, outcome.redemption.resident_id)
    return {"bank": bank, "redemption": outcome.redemption, "lines": outcome.lines,
            "reversed": reading.reversed_lines(session, outcome.lines), "resident": resident,
            "household": session.get(Household, resident.household_id),
            "first_seq": min((t.seq for t in outcome.transfers), default=None)}


def _stamp(day) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=timezone.utc)


def receipt_pdf(session: Session, bank: Bank, redemption_id: int) -> bytes:
    """Render a redemption's receipt as an A6 PDF."""
    context = receipt_context(session, bank, redemption_id)
    html = render_template("redemption/receipt_pdf.html", **context)
    return render_pdf(html, css=RECEIPT_CSS, when=context["redemption"].recorded_at)


def summary_pdf(session: Session, bank: Bank, year: int, quarter: int, *, clock: Clock) -> bytes:
    """Render the quarter's desk summary as an A4 PDF."""
    data = reading.desk_summary(session, bank, year, quarter)
    html = render_template("redemption/summary_pdf.html", **data, printed_on=clock.today())
    return render_pdf(html, css=SUMMARY_CSS, when=_stamp(min(data["last"], clock.today())))


#: Sections other parts of the fund add to the quarter's disclosure (the community foundation's
#: work, say): each is called with (session, bank, year, quarter, clock) and returns HTML. A plug-in
#: point: zongzhi.plugins fills it with what the wings declare, so this package need not know who
#: they are.
DISCLOSURE_SECTIONS: list = []


def disclosure_pdf(session: Session, bank: Bank, year: int, quarter: int, *, clock: Clock) -> bytes:
    """Render the quarter's financial disclosure (财务公开) as an A4 PDF with signature lines."""
    data = fund.disclosure(session, bank, year, quarter, clock=clock)
    items = {i.id: i for i in catalog.list_items(session, bank)}
    sections = [Markup(section(session, bank, year, quarter, clock)) for section in DISCLOSURE_SECTIONS]
    html = render_template("redemption/disclosure.html", **data, items=items,
                           sources=books.SOURCE_NAMES, sections=sections)
    return render_pdf(html, css=TABLE_CSS, when=_stamp(data["as_of"]))
