"""The reports' endpoints: the monthly notice (JSON, PDF, HTML), objections, the day's register,
the commendation's honour roll and certificates."""
from __future__ import annotations

import functools

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for

from ledger import formatting, periods
from ground.db import get_session
from ground.errors import NotFound, ValidationError
from ground.i18n import _, current_language
from web.api import clock, load, page, page_args, query_text
from ledger.answers import idempotency
from web.auth import READERS, REVIEWERS, WRITERS, scoped_bank

from . import objections, paper, schemas, services
from .models import Snapshot
from .register import day_register, overdue_pending

bp = Blueprint("reports", __name__, template_folder="templates")

API = "/api/v1/banks/<bank>"
_objection = schemas.ObjectionOut()


def _day(text: str):
    return periods.parse_period("day", text, field="day").start


# --- the monthly notice ------------------------------------------------------------------------

def _notice_json(snapshot: Snapshot, bank) -> dict:
    content = services.content_of(snapshot)
    seal = periods.get_seal(get_session(), bank.id, snapshot.period)
    return {**content, "snapshot_hash": snapshot.content_hash,
            "sealed": {"at": seal.sealed_at.isoformat(), "by": seal.sealed_by,
                       "head": {"seq": seal.head_seq, "hash": seal.head_hash}} if seal else None}


def public_url(bank_code: str, snapshot: Snapshot) -> str:
    """The notice's public address, as its QR code holds it: under ZONGZHI_PUBLIC_URL when set
    (as the cards' codes are), else the address the page was opened at."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for("reports.public_notice", bank=bank_code, month=snapshot.period,
                                          key=snapshot.content_hash[:16])
    return url_for("reports.public_notice", bank=bank_code, month=snapshot.period,
                   key=snapshot.content_hash[:16], _external=True)


@functools.lru_cache(maxsize=64)
def _notice_pdf(content: str, snapshot_hash: str, qr_url: str, tz, lang: str) -> bytes:
    # `lang`, the request's language the paper renders in, is part of what the cache keys on.
    import json

    return paper.notice_pdf(json.loads(content), snapshot_hash, qr_url=qr_url, tz=tz)


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.get(f"{API}/notices/<month:month>")
def notice(bank, month):
    """The month's frozen notice (月公示) as JSON; `.pdf` for the printable one.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: NoticeOut}}}
        404: {description: "no notice for that month yet", content: {application/json: {schema: ErrorOut}}}
        422: {description: "not a month", content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS | {"desk"})
    snapshot = services.get_notice(get_session(), bank, month)
    return jsonify(_notice_json(snapshot, bank))


@bp.get(f"{API}/notices/<month:month>.pdf")
def notice_pdf(bank, month):
    """The month's notice, printable: A4 PDF with its chain head, hash and signature lines.
    ---
    get:
      responses:
        200: {content: {application/pdf: {}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS | {"desk"})
    snapshot = services.get_notice(get_session(), bank, month)
    data = _notice_pdf(snapshot.content, snapshot.content_hash, public_url(bank.code, snapshot), clock().tz,
                       current_language())
    return _pdf(data, f"{bank.code}-notice-{snapshot.period}.pdf")


@bp.get("/banks/<bank>/notices/<month:month>")
def notice_page(bank, month):
    """The month's notice as a page, for signed-in users of the bank."""
    bank, _user = scoped_bank(bank, READERS | {"desk"})
    snapshot = services.get_notice(get_session(), bank, month)
    return _render_notice(bank, snapshot)


def _public_snapshot(bank: str, month: str, key: str):
    """Return (bank, snapshot) the QR's address names, or 404: no login, the key is the start of
    the snapshot's hash (16 hex digits at least), so only someone holding the paper finds it."""
    from sqlalchemy import select

    from ground.tenants import Bank
    from ledger.replica import reading_session

    session = reading_session()
    found = session.execute(select(Bank).where(Bank.code == bank)).scalar_one_or_none()
    snapshot = services.get_snapshot(session, found.id, "notice", month) if found else None
    if snapshot is None or len(key) < 16 or not snapshot.content_hash.startswith(key):
        abort(404)
    return found, snapshot


@bp.get("/n/<bank>/<month:month>/<key>")
def public_notice(bank, month, key):
    """The notice as the QR code on the paper opens it: no login, the key is the snapshot's hash."""
    found, snapshot = _public_snapshot(bank, month, key)
    return _render_notice(found, snapshot, pdf_url=url_for(
        "reports.public_notice_pdf", bank=found.code, month=snapshot.period, key=key))


