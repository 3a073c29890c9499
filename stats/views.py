"""The figures' endpoints and screens: a bank's months, the county's banks, dashboards, open data."""
from __future__ import annotations

import base64

from flask import Blueprint, Response, jsonify, render_template

from ground.db import get_session
from ground.errors import Forbidden
from web.pdf import render_pdf
from web.api import clock, query_text
from web.auth import READERS, current_user, scoped_bank
from web.i18n import language

from . import dashboard, figures, opendata, schemas, services

bp = Blueprint("stats", __name__, template_folder="templates")

API = "/api/v1"
COUNTY = frozenset({"admin"})
#: Who sees a bank's dashboard: the council (clerk, reviewer), the supervisor and the county.
DASHBOARD_READERS = READERS


# --- the API -------------------------------------------------------------------------------------

@bp.get(f"{API}/banks/<bank>/stats")
def bank_stats(bank):
    """The bank's figures month by month: the figures kept and the transfers since the daily close.
    ---
    get:
      parameters:
        - {name: from, in: query, description: "first month, YYYY-MM (default: 11 months before `to`)",
           schema: {type: string, pattern: "^[0-9]{4}-[0-9]{2}$"}}
        - {name: to, in: query, description: "last month, YYYY-MM (default: this month); at most 120 months in all",
           schema: {type: string, pattern: "^[0-9]{4}-[0-9]{2}$"}}
      responses:
        200: {content: {application/json: {schema: BankStatsOut}}}
    """
    bank, _ = scoped_bank(bank, DASHBOARD_READERS)
    first, last = services.parse_range(query_text("from", max_len=20), query_text("to", max_len=20),
                                       today=clock().today())
    return jsonify(schemas.BankStatsOut().dump(
        {"months": services.bank_months(get_session(), bank, first, last, clock=clock())}))


@bp.get(f"{API}/county/stats")
def county_stats():
    """Every bank's figures for one month (county admin): coverage warnings first, then by participation.
    ---
    get:
      parameters:
        - {name: month, in: query, description: "YYYY-MM (default: this month)",
           schema: {type: string, pattern: "^[0-9]{4}-[0-9]{2}$"}}
      responses:
        200: {content: {application/json: {schema: CountyStatsOut}}}
    """
    _county_admin()
    month = services.parse_month(query_text("month", max_len=20), today=clock().today())
    return jsonify(schemas.CountyStatsOut().dump({
        "month": figures.month_text(month),
        "banks": services.county_banks(get_session(), month, clock=clock())}))


@bp.get(f"{API}/banks/<bank>/open-data/<year:year>.zip")
def open_data(bank, year):
    """The year's aggregate figures as CSV files (UTF-8 with BOM) and a README of their fields;
    public, no login, and no name of any resident.
    ---
    get:
      security: []
      responses:
        200: {content: {application/zip: {}}}
    """
    found, months = services.open_year(get_session(), bank, year, clock=clock())
    data = opendata.year_zip(found, year, months, made_on=clock().today())
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{found.code}-{year}.zip"',
        "Cache-Control": "public, max-age=3600"})


def _county_admin():
    user = current_user()
    if user.role not in COUNTY:
        raise Forbidden()
    return user


# --- the screens ---------------------------------------------------------------------------------

def _on_paper(context: dict) -> dict:
    # On paper each chart is an image of its own: WeasyPrint draws an SVG image with its own
    # renderer (text stays text), where inline SVG would pass through the page's CSS cascade.
    charts = ["data:image/svg+xml;base64," + base64.b64encode(c.encode("utf-8")).decode("ascii")
              for c in context["charts"]]
    return {**context, "charts": charts}


def _pdf(html: str, name: str) -> Response:
    return Response(render_pdf(html, when=clock().now()), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.get("/banks/<bank>/dashboard")
def bank_dashboard(bank):
    """The bank's dashboard for the council and the supervisor: twelve months at a glance."""
    bank, _ = scoped_bank(bank, DASHBOARD_READERS)
    context = dashboard.bank_dashboard(get_session(), bank, clock=clock(), lang=language())
    return render_template("stats/bank.html", **context)


@bp.get("/banks/<bank>/dashboard.pdf")
def bank_dashboard_pdf(bank):
    """The bank's dashboard on A4, for the council meeting."""
    bank, _ = scoped_bank(bank, DASHBOARD_READERS)
    context = dashboard.bank_dashboard(get_session(), bank, clock=clock(), lang=language())
    return _pdf(render_template("stats/bank_paper.html", **_on_paper(context)), f"{bank.code}-dashboard.pdf")


@bp.get("/county/dashboard")
def county_dashboard():
    """The county's dashboard for the admin: every bank ranked, late notices, the months."""
    _county_admin()
    return render_template("stats/county.html",
                           **dashboard.county_dashboard(get_session(), clock=clock(), lang=language()))


@bp.get("/county/dashboard.pdf")
def county_dashboard_pdf():
    """The county's dashboard on A4."""
    _county_admin()
    context = dashboard.county_dashboard(get_session(), clock=clock(), lang=language())
    return _pdf(render_template("stats/county_paper.html", **_on_paper(context)), "county-dashboard.pdf")
