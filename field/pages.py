"""The field's pages: a card's activities and own reports (no login), and the grid worker's phone app at /m/."""
from __future__ import annotations

import functools
import gzip
from datetime import date
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from cards.address import card_or_refusal
from ledger import banks as ledger_banks
from ledger import people as ledger_people
from ground.db import get_session
from ground.errors import ValidationError, ZongzhiError
from ledger.models import Household, Resident
from ledger.replica import reading_session
from ground.tenants import Bank
from ledger.schemas import MEMO_MAX
from ledger.answers import pending_json
from rules import bounds
from web import uploads
from web.api import clock, load
from web.auth import create_token, sign_in
from web.errors import error_body
from web.forms import text_problems, typed_text
from web.i18n import language
from web.throttle import throttle

from . import activities, photos, schemas, services
from .phone_messages import LANGUAGES, messages
from .views import read_upload

bp = Blueprint("field_pages", __name__, template_folder="templates")

STATIC = Path(__file__).resolve().parent / "static" / "m"
#: Photos one report may carry.
REPORT_PHOTOS_MAX = 4


def _members(session, bank, card) -> list[Resident]:
    """The residents a card speaks for: its holder, or a household card's active members."""
    if card.resident_id is not None:
        return [session.get(Resident, card.resident_id)]
    return ledger_people.household_members(session, bank, session.get(Household, card.household_id))


def _chosen(members, value) -> Resident | None:
    if len(members) == 1:
        return members[0]
    number = bounds.parse_whole(value or "")
    return next((m for m in members if m.id == number), None)


def _private(body, status=200) -> Response:
    response = Response(body, status=status)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- a card's activities -------------------------------------------------------------------------

@bp.get("/c/<token>/activities")
def card_activities(token, message=None, status=200, refused=None):
    """The activities open to sign up for, on a card's page (HTML).
    ---
    get:
      security: []
      responses:
        200: {description: "the card's activities, with who of its holders signed up", content: {text/html: {}}}
        404: {description: "no such card, or one revoked", content: {text/html: {}}}
        429: {description: "this address missed too many cards: Retry-After says when to try again",
              content: {text/html: {}}}
    """
    card, refusal = card_or_refusal(token)
    if refusal:
        return refusal
    session = get_session()
    bank = session.get(Bank, card.bank_id)
    members = _members(session, bank, card)
    found = activities.list_activities(session, bank, limit=50, after=None, open_only=True,
                                       now=clock().now())
    joined = {m.id: activities.signed_up(session, m.id, [a.id for a, _s, _c in found]) for m in members}
    return _private(render_template("field/card_activities.html", token=token, bank=bank,
                                    members=members, found=found, joined=joined, message=message,
                                    refused=refused, done=request.args.get("done"),
                                    withdrawn=request.args.get("withdrawn"), now=clock().now()), status)


@bp.post("/c/<token>/activities/<int:activity_id>/signup")
def card_signup(token, activity_id):
    """Sign a card's holder up for an activity. A program that asks for application/json
    (Accept) is answered in JSON; a browser's form goes back to the card's activities.
    ---
    post:
      security: []
      requestBody:
        required: false
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                resident: {type: integer, minimum: 1, description: "on a household card, which member"}
      responses:
        201: {description: "signed up", content: {application/json: {schema: SignupOut}}}
        200: {description: "already signed up", content: {application/json: {schema: SignupOut}}}
        302: {description: "a browser's form: signed up, back to the activities"}
        404: {description: "no such card or activity", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        409: {description: "activity_full, activity_closed", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        422: {description: "which member is not said", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        429: {description: "this address missed too many cards", content: {text/html: {}}}
    """
    return _sign_up_move(token, activity_id, activities.sign_up, status=lambda new: 201 if new else 200,
                         shown="done")


@bp.post("/c/<token>/activities/<int:activity_id>/withdraw")
def card_withdraw(token, activity_id):
    """Take back a card's holder's sign-up before the activity starts. A program that asks for
    application/json (Accept) is answered in JSON; a browser's form goes back to the activities.
    ---
    post:
      security: []
      requestBody:
        required: false
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                resident: {type: integer, minimum: 1, description: "on a household card, which member"}
      responses:
        200: {description: "withdrawn (or never signed up)", content: {application/json: {schema: SignupOut}}}
        302: {description: "a browser's form: withdrawn, back to the activities"}
        404: {description: "no such card or activity", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        409: {description: "activity_started: a sign-up stands once the activity has begun",
              content: {text/html: {}, application/json: {schema: ErrorOut}}}
        422: {description: "which member is not said", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        429: {description: "this address missed too many cards", content: {text/html: {}}}
    """
    return _sign_up_move(token, activity_id, activities.withdraw, status=lambda _gone: 200, shown="withdrawn")