@bp.get("/n/<bank>/<month:month>/<key>.pdf")
def public_notice_pdf(bank, month, key):
    """The printable notice for whoever holds the public link: the same key check as the page."""
    found, snapshot = _public_snapshot(bank, month, key)
    data = _notice_pdf(snapshot.content, snapshot.content_hash, public_url(found.code, snapshot), clock().tz,
                       current_language())
    return _pdf(data, f"{found.code}-notice-{snapshot.period}.pdf")


def _render_notice(bank, snapshot, pdf_url: str | None = None):
    content = services.content_of(snapshot)
    return render_template("reports/notice.html", n=paper.notice_view(content, clock().tz),
                           snapshot_hash=snapshot.content_hash, qr=None,
                           pdf_url=pdf_url or url_for("reports.notice_pdf", bank=bank.code, month=snapshot.period))


# --- objections (异议) ----------------------------------------------------------------------------

@bp.post(f"{API}/objections")
def file_objection(bank):
    """File a resident's objection against an entry, or a deed missing from a month.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ObjectionIn}}}
      responses:
        201: {content: {application/json: {schema: ObjectionOut}}}
        404: {description: "unknown resident or entry (or another bank's)", content: {application/json: {schema: ErrorOut}}}
        409: {description: "objection_window_closed, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ObjectionIn())
    filed = objections.file_objection(get_session(), bank, resident_id=data["resident"],
                                      transfer_id=data["transfer"], month=data["month"], text=data["text"],
                                      filed_by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_objection.dump(filed)), 201


@bp.get(f"{API}/objections")
def list_objections(bank):
    """List the bank's objections, oldest first; `?status=open|upheld|rejected`, `?month=YYYY-MM`.
    ---
    get:
      parameters:
        - {name: status, in: query, schema: {type: string, enum: [open, upheld, rejected]}}
        - {name: month, in: query, schema: {type: string, pattern: "^[0-9]{4}-[0-9]{2}$"}}
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: ObjectionPage}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    status = request.args.get("status")
    if status and status not in ("open", "upheld", "rejected"):
        raise ValidationError({"status": [_("须为 open、upheld 或 rejected")]})
    limit, after = page_args()
    month = query_text("month", max_len=20)
    found = objections.list_objections(get_session(), bank, status=status, month=month,
                                       limit=limit + 1, after=after)
    result = page(found, limit, lambda o: o.id)
    result["items"] = _objection.dump(result["items"], many=True)
    return jsonify(result)


