"""The resident's page a card opens (no login), a card read at the desk, and the clerk's card issue,
revocation and sheets."""
from __future__ import annotations

from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template, request,
                   url_for)

from ledger import banks, formatting, people
from ledger.answers import idempotency
from ground.db import get_session
from ledger.models import Household
from ledger.replica import reading_session
from rules import bounds
from ground.errors import NotFound, ValidationError, ZongzhiError
from ground.i18n import _
from web.i18n import language
from web.api import clock, load, no_body, query_text
from web.forms import typed_whole
from web.auth import REDEEMERS, WRITERS, scoped_bank

from . import schemas, services, sheet
from .address import card_or_refusal

bp = Blueprint("cards", __name__, template_folder="templates")


def _base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or request.url_root


# --- the resident's page -------------------------------------------------------------------------

@bp.route("/c/<path:address>", methods=["GET", "POST"])
def no_such_card(address):
    """Any other address under /c/ (a token longer than any card's, one cut or run together with
    more), read or posted to: the page a card that is not there gets, in the reader's language.
    ---
    get:
      security: []
      responses:
        404: {description: "no such card", content: {text/html: {}}}
        429: {description: "this address missed too many cards", content: {text/html: {}}}
    post:
      security: []
      responses:
        404: {description: "no such card", content: {text/html: {}}}
        429: {description: "this address missed too many cards", content: {text/html: {}}}
    """
    return card_or_refusal("", reading_session())[1]


@bp.get("/c/<token>")
def card_page(token):
    """A resident's card page, no sign-in: balance, the entries of the year by month, the
    latest notice, objections and their answers (HTML).
    ---
    get:
      security: []
      responses:
        200: {description: "the card's page", content: {text/html: {}}}
        404: {description: "no such card, or one revoked", content: {text/html: {}}}
        429: {description: "this address missed too many cards: Retry-After says when to try again",
              content: {text/html: {}}}
    """
    session = reading_session()
    card, refusal = card_or_refusal(token, session)
    if refusal:
        return refusal
    page = services.card_page(session, card, clock=clock())
    from redemption.services.windows import next_window

    page["window"] = next_window(session, page["bank"], page["today"], cycle=page["settings"].cycle)
    page["notice_url"] = _notice_url(page["bank"], page["notice"])
    # Only months with entries carry objection links; the form itself offers every open month.
    _mark_open_months(session, page, only_with_entries=True)
    from reports.objections import objections_of_residents

    # The holder's objections and the council's answers (upheld or rejected, with the reason).
    page["objections"] = objections_of_residents(session, page["bank"].id, page["doers"])
    response = Response(render_template("cards/page.html", token=token, month_title=month_title,
                                        **page))
    # The page is the holder's alone: no shared cache keeps it, no referrer carries the token.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def month_title(value) -> str:
    """Return a month (a date in it, or "YYYY-MM") as the reader reads it: 2026年11月, Nov 2026."""
    if isinstance(value, str):
        year, number = int(value[:4]), int(value[5:7])
    else:
        year, number = value.year, value.month
    return formatting.month(year, number, language())


def _mark_open_months(session, page, *, only_with_entries: bool = False) -> None:
    from reports.objections import objection_windows

    def key(month):
        return f"{month['start'].year:04d}-{month['start'].month:02d}"

    asked = [key(month) for month in page["months"] if month["entries"] or not only_with_entries]
    windows = objection_windows(session, page["bank"].id, asked, clock())
    for month in page["months"]:
        window = windows.get(key(month))
        month["open"] = window is not None and window[0]


def _notice_url(bank, notice) -> str | None:
    if notice is None:
        return None
    return url_for("reports.public_notice", bank=bank.code, month=notice["month"], key=notice["key"])