def _sign_up_move(token, activity_id: int, move, *, status, shown: str):
    """Sign a card's holder up, or take it back (`move`, a service of field.activities), for the
    member the form names: JSON to a program that asks for it (`status(what move returned)`),
    else back to the activities, saying so (`?shown=activity`) or the refusal beside it."""
    card, refusal = card_or_refusal(token)
    if refusal:
        return refusal
    session = get_session()
    bank = session.get(Bank, card.bank_id)
    who = _chosen(_members(session, bank, card), request.form.get("resident"))
    try:
        if who is None:
            raise ValidationError({"resident": [_("请选择报名的家庭成员")]}, _("请选择报名的家庭成员"))
        done = move(session, bank, activity_id, who.id, clock=clock())
    except ZongzhiError as err:
        if _wants_json():
            return jsonify(error_body(err.code, err.message, err.fields)), err.status
        # Said beside the activity it is about (which a message at the top would not name).
        return card_activities(token, message=err.text(), status=err.status, refused=activity_id)
    if _wants_json():
        return jsonify({"activity": activity_id, "resident": who.id}), status(done)
    return redirect(url_for("field_pages.card_activities", token=token, **{shown: activity_id}))


# --- a resident's own reports --------------------------------------------------------------------

@bp.route("/c/<token>/reports", methods=["GET", "POST"])
@uploads.limit(REPORT_PHOTOS_MAX * photos.MAX_BYTES, field="photos")
def card_reports(token):
    """A resident's own report of a deed (积分申报), held for a reviewer; five a day per card.
    A program that asks for application/json (Accept) is answered in JSON; a browser's form
    goes back to the page, which lists the card's reports.
    ---
    get:
      security: []
      responses:
        200: {description: "the form and the card's reports", content: {text/html: {}}}
        404: {description: "no such card, or one revoked", content: {text/html: {}}}
        429: {description: "this address missed too many cards", content: {text/html: {}}}
    post:
      security: []
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [rule, occurred_on, memo]
              properties:
                resident: {type: integer, minimum: 1, description: "on a household card, which member"}
                rule: {type: string, description: "the code of a rule in force that is not a penalty"}
                quantity: {type: integer, minimum: 1, maximum: 1000, default: 1, description: "times or hours, as the rule counts"}
                occurred_on: {type: string, format: date}
                memo: {type: string, maxLength: 500}
                photos: {type: array, maxItems: 4, items: {type: string, format: binary},
                         description: "JPEG or PNG, 8 MB each at most"}
      responses:
        200: {description: "the same report (who, rule, day, words, photos) is waiting already: the first is
              answered, nothing more held", content: {application/json: {schema: PendingListOut}}}
        201: {description: "held for a reviewer", content: {application/json: {schema: PendingListOut}}}
        302: {description: "a browser's form: held, back to the page"}
        404: {description: "no such card, or one revoked", content: {text/html: {}}}
        409: {description: "period_sealed", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        413: {description: "too_large: a photo is larger than a report takes (the form again, the photos'
              field saying so)", content: {text/html: {}, application/json: {schema: ErrorOut}}}
        422: {description: "validation_error, too_old: `fields` names each field refused",
              content: {text/html: {}, application/json: {schema: ErrorOut}}}
        429: {description: "too_many_reports: five today already; or this address missed too many cards",
              content: {text/html: {}, application/json: {schema: ErrorOut}}}
    """
    card, refusal = card_or_refusal(token)
    if refusal:
        return refusal
    session = get_session()
    bank = session.get(Bank, card.bank_id)
    members = _members(session, bank, card)
    _version, book = ledger_banks.rulebook(session, bank.id)
    today = clock().today()
    rules = [r for r in book.in_force(today) if not r.is_penalty]
    form = request.form.to_dict() if request.method == "POST" else {}
    problems: dict = {}
    message, status = None, 200
    if request.method == "POST":
        status, code, message, problems, outcome = _submit(session, bank, card, members, rules, form)
        if _wants_json():  # a program posting the form (multipart) reads the answer as the API's
            if status == 201:  # the same report again answers the first, as a retry would
                return jsonify({"pending": pending_json(session, outcome.pending)}), 201 if outcome.new else 200
            return jsonify(error_body(code, message or _("请求内容有误"), problems)), status
        if status == 201:
            if not outcome.new:  # sent again (a double tap, the Back button): held once, said so
                return redirect(url_for("field_pages.card_reports", token=token, sent=1, again=1))
            return redirect(url_for("field_pages.card_reports", token=token, sent=1))
    sent = services.card_reports(session, bank, [m.id for m in members])
    names = {r.code: r.name for r in book.rules}
    people = {m.id: m.name for m in members}
    return _private(render_template(
        "field/card_reports.html", token=token, bank=bank, members=members, rules=rules, form=form,
        problems=problems, message=message, sent=sent, names=names, people=people, today=today,
        just_sent=request.args.get("sent"), sent_again=request.args.get("again"),
        max_photos=REPORT_PHOTOS_MAX, quantity_max=bounds.QUANTITY_MAX), status)


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _submit(session, bank, card, members, rules, form) -> tuple:
    """Check and hold a report; return (status, error code, message, problems by field, outcome)."""
    problems: dict = {}
    who = _chosen(members, form.get("resident"))
    if who is None:
        problems["resident"] = [_("请选择是哪位家庭成员")]
    rule = form.get("rule", "")
    if rule not in {r.code for r in rules}:
        problems["rule"] = [_("请选择规则")]
    quantity = bounds.parse_whole((form.get("quantity") or "1").strip(), max=bounds.QUANTITY_MAX)
    if quantity is None:
        problems["quantity"] = [bounds.out_of_range(1, bounds.QUANTITY_MAX)]
    day = _day(form.get("occurred_on"))
    if day is None:
        problems["occurred_on"] = [_("请填写日期（年-月-日）")]
    memo = typed_text(form.get("memo"))
    if not memo:
        problems["memo"] = [_("请简单写明做了什么")]
    elif len(memo) > MEMO_MAX:
        problems["memo"] = [_("最多 %(n)d 个字", n=MEMO_MAX)]
    elif memo_problems := text_problems(memo, max_len=MEMO_MAX, multiline=True):
        problems["memo"] = memo_problems
    uploaded = [f for f in request.files.getlist("photos") if f and f.filename]
    prepared = []
    try:
        if len(uploaded) > REPORT_PHOTOS_MAX:
            raise ValidationError({"photos": [_("最多 %(n)d 张照片", n=REPORT_PHOTOS_MAX)]})
        prepared = [photos.prepare(read_upload("photos", f), field="photos") for f in uploaded]
    except ZongzhiError as err:
        if err.status == 413:  # a photo past its size: said beside the photos, the rest kept
            return 413, err.code, err.text(), err.field_texts(), None
        problems.update(err.fields)
    if problems:
        return 422, "validation_error", None, problems, None
    try:
        outcome = services.submit_report(session, bank, card, who.id, rule_code=rule, quantity=quantity,
                                         occurred_on=day, memo=memo, prepared=prepared, clock=clock())
    except ZongzhiError as err:
        return err.status, err.code, err.text(), err.field_texts(), None
    return 201, None, None, {}, outcome


