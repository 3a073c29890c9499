"""The one navigation of the staff screens: each role is shown only the pages it may open.

Each link names the role set its page's view checks (web/auth.py), so the navigation and the
views cannot drift apart; each link's words are the heading of the page it opens.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from sqlalchemy import select

from ground.db import get_session
from ground.tenants import Bank

from .auth import AUDITORS, EVERY_ROLE, READERS, REDEEMERS, REVIEWERS, WRITERS
from .users import USER_READERS


@dataclass(frozen=True)
class Link:
    endpoint: str
    #: The words of the link: the <h1> of the page it opens (None: the bank's own name).
    label: object
    #: Who may open the page: the very set its view passes to scoped_bank.
    roles: frozenset[str]


#: The bank's pages, in the order a clerk's month runs through them.
BANK_LINKS = (
    Link("office.index", None, EVERY_ROLE),
    Link("office.deed_form", _l("登分"), WRITERS),
    Link("office.penalty_form", _l("扣分"), WRITERS),
    Link("office.residents", _l("居民"), EVERY_ROLE),
    Link("office.households", lazy_pgettext("heading", "户"), READERS),
    Link("office.pending", _l("待审核"), READERS),
    Link("office.register", _l("登分簿"), READERS),
    Link("office.roster_import", _l("居民名册"), READERS),
    Link("report_screens.months", _l("月公示"), READERS),
    Link("report_screens.objections_inbox", lazy_pgettext("office", "异议"), READERS),
    Link("redemption.desk", _l("兑换台"), REDEEMERS),
    Link("redemption.windows", lazy_pgettext("heading", "兑换期"), REVIEWERS),
    Link("redemption.goods", _l("商品与库存"), WRITERS),
    Link("redemption.fund", _l("综治基金"), READERS),
    Link("cards.cards_screen", _l("积分卡"), WRITERS),
    Link("foundation.index", _l("社区基金"), READERS),
    Link("report_screens.commendation", _l("年表彰"), READERS),
    Link("office.rules_screen", _l("积分规则"), EVERY_ROLE),
    Link("office.audit_log", _l("操作日志"), AUDITORS),
    Link("office.users", _l("用户"), USER_READERS),
    Link("stats.bank_dashboard", _l("数据看板"), READERS),
)
#: The county admin's pages, outside any one bank.
COUNTY_LINKS = (Link("office.admin_banks", _l("县级管理"), frozenset({"admin"})),
                Link("stats.county_dashboard", _l("全县看板"), frozenset({"admin"})),
                Link("cycle.status", _l("周期任务"), frozenset({"admin"})))

#: Where each role's work is: the page it lands on after signing in.
LANDING = {"clerk": "office.index", "reviewer": "office.pending", "supervisor": "report_screens.months",
           "desk": "redemption.desk"}


def links_for(role: str, bank: Bank | None) -> list[tuple[str, str]]:
    """Return the (words, address) of each page this role may open, in the bank if one is given."""
    shown = []
    if bank is not None:
        shown += [(str(link.label) if link.label is not None else bank.name,
                   url_for(link.endpoint, bank=bank.code))
                  for link in BANK_LINKS if role in link.roles]
    shown += [(str(link.label), url_for(link.endpoint)) for link in COUNTY_LINKS if role in link.roles]
    return shown


def landing(user, bank: Bank | None) -> str | None:
    """Return the address of the page where this user's work is, or None for the list of banks."""
    endpoint = LANDING.get(user.role)
    if endpoint is None or bank is None:
        return None
    return url_for(endpoint, bank=bank.code)


def users_bank(user) -> Bank | None:
    """Return the bank a staff page is about: the user's own, or for the county admin the one in the path."""
    session = get_session()
    if user.bank_id is not None:
        return session.get(Bank, user.bank_id)
    code = (request.view_args or {}).get("bank")
    if not isinstance(code, str):
        code = getattr(code, "code", None)
    if not code:
        return None
    return session.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()


def _staff_nav() -> dict:
    user = g.get("user") or (current_user._get_current_object()
                             if current_user and current_user.is_authenticated else None)
    if user is None or not getattr(user, "is_authenticated", False):
        return {"staff_nav": [], "staff_home": url_for("home.index")}
    bank = users_bank(user)
    # The brand at the top leads back to where this user's work is, as signing in does.
    return {"staff_nav": links_for(user.role, bank),
            "staff_home": landing(user, bank) or url_for("home.index")}


def init_app(app: Flask) -> None:
    app.context_processor(_staff_nav)
