"""The desk's API and screens: catalog, stock, windows, redemptions, receipts, the fund."""
from __future__ import annotations

import uuid
from dataclasses import asdict

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template, request,
                   url_for)

from ledger import periods, reversals
from ledger import people
from ledger import reading as ledger_reading
from ledger.chain import request_fingerprint
from ground.db import get_session
from ground.errors import ConflictError, ValidationError, ZongzhiError
from ground.i18n import _
from ledger.posting import Idempotency
from ledger.answers import idempotency, transfers_json
from ledger.schemas import MEMO_MAX
from rules import bounds
from web.api import clock, load, no_body, page, page_args, query_text, query_whole
from web.forms import text_problems, typed_text, typed_whole
from web.i18n import language, translate_fields
from web.auth import (DESK_READERS, EVERY_ROLE, READERS, REDEEMERS, REVIEWERS, WRITERS,
                      scoped_bank)

from . import domain, printing, schemas
from .services import books, catalog, reading, redeeming, windows
from .services import fund as fund_services

bp = Blueprint("redemption", __name__, template_folder="templates")

API = "/api/v1/banks/<bank>"


# --- JSON shapes -----------------------------------------------------------------------------------

def _item_json(item) -> dict:
    return schemas.CatalogItemOut().dump(item)


_redemption_out = schemas.RedemptionOut(exclude=("transfers",))
_redemption_in = schemas.RedemptionIn()


def _window_json(window) -> dict | None:
    return schemas.WindowOut().dump(asdict(window)) if window else None


def _redemption_json(session, bank, outcome) -> dict:
    r = outcome.redemption
    undone = reading.reversed_lines(session, outcome.lines)
    account = ledger_reading.account_codes(session, [r.account_id])[r.account_id]
    # The window it was made in, as it stood then: its dates kept with it, its id and kind read.
    window = windows.current_window(session, bank, r.window_opens_on)
    body = _redemption_out.dump({
        **r.model_dump(), "account": account,
        "window": {"id": window.id if window else None, "opens_on": r.window_opens_on,
                   "closes_on": r.window_closes_on, "kind": window.kind if window else ""},
        "lines": [_line_json(outcome, line, line.id in undone) for line in outcome.lines],
        "receipt_pdf": url_for("redemption.api_receipt_pdf", bank=bank.code, redemption_id=r.id)})
    return {**body, "transfers": transfers_json(session, outcome.transfers)}


def _line_json(outcome, line, gone: bool) -> dict:
    points, cost = outcome.leg_ids(line)
    return {**line.model_dump(), "points_transfer": points, "cost_transfer": cost, "reversed": gone}


def _receipt_json(receipt, gone: bool, skus: dict) -> dict:
    return schemas.FundReceiptOut().dump({**receipt.model_dump(), "reversed": gone,
                                          "item": skus.get(receipt.item_id)})


def _quarter(text: str) -> tuple[int, int]:
    period = periods.parse_period("quarter", text, field="quarter")
    return period.year, period.number


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


# --- catalog and stock (API) -----------------------------------------------------------------------