def _day(text: str | None) -> date | None:
    """Return the day a date input sent (YYYY-MM-DD, within the bounds), or None."""
    text = (text or "").strip()
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
    return day if day and not bounds.day_problem(day) else None


# --- the grid worker's phone app -----------------------------------------------------------------

#: A phone's token lasts a month: a lost phone stops working on its own.
PHONE_TOKEN_DAYS = 30


@bp.post("/m/token")
def phone_token():
    """Sign the phone in with name and password (JSON) and answer a bearer token for the API.
    ---
    post:
      security: []
      requestBody: {required: true, content: {application/json: {schema: TokenIn}}}
      responses:
        201: {description: "a token for the API (30 days)", content: {application/json: {schema: TokenOut}}}
        400: {description: "malformed_json", content: {application/json: {schema: ErrorOut}}}
        401: {description: "unauthorized: no such user, or the password is wrong", content: {application/json: {schema: ErrorOut}}}
        413: {description: "the body is larger than the server takes", content: {text/html: {}}}
        422: {description: "validation_error", content: {application/json: {schema: ErrorOut}}}
        429: {description: "too many failed sign-ins from here: wait and try again", content: {application/json: {schema: ErrorOut}}}
    """
    try:
        data = load(schemas.TokenIn())
        session = get_session()
        signed = sign_in(session, data["name"].strip(), data["password"],
                         address=request.remote_addr or "", throttle=throttle(), clock=clock(),
                         lifetime=current_app.config["PERMANENT_SESSION_LIFETIME"])
        if signed is None:
            raise ZongzhiError(_("用户名或密码错误"), code="unauthorized")
        user = signed[0]
        token = create_token(session, user.name, clock=clock(), expires_days=PHONE_TOKEN_DAYS, by=user.name)
    except ZongzhiError as err:
        status = 401 if err.code == "unauthorized" else err.status
        return jsonify(error_body(err.code, err.message, err.fields)), status
    bank = session.get(Bank, user.bank_id) if user.bank_id else None
    return jsonify({"token": token, "user": user.name, "role": user.role,
                    "bank": bank.code if bank else None}), 201


