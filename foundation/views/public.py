"""The views of what the foundation shows: the quarterly report as data and as a PDF, and the
public page of funded projects and the wish wall, with its photos (no login).
"""
from __future__ import annotations

import json

from flask import Response, current_app, render_template

from ground.db import get_session
from ledger.replica import reading_session
from ledger.banks import get_bank
from web.api import clock
from web.auth import READERS, scoped_bank

from ..attachments import attachment_file
from ..blueprint import api, bp
from ..public import public_projects, quarter_report, wish_wall
from .common import _files_root, _screen_bank, _send


# --- API: the quarterly report -----------------------------------------------------------------

@api.get("/reports/<year:year>-Q<int(max=4):quarter>")
def quarter_json(bank, year, quarter):
    """The foundation's work in a quarter, as data.
    ---
    get:
      responses:
        200: {description: "applications, decisions, tranches, completions, wishes and totals"}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    report = quarter_report(get_session(), bank, year, quarter, tz=clock().tz)
    return current_app.response_class(json.dumps(report, default=str, ensure_ascii=False),
                                      mimetype="application/json")


@api.get("/reports/<year:year>-Q<int(max=4):quarter>.pdf")
def quarter_pdf(bank, year, quarter):
    """The foundation's work in a quarter, printable (A4 PDF).
    ---
    get:
      responses:
        200: {description: "the PDF", content: {application/pdf: {}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    return _pdf(bank, year, quarter)


def _pdf(bank, year, quarter):
    from web.pdf import render_pdf

    report = quarter_report(get_session(), bank, year, quarter, tz=clock().tz)
    html = render_template("foundation/quarter_pdf.html", report=report, printed_at=clock().now())
    pdf = render_pdf(html, when=clock().now())
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="foundation-{bank.code}-{year}-Q{quarter}.pdf"'})


# --- screens -----------------------------------------------------------------------------------

@bp.get("/foundation/<bank>/quarter/<year:year>-Q<int(max=4):quarter>.pdf")
def screen_quarter_pdf(bank, year, quarter):
    bank, _user = _screen_bank(bank)
    return _pdf(bank, year, quarter)


# --- the public page: no login -----------------------------------------------------------------

@bp.get("/p/<bank>/foundation")
def public(bank):
    session = reading_session()
    bank = get_bank(session, bank)
    projects = public_projects(session, bank)
    return render_template("foundation/public.html", bank=bank, projects=projects,
                           wishes=wish_wall(session, bank),
                           total_awarded=sum(p["awarded"] or 0 for p in projects),
                           total_disbursed=sum(p["disbursed"] for p in projects))


@bp.get("/p/<bank>/foundation/photos/<int:application_id>/<int:attachment_id>")
def public_photo(bank, application_id, attachment_id):
    session = reading_session()
    bank = get_bank(session, bank)
    attachment, path = attachment_file(session, bank, application_id, attachment_id,
                                       instance_path=_files_root(), public=True)
    return _send(attachment, path)