@bp.post(f"{API}/catalog")
def api_create_item(bank):
    """Add goods to the catalog.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: CatalogIn}}}
      responses:
        201: {content: {application/json: {schema: CatalogItemOut}}}
        409: {description: "sku_exists, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.CatalogIn())
    item = catalog.create_item(get_session(), bank, sku=data["sku"], name=data["name"].strip(),
                                points=data["points"], cost_fen=data["cost_fen"],
                                limit_per_window=data["limit_per_window"], active=data["active"],
                                by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_item_json(item)), 201


@bp.patch(f"{API}/catalog/<sku>")
def api_change_item(bank, sku):
    """Change an item's name, price, cost, limit, or take it off the shelf (active: false).
    ---
    patch:
      requestBody: {content: {application/json: {schema: CatalogChangeIn}}}
      responses:
        200: {content: {application/json: {schema: CatalogItemOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    changes = load(schemas.CatalogChangeIn())
    item = catalog.update_item(get_session(), bank, sku, changes=changes, by=user.name, clock=clock())
    return jsonify(_item_json(item))


@bp.get(f"{API}/catalog")
def api_catalog(bank):
    """The catalog: every item with its price in points and what is in stock.
    ---
    get:
      parameters:
        - {name: active, in: query, schema: {type: boolean}, description: "only what is offered"}
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: CatalogPage}}}
    """
    bank, _ = scoped_bank(bank, EVERY_ROLE)
    limit, after = page_args()
    found = catalog.list_items(get_session(), bank, limit=limit + 1, after=after,
                                include_inactive=request.args.get("active") not in ("1", "true"))
    result = page(found, limit, lambda i: i.id)
    result["items"] = [_item_json(i) for i in result["items"]]
    return jsonify(result)


@bp.post(f"{API}/catalog/<sku>/stock")
def api_stock_in(bank, sku):
    """Put goods on the shelf: a purchase the fund pays, or a gift at its stated value.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: StockIn}}}
      responses:
        201: {content: {application/json: {schema: StockOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "insufficient_funds, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.StockIn())
    session = get_session()
    outcome = catalog.stock_in(session, bank, sku, quantity=data["quantity"], source=data["source"],
                                cost_fen=data["cost_fen"], donor=(data["donor"] or "").strip() or None,
                                donor_source=data["donor_source"], by=user.name, clock=clock(),
                                idem=idempotency())
    item = catalog.get_item(session, bank, sku, fresh=True)
    return jsonify({**_item_json(item), "movement": outcome.movement.id,
                    "transfers": transfers_json(session, outcome.transfers)}), 201


# --- windows (API) --------------------------------------------------------------------------------

@bp.post(f"{API}/redemption-windows")
def api_add_window(bank):
    """Add an extra redemption window the council decided (before Spring Festival, say).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: WindowIn}}}
      responses:
        201: {content: {application/json: {schema: WindowOut}}}
        409: {description: "window_overlaps, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.WindowIn())
    window = windows.open_window(get_session(), bank, opens_on=data["opens_on"],
                                  closes_on=data["closes_on"], kind="extra", memo=data["memo"],
                                  by=user.name, clock=clock(), idem=idempotency())
    return jsonify(schemas.WindowOut().dump(window)), 201


@bp.get(f"{API}/redemption-windows")
def api_windows(bank):
    """The redemption windows of this year and the next: regular and extra, the current, the next.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: WindowsOut}}}
    """
    bank, _ = scoped_bank(bank, EVERY_ROLE)
    session, today = get_session(), clock().today()
    shown = windows.windows_in_force(session, bank, today.year, today.year + 1)
    return jsonify({"current": _window_json(domain.window_on(today, shown)),
                    "next": _window_json(domain.next_window(today, shown)),
                    "items": [_window_json(w) for w in shown]})


@bp.post(f"{API}/redemption-windows/<int:window_id>/close")
def api_close_window(bank, window_id):
    """Close a window from today on.
    ---
    post:
      responses:
        200: {content: {application/json: {schema: WindowOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    no_body()
    window = windows.close_window(get_session(), bank, window_id, by=user.name, clock=clock())
    return jsonify(schemas.WindowOut().dump(window))


# --- redemptions (API) ----------------------------------------------------------------------------

@bp.post(f"{API}/redemptions")
def api_redeem(bank):
    """Exchange a resident's points for goods: points, stock and the goods' cost in one go.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: RedemptionIn}}}
      responses:
        201: {content: {application/json: {schema: RedemptionOut}}}
        409: {description: "insufficient_points, out_of_stock, window_closed, limit_exceeded, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REDEEMERS)
    data = load(_redemption_in)
    session = get_session()
    outcome = redeeming.redeem(session, bank, resident_id=data["resident"],
                              items=[(i["sku"], i["quantity"]) for i in data["items"]],
                              by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_redemption_json(session, bank, outcome)), 201


@bp.get(f"{API}/redemptions/<int:redemption_id>")
def api_redemption(bank, redemption_id):
    """One redemption, its lines (and whether each was reversed) and its transfers.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: RedemptionOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, DESK_READERS)
    session = get_session()
    return jsonify(_redemption_json(session, bank, reading.get_redemption(session, bank, redemption_id)))


@bp.get(f"{API}/redemptions/<int:redemption_id>/receipt.pdf")
def api_receipt_pdf(bank, redemption_id):
    """The redemption's receipt, A6, with the new balance.
    ---
    get:
      responses:
        200: {description: "the receipt", content: {application/pdf: {}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, DESK_READERS)
    return _pdf(printing.receipt_pdf(get_session(), bank, redemption_id), f"receipt-{redemption_id}.pdf")


@bp.get(f"{API}/desk-summary/<quarter>")
def api_desk_summary(bank, quarter):
    """The quarter's desk summary: items given, points redeemed, cost, stock left (.pdf to print).
    ---
    get:
      responses:
        200: {description: "the summary as JSON, or as a PDF"}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, DESK_READERS)
    as_pdf = quarter.endswith(".pdf")
    year, number = _quarter(quarter.removesuffix(".pdf"))
    if as_pdf:
        return _pdf(printing.summary_pdf(get_session(), bank, year, number, clock=clock()),
                    f"desk-{bank.code}-{year}-Q{number}.pdf")
    summary = reading.desk_summary(get_session(), bank, year, number)
    return jsonify({k: v for k, v in summary.items() if k != "bank"} | {"quarter": f"{year}-Q{number}"})


# --- the fund (API) -------------------------------------------------------------------------------

@bp.post(f"{API}/fund/receipts")
def api_record_receipt(bank):
    """Record money given to the fund: its source, the donor, the day, and any restriction.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: FundReceiptIn}}}
      responses:
        201: {content: {application/json: {schema: FundReceiptOut}}}
        409: {content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.FundReceiptIn())
    receipt = fund_services.record_receipt(get_session(), bank, source=data["source"],
                                      donor=(data["donor"] or "").strip() or None,
                                      received_on=data["received_on"], amount_fen=data["amount_fen"],
                                      restriction=data["restriction"], memo=data["memo"],
                                      by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_receipt_json(receipt, False, {})), 201


