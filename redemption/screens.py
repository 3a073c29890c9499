"""The office's screens for the desk's calendar and shelf: redemption windows, goods and stock.

Forms over the services and schemas the API uses (views.py): a refused form comes back as typed,
the problem beside its field (422), nothing written; each form carries a key, so a double click
writes once. Money is typed and shown in yuan, kept in fen.
"""
from __future__ import annotations

import re
import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ledger import formatting, names
from ledger.chain import request_fingerprint
from ground.db import get_session
from ground.errors import NotFound, ValidationError, ZongzhiError
from ledger.posting import Idempotency
from rules import bounds
from web.api import clock, load, query_text
from web.auth import REVIEWERS, WRITERS, scoped_bank
from web.forms import typed_text
from web.i18n import language, translate_fields

from . import domain, schemas
from .services import books, catalog, fund
from .services import windows as window_services
from .views import bp

#: Longest form key taken (a uuid is 32 characters).
KEY_MAX = 200
#: The API's field names as the screens' forms name them.
FORM_FIELDS = {"add": {"cost_fen": "cost_yuan"}, "purchase": {"cost_fen": "total_yuan"},
               "donation": {"cost_fen": "total_yuan"}}


def _idempotency(user, form: dict) -> Idempotency:
    """Return the form's key with a fingerprint of what was typed, so a second click replays the
    first (and a form sent again with other words under the same key is refused)."""
    key = (form.get("key") or "").strip()
    if bounds.text_problem(key, max_len=KEY_MAX):
        raise ValidationError({"key": [_("表单已失效，请重新打开本页")]})
    typed = {name: value for name, value in form.items() if name != "key"}
    return Idempotency(key, request_fingerprint("POST", request.path, typed), user_id=user.id)


def _refusal(err: ZongzhiError, sent: str) -> tuple[str | None, dict]:
    """Return a refusal's message (none when the fields say it all) and its problems by form field."""
    rename = FORM_FIELDS.get(sent, {})
    problems = {rename.get(field, field): ps
                for field, ps in translate_fields(err.fields, language()).items()}
    message = None if isinstance(err, ValidationError) and problems else err.text(language())
    return message, problems


def _yuan(form: dict, field: str, problems: dict, *, required: bool) -> int | None:
    """Return money typed in yuan as fen (blank: None, unless required); money it is not is
    noted in `problems` and stands as 0, so the schema still reads the rest of the form."""
    typed = (form.get(field) or "").strip()
    if not typed and not required:
        return None
    fen = bounds.parse_fen(typed)
    if fen is None:
        problems[field] = [_("须为金额，例如 12 或 12.50，最多 %(max)s",
                             max=formatting.yuan(bounds.FEN_MAX, language()))]
        return 0
    return fen


def _load(schema, data: dict, problems: dict) -> dict:
    """Read a form with the API's schema; its problems and the form's own are refused at once."""
    try:
        loaded = load(schema, data)
    except ValidationError as err:
        raise ValidationError({**err.fields, **problems}) from None
    if problems:
        raise ValidationError(problems)
    return loaded


def _whole(value: str | None) -> int | str:
    """Return a whole number typed in a form, signed and of any size (so that 0, -5 and 10^18 meet
    the schema's range, which names the bounds), else what was typed, for the schema to refuse."""
    text = (value or "").strip()
    return int(text) if _SIGNED.fullmatch(text) else text


_SIGNED = re.compile(r"-?[0-9]{1,30}")


def _typed(form) -> dict:
    return {k: v for k, v in form.items() if k != "csrf_token"}


# --- redemption windows ---------------------------------------------------------------------------

@bp.route("/banks/<bank>/redemption-windows", methods=["GET", "POST"])
def windows(bank):
    """The windows of this year and the next, which is open today; open an extra one."""
    bank, user = scoped_bank(bank, REVIEWERS)
    session = get_session()
    form, message, problems = {"key": uuid.uuid4().hex}, None, {}
    if request.method == "POST":
        form = _typed(request.form)
        data = {"opens_on": form.get("opens_on", ""), "closes_on": form.get("closes_on", ""),
                "memo": bounds.newlines(form.get("memo") or "").strip() or None}
        try:
            window_in = load(schemas.WindowIn(), data)
            window = window_services.open_window(session, bank, opens_on=window_in["opens_on"],
                                          closes_on=window_in["closes_on"], kind="extra",
                                          memo=window_in["memo"], by=user.name, clock=clock(),
                                          idem=_idempotency(user, form))
        except ZongzhiError as err:
            message, problems = _refusal(err, "window")
        else:
            flash(_("已加开兑换期：%(opens)s 至 %(closes)s", opens=_day(window.opens_on),
                    closes=_day(window.closes_on)))
            return redirect(url_for("redemption.windows", bank=bank.code))
    today = clock().today()
    shown = window_services.windows_in_force(session, bank, today.year, today.year + 1)
    return render_template("redemption/windows.html", bank=bank, today=today, windows=shown,
                           current=domain.window_on(today, shown),
                           upcoming=domain.next_window(today, shown),
                           state=lambda w: domain.window_state(w, today),
                           form=form, message=message,
                           problems=problems), (422 if message or problems else 200)