@bp.get("/m/")
def phone_app():
    """The grid worker's phone app: sign in, scan a card, pick a rule, add a photo, submit;
    without a signal it keeps the deeds and sends them with deeds/batch later.
    ---
    get:
      security: []
      responses:
        200: {description: "the app's page", content: {text/html: {}}}
    """
    return _shell("index.html")


@bp.get("/m/<any('sw.js', 'app.js', 'app.css', 'jsQR.js', 'manifest.webmanifest', 'icon.svg'):name>")
def phone_file(name):
    # The service worker is served from /m/ so that its scope is the app's.
    return _shell(name)


@bp.get("/m/i18n/<lang>.json")
def phone_messages(lang):
    """Answer the app's words in one language (zh or en); the service worker keeps both."""
    if lang not in LANGUAGES:
        body = error_body("not_found", _("没有这种语言：%(lang)s（可用 zh、en）", lang=lang[:20]))
        return jsonify(body), 404
    return _words(lang)


@bp.get("/m/i18n.json")
def phone_reader_messages():
    """Answer the app's words in the reader's language (the screens' switch), for an app whose
    own switch was never used."""
    response = _words(language())
    response.vary.add("Cookie")
    return response


def _words(lang: str) -> Response:
    response = jsonify(messages(lang))
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".webmanifest": "application/manifest+json",
          ".svg": "image/svg+xml"}


def _shell(name: str) -> Response:
    """Serve one of the app's files, gzipped for a phone on 3G when it accepts that.

    Always revalidated (no-cache): the service worker keeps the copy used without a signal.
    """
    path = STATIC / name
    if not path.is_file():  # the QR decoder is installed by `make setup`
        return Response(status=404)
    stat = path.stat()
    plain, packed = _contents(str(path), stat.st_mtime_ns, stat.st_size)
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(packed if zipped else plain, mimetype=None,
                        content_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache", "Vary": "Accept-Encoding"})
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}{'-gz' if zipped else ''}")
    return response.make_conditional(request)


@functools.lru_cache(maxsize=16)
def _contents(path: str, mtime_ns: int, size: int) -> tuple[bytes, bytes]:
    data = Path(path).read_bytes()
    return data, gzip.compress(data, compresslevel=9, mtime=0)


def card_reports_shown(card, rules=None) -> dict:
    """What a card's page shows of its reports (a template global): each one's status and why.

    `rules` is the bank's rule book in force, when the page has read it already. It reads with
    the card page's own session: the replica's while it keeps up, like the rest of the page.
    """
    session = reading_session()
    bank = session.get(Bank, card.bank_id)
    book = rules or ledger_banks.rulebook(session, bank.id)[1]
    members = _members(session, bank, card)
    return {"sent": services.card_reports(session, bank, [m.id for m in members], limit=10),
            "names": {r.code: r.name for r in book.rules},
            "people": {m.id: m.name for m in members}}


def init_app(app) -> None:
    """The phone signs in with a JSON body and gets a bearer token back: no cookie, no form to
    forge. A card's own address is the secret its forms need (cards.views.init_app): a program
    may post them as API.md has them, without a page's CSRF token. A card's page shows its reports."""
    for view in (phone_token, card_signup, card_withdraw, card_reports):
        app.extensions["csrf"].exempt(view)
    app.add_template_global(card_reports_shown, "card_reports")