@bp.get(f"{API}/fund/receipts")
def api_receipts(bank):
    """Receipts of the fund, money and goods, newest first.
    ---
    get:
      parameters:
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: FundReceiptPage}}}
    """
    bank, _ = scoped_bank(bank, READERS)
    limit, before = page_args()
    session = get_session()
    found = fund_services.list_receipts(session, bank, limit=limit + 1, before=before)
    result = page(found, limit, lambda row: row[0].id)
    skus = {i.id: i.sku for i in catalog.list_items(session, bank)}
    result["items"] = [_receipt_json(r, gone, skus) for r, gone in result["items"]]
    return jsonify(result)


@bp.get(f"{API}/fund")
def api_fund(bank):
    """The fund today and its coverage of the points outstanding.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: FundOut}}}
    """
    bank, _ = scoped_bank(bank, READERS)
    position = fund_services.fund_position(get_session(), bank)
    return jsonify(schemas.FundOut().dump({**position, "coverage": asdict(position["coverage"])}))


@bp.get(f"{API}/fund/disclosures/<quarter>")
def api_disclosure(bank, quarter):
    """The quarter's financial disclosure (财务公开), as a PDF to sign and post: 2026-Q4.pdf.
    ---
    get:
      responses:
        200: {description: "the disclosure", content: {application/pdf: {}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, READERS)
    year, number = _quarter(quarter.removesuffix(".pdf"))
    return _pdf(printing.disclosure_pdf(get_session(), bank, year, number, clock=clock()),
                f"disclosure-{bank.code}-{year}-Q{number}.pdf")


# --- screens: the desk ----------------------------------------------------------------------------

@bp.get("/banks/<bank>/desk")
def desk(bank):
    """The desk: scan a card or search a name, then pick goods for the resident found."""
    bank, user = scoped_bank(bank, REDEEMERS)
    session = get_session()
    context = {"bank": bank, "q": query_text("q") or "", "found": None, "holder": None,
               "members": None, "catalog": [], "error": None}
    resident_id = query_whole("resident")
    household = query_text("household", max_len=40)
    if resident_id:
        context.update(_holder_context(session, bank, resident_id))
    elif household:
        context["household"], context["members"] = reading.household_members(session, bank, household)
    elif context["q"]:
        context["found"] = people.search_residents(session, bank, context["q"], limit=30,
                                                            after=None)
        context["codes"] = ledger_reading.household_codes(session, context["found"])
    context["window"] = windows.next_window(session, bank, clock().today())
    context["today"] = clock().today()
    context["may_open_window"] = user.role in REVIEWERS
    return render_template("redemption/desk.html", **context)


def _holder_context(session, bank, resident_id) -> dict:
    resident = people.get_resident(session, bank, resident_id)
    return {"holder": reading.holder_view(session, bank, resident, clock=clock()),
            "catalog": catalog.list_items(session, bank, include_inactive=False),
            "key": uuid.uuid4().hex}


@bp.post("/banks/<bank>/desk/redeem")
def desk_redeem(bank):
    """Confirm the goods picked: one redemption, then its receipt."""
    bank, user = scoped_bank(bank, REDEEMERS)
    session = get_session()
    resident_id = bounds.parse_whole(request.form.get("resident")) or 0
    items, wrong = [], {}
    for key, value in request.form.items():
        if key.startswith("qty:") and value.strip() not in ("", "0"):
            items.append((key[4:], typed_whole(value)))
            if bounds.parse_whole(value, max=bounds.QUANTITY_MAX) is None:
                # Said beside the goods' own box, by name: not as the API's "第 1 项 quantity".
                wrong[key[4:]] = _("须为 1 到 %(max)s 之间的整数", max=bounds.QUANTITY_MAX)
    key = request.form.get("key", "")[:200]
    body = {"resident": resident_id, "items": sorted(items, key=str)}
    try:
        if not items:
            raise ValidationError({"items": [_("请至少选一样物品")]})
        if wrong:
            raise ValidationError({"items": list(wrong.values())}, _("请改正标出的数量"))
        # Read as the API's body, so the desk meets the same bounds (quantity ≤ 1,000, safe SKUs).
        load(schemas.RedemptionIn(), {"resident": resident_id or request.form.get("resident"),
                                      "items": [{"sku": sku, "quantity": q} for sku, q in items]})
        if bounds.text_problem(key, max_len=200, allow_blank=True):
            raise ValidationError({"key": [_("表单已失效，请重新打开")]})
        idem = (Idempotency(key, request_fingerprint("POST", request.path, body), user_id=user.id)
                if key else None)
        outcome = redeeming.redeem(session, bank, resident_id=resident_id, items=items,
                                  by=user.name, clock=clock(), idem=idem)
    except ZongzhiError as err:
        context = {"bank": bank, "q": "", "found": None, "members": None,
                   "window": windows.next_window(session, bank, clock().today()),
                   "today": clock().today(), "picked": dict(items),
                   "may_open_window": user.role in REVIEWERS,
                   "wrong": {sku: str(why) for sku, why in wrong.items()},
                   "error": _desk_refusal(err, wrong)}
        context.update(_holder_context(session, bank, resident_id) if resident_id else
                       {"holder": None, "catalog": []})
        return render_template("redemption/desk.html", **context), err.status
    return redirect(url_for("redemption.receipt", bank=bank.code,
                            redemption_id=outcome.redemption.id))


def _desk_refusal(err: ZongzhiError, wrong: dict) -> str:
    """The refusal above the desk's goods: its message, and what the fields add to it once each.
    A conflict's message says it all (which goods, how many are left); quantities wrong are
    said beside their boxes."""
    text = err.text(language())
    if isinstance(err, ConflictError) or wrong:
        return text
    reasons = dict.fromkeys(p for problems in err.field_texts(language()).values() for p in problems)
    return text + "".join(f"（{p}）" for p in reasons if p not in text)


@bp.get("/banks/<bank>/desk/receipts/<int:redemption_id>")
def receipt(bank, redemption_id):
    """The receipt to print (A6) and hand over with the goods."""
    bank, user = scoped_bank(bank, DESK_READERS)
    return _receipt_page(bank, user, redemption_id)


def _receipt_page(bank, user, redemption_id: int, status: int = 200, refused: dict | None = None):
    """The receipt; a line's correction refused comes back with its reason as typed and the problem."""
    context = printing.receipt_context(get_session(), bank, redemption_id)
    context["may_reverse"] = (user.role in WRITERS
                              and context["redemption"].occurred_on == clock().today())
    return render_template("redemption/receipt_page.html", refused=refused or {}, **context), status