@bp.route("/c/<token>/object", methods=["GET", "POST"])
def object_to_entry(token):
    """The form to object to one of the holder's entries, or to a deed missing from a month;
    filed, the resident is sent (303) to the page that says so, so a reload files nothing again.
    Refused, the form comes back with the reason: 422 (the text, the member), 409 (the month is
    closed), 429 (the card's objections of the day are filed).
    """
    card, refusal = card_or_refusal(token)
    if refusal:
        return refusal
    from reports.objections import OBJECTIONS_PER_DAY, TEXT_MAX, file_objection_once

    session = get_session()
    page = services.card_page(session, card, clock=clock())
    # A reversed entry, or a reversal, is not objected to: the form takes neither.
    entries = {e["id"]: e for m in page["months"] for e in m["entries"] if e["objectable"]}
    chosen = request.values.get("entry", type=int)
    entry = entries.get(chosen)
    error, problems, status, done = None, {}, 200, None
    if request.method == "POST":
        # The objection is the resident's who did the entry (a household card's member), or the
        # card holder's own for a missing deed.
        resident_id = entry["doer"] if entry else (
            page["resident"].id if page["resident"] else request.form.get("resident", type=int))
        if resident_id not in page["doers"]:
            resident_id = None
        try:
            if resident_id is None:
                raise ValidationError({"resident": [_("请选择是哪位家庭成员提出异议")]},
                                      _("请选择是哪位家庭成员提出异议"))
            filed = file_objection_once(session, page["bank"], resident_id=resident_id,
                                        transfer_id=entry["id"] if entry else None,
                                        month=None if entry else request.form.get("month"),
                                        text=request.form.get("text", ""),
                                        filed_by=f"card:{card.number}", clock=clock(),
                                        per_day=OBJECTIONS_PER_DAY)
        except ZongzhiError as err:
            error, problems, status = err.text(), err.field_texts(), err.status
        else:
            # POST, then redirect, then GET: reloading the answer files nothing again.
            shown = {"filed": filed.objection.id, **({} if filed.new else {"again": 1})}
            return redirect(url_for("cards.object_to_entry", token=token, **shown), 303)
    else:
        done = _filed(session, page, request.args.get("filed", type=int))
    _mark_open_months(session, page)
    choices = services.member_names(session, page["members"]) if page["resident"] is None else []
    # What was typed comes back, but never more than an objection may hold: the page stays small.
    typed = (request.form.get("text") or "")[:TEXT_MAX]
    response = Response(render_template(
        "cards/object.html", token=token, entry=entry, error=error, done=done,
        again=bool(request.args.get("again")), problems=problems, choices=choices, typed=typed,
        text_max=TEXT_MAX, month_title=month_title, **page), status=status)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _filed(session, page, objection_id):
    """The objection a filing sent the resident to see: the card's holders' own, else None."""
    if objection_id is None or not 1 <= objection_id <= bounds.MAX_WHOLE:
        return None
    from reports.objections import get_objection

    try:
        objection = get_objection(session, page["bank"], objection_id)
    except NotFound:
        return None
    return objection if objection.resident_id in page["doers"] else None


# --- a card read at the desk --------------------------------------------------------------------

@bp.post("/banks/<bank>/desk/scan")
def desk_scan(bank):
    """What the scanner typed: a card's URL opens its holder; anything else is a name search."""
    bank, _user = scoped_bank(bank, REDEEMERS)
    text = request.form.get("scan", "").strip()
    from redemption.services.windows import next_window

    token = services.token_in(text) if "/c/" in text or len(text) >= 22 else None
    if token:
        holder = services.card_holder(get_session(), bank, token)
        if holder is None:
            # The scan comes back as read, the reason beside it, for the desk to see what was read.
            today = clock().today()
            return render_template(
                "redemption/desk.html", bank=bank, q=text, found=None, holder=None, members=None,
                catalog=[], error=_("找不到这张卡：可能已挂失补办，或不是本村的卡"), today=today,
                window=next_window(get_session(), bank, today)), 422
        if isinstance(holder, Household):
            return redirect(url_for("redemption.desk", bank=bank.code, household=holder.code))
        return redirect(url_for("redemption.desk", bank=bank.code, resident=holder.id))
    return redirect(url_for("redemption.desk", bank=bank.code, q=text))


# --- issuing, revoking, printing (the clerk) -----------------------------------------------------

def _issued_json(issued) -> dict:
    return schemas.CardOut().dump({"token": issued.token, "number": issued.card.number,
                                   "url": sheet.card_url(_base_url(), issued.token)})


