"""What each dashboard shows: the figures, read once, and the charts drawn from them.

The same context renders the screen and its A4 print, so the paper shows what the screen does.
Words go through gettext, so the charts speak the reader's language as the page does.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ledger import formatting
from ground.clock import Clock
from ground.tenants import Bank

from . import charts, figures, services

#: Months a dashboard shows, up to the current one.
DASHBOARD_MONTHS = 12


def _label(month_text: str, lang: str) -> str:
    year, month = (int(p) for p in month_text.split("-"))
    if lang == "en":
        return formatting.month(year, month, lang)
    return f"{month}月" if month != 1 else f"{year}年1月"


def _words(lang: str):
    """Return a function saying a YYYY-MM month in words: 2026年10月, or Oct 2026."""
    return lambda text: formatting.month(int(text[:4]), int(text[5:7]), lang)


def bank_dashboard(session: Session, bank: Bank, *, clock: Clock, lang: str) -> dict:
    """Return a bank's dashboard: the last 12 months' figures and their six charts."""
    first, last = services.previous_months(clock.today(), DASHBOARD_MONTHS)
    months = services.bank_months(session, bank, first, last, clock=clock)
    labels = [_label(m["month"], lang) for m in months]
    current = months[-1]
    categories = list(months[-1]["points_by_category"])
    penalties: dict[str, list] = {}
    for m in months:
        for p in m["penalties_by_rule"]:
            entry = penalties.setdefault(p["rule"], [p["name"], 0])
            entry[1] += p["points"]
    worst = sorted(penalties.values(), key=lambda p: -p[1])[:10]
    ytd = services.year_so_far(session, bank, clock.today())
    year_labels = [formatting.month(ytd["year"], m, lang) if lang == "en" else f"{m}月" for m in ytd["months"]]
    warning = current["coverage_warning_percent"]
    return {
        "bank": bank, "months": months, "current": current, "month_words": _words(lang),
        "charts": [
            charts.lines(_("参与率（%）"), labels,
                         [(_("参与率"), [m["participation_percent"] for m in months])], percent=True),
            charts.bars(_("各类积分"), labels,
                        [(c, [m["points_by_category"].get(c, 0) for m in months]) for c in categories],
                        unit=_("分")),
            charts.ranking(_("扣分（按规则，近十二个月）"), [p[0] for p in worst] or [_("无扣分")],
                           [p[1] for p in worst] or [0], unit=_("分")),
            charts.bars(_("兑换积分"), labels, [(_("兑换"), [m["redeemed_points"] for m in months])],
                        unit=_("分")),
            charts.lines(_("基金保障率（%）"), labels,
                         [(_("保障率"), [m["coverage_percent"] for m in months])],
                         line=(_("预警线 %(p)s%%", p=warning), warning), percent=True),
            charts.lines(_("今年累计积分与去年同期"), year_labels,
                         [(_("%(y)s年", y=ytd["year"]), ytd["this_year"]),
                          (_("%(y)s年", y=ytd["year"] - 1), ytd["last_year"])], unit=_("分")),
        ],
    }


def county_dashboard(session: Session, *, clock: Clock, lang: str) -> dict:
    """Return the county's dashboard: last month's banks ranked, late notices, and the months."""
    month = services.last_month(clock.today())
    first, last = services.previous_months(clock.today(), DASHBOARD_MONTHS)
    banks, months = services.county(session, month, first, last, clock=clock)
    labels = [_label(m["month"], lang) for m in months]
    return {
        "month": figures.month_text(month), "banks": banks, "month_words": _words(lang),
        "late": [b for b in banks if b["notice_late"]],
        "warnings": [b for b in banks if b["coverage_warning"]],
        "months": months,
        "charts": [
            charts.lines(_("全县参与率（%）"), labels,
                         [(_("参与率"), [m["participation_percent"] for m in months])], percent=True),
            charts.bars(_("全县积分与扣分"), labels,
                        [(_("积分"), [m["points"] for m in months]),
                         (_("扣分"), [m["penalty_points"] for m in months])], unit=_("分"), stacked=False),
        ],
    }