@bp.get("/banks/<bank>/desk/receipts/<int:redemption_id>.pdf")
def receipt_pdf(bank, redemption_id):
    bank, _ = scoped_bank(bank, DESK_READERS)
    return _pdf(printing.receipt_pdf(get_session(), bank, redemption_id), f"receipt-{redemption_id}.pdf")


@bp.post("/banks/<bank>/desk/receipts/<int:redemption_id>/lines/<int:line_id>/reverse")
def reverse_line(bank, redemption_id, line_id):
    """Undo one line of today's redemption (a mistake at the desk): points back, goods back."""
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    outcome = reading.get_redemption(session, bank, redemption_id)
    line = next((l for l in outcome.lines if l.id == line_id), None)
    if line is None:
        abort(404)
    reason = typed_text(request.form.get("reason")) or "兑换台当天更正"
    refused = {"line": line_id, "reason": request.form.get("reason", ""), "message": None}
    if problems := text_problems(reason, max_len=MEMO_MAX, multiline=True):
        return _receipt_page(bank, user, redemption_id, 422, {**refused, "problems": problems})
    try:
        reversals.reverse_transfer(session, bank, line.entry_id, reason=reason,
                                   by=user.name, clock=clock())
    except ZongzhiError as err:
        if err.status == 404:
            raise
        lang = language()
        return _receipt_page(bank, user, redemption_id, err.status, {
            **refused, "message": err.text(lang),
            "problems": [p for ps in translate_fields(err.fields, lang).values() for p in ps]})
    flash(f"已冲正：{line.name}×{line.quantity}，积分与库存已退回")
    return redirect(url_for("redemption.receipt", bank=bank.code, redemption_id=redemption_id))