@bp.get(f"{API}/objections/<int:objection_id>")
def show_objection(bank, objection_id):
    """Show one objection.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ObjectionOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    return jsonify(_objection.dump(objections.get_objection(get_session(), bank, objection_id)))


@bp.post(f"{API}/objections/<int:objection_id>/uphold")
def uphold_objection(bank, objection_id):
    """Uphold an objection: the correction (a reversal, or the missing deed) is posted today, linked.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: UpholdIn}}}
      responses:
        200: {content: {application/json: {schema: ObjectionOut}}}
        409: {description: "already_decided, already_reversed, cap_exceeded, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.UpholdIn())
    decided = objections.uphold_objection(get_session(), bank, objection_id, correction=data["correction"],
                                          reason=data["reason"], rule=data["rule"], quantity=data["quantity"],
                                          by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_objection.dump(decided))


@bp.post(f"{API}/objections/<int:objection_id>/reject")
def reject_objection(bank, objection_id):
    """Reject an objection with a reason.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: RejectIn}}}
      responses:
        200: {content: {application/json: {schema: ObjectionOut}}}
        409: {description: "already_decided, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.RejectIn())
    decided = objections.reject_objection(get_session(), bank, objection_id, reason=data["reason"],
                                          by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_objection.dump(decided))


# --- the day's register (登分簿) -------------------------------------------------------------------

@bp.get(f"{API}/registers/<day:day>")
def register(bank, day):
    """The day's register: entries recorded that day, totals per rule, and its close once closed.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: RegisterOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    session = get_session()
    wanted = _day(day)
    closed = services.get_snapshot(session, bank.id, "day", wanted.isoformat())
    return jsonify({**day_register(session, bank, wanted, clock=clock()).as_dict(),
                    "closed": services.content_of(closed) if closed else None})


@bp.get(f"{API}/registers/<day:day>.pdf")
def register_pdf(bank, day):
    """The day's register, printable, with signature lines for the clerk and a reviewer.
    ---
    get:
      responses:
        200: {content: {application/pdf: {}}}
    """
    from datetime import timedelta

    bank, _user = scoped_bank(bank, READERS)
    session = get_session()
    wanted = _day(day)
    closed = services.get_snapshot(session, bank.id, "day", wanted.isoformat())
    content = services.content_of(closed) if closed else None
    overdue = len(content["pending_overdue"]) if content else len(
        overdue_pending(session, bank, before=clock().now() - timedelta(days=1)))
    data = paper.register_pdf(bank, day_register(session, bank, wanted, clock=clock()),
                              head=content["head"] if content else None, overdue=overdue,
                              when=closed.created_at if closed else None)
    return _pdf(data, f"{bank.code}-register-{wanted.isoformat()}.pdf")


# --- 季度汇总 -------------------------------------------------------------------------------------

@bp.get(f"{API}/quarters/<quarter>")
def quarter_summary(bank, quarter):
    """The quarter's summary (季度汇总), frozen when its redemption window opens: each resident's
    and household's quarter from the months' notices, ranked (.pdf to print).
    ---
    get:
      responses:
        200: {description: "the frozen summary, or its PDF", content: {application/json: {}, application/pdf: {}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    as_pdf = quarter.endswith(".pdf")
    key = periods.parse_period("quarter", quarter.removesuffix(".pdf"), field="quarter").key
    snapshot = services.get_snapshot(get_session(), bank.id, "quarter", key)
    if snapshot is None:
        raise NotFound(_("找不到 %(quarter)s 的季度汇总", quarter=key))
    if as_pdf:
        data = paper.quarter_pdf(services.content_of(snapshot), snapshot.content_hash, when=snapshot.created_at)
        return _pdf(data, f"{bank.code}-quarter-{key}.pdf")
    return jsonify({**services.content_of(snapshot), "snapshot_hash": snapshot.content_hash})


# --- 年表彰 ---------------------------------------------------------------------------------------

def _year(bank, year: str) -> Snapshot:
    key = periods.parse_period("year", year, field="year").key
    snapshot = services.get_snapshot(get_session(), bank.id, "year", key)
    if snapshot is None:
        raise NotFound(_("找不到 %(year)s年的表彰", year=key))
    return snapshot


@bp.get(f"{API}/commendations/<year>")
def commendation(bank, year):
    """The year's commendation: awards by title, rankings per category and household, the tie rule.
    ---
    get:
      responses:
        200: {description: "the frozen commendation"}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    if year.endswith(".pdf"):
        return honour_roll(bank, year.removesuffix(".pdf"))
    bank, _user = scoped_bank(bank, READERS)
    snapshot = _year(bank, year)
    return jsonify({**services.content_of(snapshot), "snapshot_hash": snapshot.content_hash})


@bp.get(f"{API}/commendations/<year>.pdf")
def honour_roll(bank, year):
    """The year's honour roll (光荣榜), A4 landscape.
    ---
    get:
      responses:
        200: {content: {application/pdf: {}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    snapshot = _year(bank, year)
    data = paper.honour_roll_pdf(services.content_of(snapshot), snapshot.content_hash, when=snapshot.created_at)
    return _pdf(data, f"{bank.code}-honour-roll-{snapshot.period}.pdf")


@bp.get(f"{API}/commendations/<year>/certificates/<int:award>/<int:place>.pdf")
def certificate(bank, year, award, place):
    """One certificate (奖状): the `place`-th awardee of the `award`-th title (both from 1).
    ---
    get:
      responses:
        200: {content: {application/pdf: {}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    snapshot = _year(bank, year)
    content = services.content_of(snapshot)
    awards = content["awards"]
    if not 1 <= award <= len(awards) or not 1 <= place <= len(awards[award - 1]["awardees"]):
        raise NotFound(_("找不到该奖状"))
    chosen = awards[award - 1]
    issued = snapshot.created_at.astimezone(clock().tz).date()
    data = paper.certificate_pdf(content, chosen, chosen["awardees"][place - 1],
                                 issued=formatting.day(issued, current_language()), when=snapshot.created_at)
    return _pdf(data, f"{bank.code}-certificate-{snapshot.period}-{award}-{place}.pdf")


def init_app(app) -> None:
    """The API's writes authenticate by bearer token, not by cookie: no CSRF form token to check."""
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        for view in (file_objection, uphold_objection, reject_objection):
            csrf.exempt(view)