@bp.post("/banks/<bank>/redemption-windows/<int:window_id>/close")
def close_window(bank, window_id):
    """Close a window from today on: the desk no longer redeems in it (one not yet open never opens)."""
    bank, user = scoped_bank(bank, REVIEWERS)
    window = window_services.close_window(get_session(), bank, window_id, by=user.name, clock=clock())
    flash(_("已关闭兑换期 %(opens)s 至 %(closes)s：从今天起兑换台不再兑换",
            opens=_day(window.opens_on), closes=_day(window.closes_on)))
    return redirect(url_for("redemption.windows", bank=bank.code))


def _day(day) -> str:
    return formatting.day(day, language())


# --- goods and stock ------------------------------------------------------------------------------

@bp.route("/banks/<bank>/goods", methods=["GET", "POST"])
def goods(bank):
    """The goods at the desk with their stock; add goods to the catalog."""
    bank, user = scoped_bank(bank, WRITERS)
    if request.method == "GET":
        return _goods_page(bank, sent=None)
    session = get_session()
    form = _typed(request.form)
    problems: dict = {}
    try:
        data = {"name": typed_text(form.get("name")), "points": _whole(form.get("points")),
                "cost_fen": _yuan(form, "cost_yuan", problems, required=True),
                "limit_per_window": _whole(form.get("limit_per_window")) if
                (form.get("limit_per_window") or "").strip() else None,
                "sku": (form.get("sku") or "").strip() or _new_sku(session, bank, form.get("name"))}
        item_in = _load(schemas.CatalogIn(), data, problems)
        item = catalog.create_item(session, bank, sku=item_in["sku"], name=item_in["name"],
                                    points=item_in["points"], cost_fen=item_in["cost_fen"],
                                    limit_per_window=item_in["limit_per_window"], by=user.name,
                                    clock=clock(), idem=_idempotency(user, form))
    except ZongzhiError as err:
        return _goods_page(bank, sent="add", form=form, refusal=_refusal(err, "add"))
    flash(_("已添加物品：%(name)s", name=item.name))
    return redirect(url_for("redemption.goods", bank=bank.code, item=item.sku) + "#stock")


def _new_sku(session, bank, name: str | None) -> str:
    """Return a code for goods named `name`, from its initials, unlike any the bank has."""
    initials = names.search_keys(typed_text(name)[:100])["initials"].split(" ")[0]
    return domain.new_sku(initials, [i.sku for i in catalog.list_items(session, bank, limit=10_000)])


@bp.post("/banks/<bank>/goods/stock")
def stock_in(bank):
    """Put goods on the shelf: bought by the fund, or given in kind by a named donor (two forms)."""
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    form = _typed(request.form)
    sku = (form.get("sku") or "").strip()
    sent = "donation" if form.get("source") == "donation" else "purchase"
    problems: dict = {}
    if not schemas.SKU.regex.match(sku):  # never a code the catalog could hold (a NUL, say)
        problems["sku"] = [_("请从列表中选择物品")]
    try:
        data = {"quantity": _whole(form.get("quantity")), "source": form.get("source", ""),
                "cost_fen": _yuan(form, "total_yuan", problems, required=False),
                "donor": typed_text(form.get("donor")) or None,
                "donor_source": form.get("donor_source") or "donor"}
        stock = _load(schemas.StockIn(), data, problems)
        if stock["source"] == "purchase":
            stock["donor"], stock["donor_source"] = None, "donor"
        try:
            outcome = catalog.stock_in(session, bank, sku, quantity=stock["quantity"],
                                        source=stock["source"], cost_fen=stock["cost_fen"],
                                        donor=stock["donor"], donor_source=stock["donor_source"],
                                        by=user.name, clock=clock(),
                                        idem=_idempotency(user, form))
        except NotFound:
            raise ValidationError({"sku": [_("请从列表中选择物品")]}) from None
    except ZongzhiError as err:
        return _goods_page(bank, sent=sent, form=form, refusal=_refusal(err, sent))
    item = outcome.item
    if outcome.movement.reason == "donation":
        flash(_("已登记捐赠：%(name)s × %(n)s（%(donor)s），现有库存 %(stock)s", name=item.name,
                n=outcome.movement.quantity, donor=outcome.movement.donor, stock=item.stock))
    else:
        flash(_("已购入：%(name)s × %(n)s，共 %(cost)s，现有库存 %(stock)s", name=item.name,
                n=outcome.movement.quantity, cost=formatting.yuan(outcome.movement.value_fen, language()),
                stock=item.stock))
    return redirect(url_for("redemption.goods", bank=bank.code))


def _goods_page(bank, *, sent: str | None, form: dict | None = None,
                refusal: tuple[str | None, dict] = (None, {})):
    session = get_session()
    message, problems = refusal
    # A key for each form: one form's write never replays as the other's.
    keys = {name: uuid.uuid4().hex for name in FORM_FIELDS}
    if sent:
        keys[sent] = form.get("key") or keys[sent]
    picked = form.get("sku") if sent in ("purchase", "donation") else query_text("item", max_len=40)
    return render_template(
        "redemption/goods.html", bank=bank, items=catalog.list_items(session, bank),
        history=catalog.shelf_history(session, bank),
        sources=books.source_names(language()),
        position=fund.fund_position(session, bank), sent=sent, picked=picked,
        form=form or {}, keys=keys, message=message, problems=problems,
    ), (422 if message or problems else 200)