@bp.get("/banks/<bank>/desk/summary")
def summary(bank):
    """The quarter's desk summary, to print: ?quarter=2026-Q4 (default: this quarter)."""
    bank, _ = scoped_bank(bank, DESK_READERS)
    year, number = _quarter(request.args.get("quarter") or
                            periods.period_of("quarter", clock().today()).key)
    data = reading.desk_summary(get_session(), bank, year, number)
    return render_template("redemption/summary_page.html", **data)


# --- screens: the fund ----------------------------------------------------------------------------

@bp.route("/banks/<bank>/fund", methods=["GET", "POST"])
def fund(bank):
    """The fund: balances, coverage of the points out, receipts; a form to record a receipt."""
    bank, user = scoped_bank(bank, READERS)
    session = get_session()
    error = None
    if request.method == "POST":
        if user.role not in WRITERS:
            abort(403)
        try:
            data = load(schemas.FundReceiptIn(), _receipt_form())
            fund_services.record_receipt(session, bank, source=data["source"],
                                    donor=(data["donor"] or "").strip() or None,
                                    received_on=data["received_on"], amount_fen=data["amount_fen"],
                                    restriction=data["restriction"], memo=data["memo"],
                                    by=user.name, clock=clock())
            flash("已登记收入")
            return redirect(url_for("redemption.fund", bank=bank.code))
        except ZongzhiError as err:
            error = err
    today = clock().today()
    this = periods.period_of("quarter", today)
    skus = {i.id: i for i in catalog.list_items(session, bank)}
    return render_template("redemption/fund.html", bank=bank, position=fund_services.fund_position(session, bank),
                           receipts=fund_services.list_receipts(session, bank, limit=100), items=skus,
                           quarters=[(q.year, q.number) for q in (this, this.previous())],
                           may_write=user.role in WRITERS,
                           error=error, today=today, sources=books.source_names(language()),
                           field_labels=RECEIPT_FIELDS), (422 if error else 200)


#: The receipt form's fields as its labels name them, for its error messages.
RECEIPT_FIELDS = {"source": "来源", "donor": "捐赠人 / 拨款单位", "received_on": "日期",
                  "amount_yuan": "金额（元）", "amount_fen": "金额（元）", "restriction": "用途限制",
                  "memo": "备注"}


def _receipt_form() -> dict:
    form = request.form
    data = {"source": form.get("source", ""), "received_on": form.get("received_on", ""),
            "donor": form.get("donor") or None, "restriction": form.get("restriction") or None,
            "memo": form.get("memo") or None}
    yuan = form.get("amount_yuan", "").strip()
    fen = bounds.parse_fen(yuan)
    if fen is None:
        raise ValidationError({"amount_yuan": [_("须为金额，例如 1200 或 1200.50")]})
    data["amount_fen"] = fen
    return data


def init_app(app) -> None:
    """The API's endpoints need no CSRF token (bearer tokens, no cookies)."""
    csrf = app.extensions["csrf"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{bp.name}.") and rule.rule.startswith("/api/"):
            csrf.exempt(app.view_functions[rule.endpoint])