@bp.post("/api/v1/banks/<bank>/residents/<int:resident_id>/card")
def issue_resident_card(bank, resident_id):
    """Issue a resident a new card, revoking the old one at once.
    ---
    post:
      parameters:
        - IdempotencyKey
      responses:
        201: {content: {application/json: {schema: CardOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    no_body()
    session = get_session()
    people.get_resident(session, bank, resident_id)
    [issued] = services.issue_cards(session, bank, resident_ids=[resident_id], by=user.name,
                                    clock=clock(), idem=idempotency(), secret=current_app.secret_key)
    return jsonify(_issued_json(issued)), 201


@bp.post("/api/v1/banks/<bank>/households/<code>/card")
def issue_household_card(bank, code):
    """Issue a household a new card (points kept per household), revoking the old one.
    ---
    post:
      parameters:
        - IdempotencyKey
      responses:
        201: {content: {application/json: {schema: CardOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    no_body()
    session = get_session()
    if people.find_household(session, bank, code) is None:
        raise NotFound(_("找不到该住户"))
    [issued] = services.issue_cards(session, bank, household_codes=[code], by=user.name, clock=clock(),
                                    idem=idempotency(), secret=current_app.secret_key)
    return jsonify(_issued_json(issued)), 201


@bp.post("/api/v1/banks/<bank>/residents/<int:resident_id>/card/revoke")
def revoke_resident_card(bank, resident_id):
    """Revoke a resident's card at once (lost, or taken).
    ---
    post:
      parameters:
        - IdempotencyKey
      responses:
        200: {content: {application/json: {schema: RevokedOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    no_body()
    count = services.revoke_card(get_session(), bank, resident_id=resident_id, by=user.name,
                                 clock=clock(), idem=idempotency())
    return jsonify({"revoked": count})


@bp.post("/api/v1/banks/<bank>/households/<code>/card/revoke")
def revoke_household_card(bank, code):
    """Revoke a household's card at once.
    ---
    post:
      parameters:
        - IdempotencyKey
      responses:
        200: {content: {application/json: {schema: RevokedOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    no_body()
    count = services.revoke_card(get_session(), bank, household_code=code, by=user.name,
                                 clock=clock(), idem=idempotency())
    return jsonify({"revoked": count})


@bp.post("/api/v1/banks/<bank>/card-sheets")
def card_sheet(bank):
    """Print card sheets (A4 PDF, 8 or 10 a page): issues new cards, revoking the old ones.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: CardSheetIn}}}
      responses:
        200: {description: "the sheet (a retry with the key: the same cards again)",
              content: {application/pdf: {}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.CardSheetIn())
    return _sheet_response(bank, user, data["residents"], data["households"], data["all"],
                           data["per_page"], idem=idempotency())


def _sheet_response(bank, user, residents, households, whole, per_page, idem=None):
    session = get_session()
    issued = services.issue_cards(session, bank, resident_ids=residents, household_codes=households,
                                  whole_bank=whole, by=user.name, clock=clock(), idem=idem,
                                  secret=current_app.secret_key)
    pdf = sheet.render_sheet(issued, bank=bank, base_url=_base_url(), per_page=per_page,
                             when=clock().now())
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="cards-{bank.code}.pdf"',
        "Cache-Control": "no-store"})


@bp.route("/banks/<bank>/cards", methods=["GET", "POST"])
def cards_screen(bank):
    """The clerk's screen: choose residents (or the whole bank) and print their cards."""
    bank, user = scoped_bank(bank, WRITERS)
    try:
        return _cards_screen(bank, user)
    except ZongzhiError as err:
        if err.status == 404:
            raise
        # Refused: the screen again with what was ticked still ticked, the problem beside it.
        return _cards_page(bank, typed=request.form, message=err.text(),
                           problems=err.field_texts()), err.status


def _cards_page(bank, *, typed=None, message=None, problems=None):
    session = get_session()
    q = query_text("q")
    unit = banks.rulebook(session, bank.id)[1].settings.account_unit
    return render_template("cards/cards.html", bank=bank, rows=services.holders_overview(session, bank, q=q),
                           unit=unit, q=q or "", typed=typed or {}, message=message, problems=problems or {})


def _cards_screen(bank, user):
    session = get_session()
    if request.method == "POST":
        # The form is read as the API's body, so it meets the same bounds (422 naming the field).
        data = load(schemas.CardSheetIn(), {
            "residents": [typed_whole(v) for v in request.form.getlist("resident")],
            "households": request.form.getlist("household"),
            "all": request.form.get("all") == "1",
            "per_page": 8 if request.form.get("per_page") == "8" else 10})
        if data["all"] and request.form.get("confirm") != "1":
            # Every card in the village stops working at once: the clerk is told how many first.
            return render_template("cards/confirm_all.html", bank=bank, per_page=data["per_page"],
                                   **services.whole_bank_reissue(session, bank))
        return _sheet_response(bank, user, data["residents"], data["households"], data["all"],
                               data["per_page"])
    return _cards_page(bank)



def init_app(app) -> None:
    """The API's endpoints need no CSRF token; nor do a card's forms (/c/<token>/...): whoever
    can post one holds the card's address, a secret no other site has, and no cookie of the
    village office's gives it any right (a resident's phone has none)."""
    csrf = app.extensions["csrf"]
    csrf.exempt(object_to_entry)
    csrf.exempt(no_such_card)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{bp.name}.") and rule.rule.startswith("/api/"):
            csrf.exempt(app.view_functions[rule.endpoint])
