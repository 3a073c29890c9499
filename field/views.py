"""The field's HTTP API: photos, deeds in batches, activities and check-ins, the phone app's sign-in."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, Response, jsonify, request

from ledger import banks, deeds
from ledger.chain import request_fingerprint
from ground.db import get_session
from ground.errors import TooLarge, ValidationError, ZongzhiError
from ground.i18n import _
from ledger.names import search_keys
from ledger.posting import Idempotency
from ledger.schemas import DeedIn
from ledger.answers import deed_json, deed_status, idempotency
from rules import bounds
from web import uploads
from web.api import clock, load, no_body, page, page_args
from web.auth import DESK_READERS, EVERY_ROLE, WRITERS, scoped_bank
from web.errors import error_body

from . import activities, photos, schemas, services

bp = Blueprint("field", __name__, url_prefix="/api/v1")

_activity = schemas.ActivityOut()


# --- photos ----------------------------------------------------------------------------------

@bp.post("/banks/<bank>/photos")
@uploads.limit(photos.MAX_BYTES)
def upload_photo(bank):
    """Keep a photo as evidence: JPEG or PNG up to 8 MB, stored without EXIF, at most 1600 px.
    ---
    post:
      requestBody:
        content:
          multipart/form-data:
            schema: {type: object, properties: {file: {type: string, format: binary}}, required: [file]}
      parameters:
        - IdempotencyKey
      responses:
        201: {content: {application/json: {schema: PhotoOut}}}
        409: {description: "idempotency_mismatch (the key sent with other bytes)",
              content: {application/json: {schema: ErrorOut}}}
        413: {description: "over 8 MB", content: {application/json: {schema: ErrorOut}}}
        422: {description: "not a JPEG or PNG, or more pixels than allowed",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    idem = idempotency()
    prepared = photos.prepare(read_upload("file"))
    photo = services.store_photo(get_session(), bank, prepared, by=user.name, clock=clock(),
                                 idem=idem)
    return jsonify(schemas.PhotoOut().dump(photo)), 201


def read_upload(field: str, storage=None) -> bytes:
    """Return an uploaded file's bytes, read no further than the photo limit (413 beyond)."""
    upload = storage if storage is not None else request.files.get(field)
    if upload is None or not upload.filename:
        raise ValidationError({field: [_("请选择照片")]})
    data = upload.stream.read(photos.MAX_BYTES + 1)
    if len(data) > photos.MAX_BYTES:
        raise TooLarge(field, photos.MAX_BYTES)
    return data


@bp.get("/banks/<bank>/photos/<int:photo_id>")
def show_photo(bank, photo_id):
    """A photo of the bank, for its staff (the desk's too).
    ---
    get:
      responses:
        200: {description: "the photo", content: {image/jpeg: {schema: {type: string, format: binary}}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, DESK_READERS)
    photo = services.get_photo(get_session(), bank, photo_id)
    return Response(photo.data, mimetype="image/jpeg", headers={
        "Cache-Control": "private, max-age=86400", "ETag": photo.sha256,
        "Content-Disposition": f'inline; filename="photo-{photo.id}.jpg"'})


# --- deeds in batches ----------------------------------------------------------------------------

@bp.post("/banks/<bank>/deeds/batch")
def post_batch(bank):
    """Post up to 200 deeds, each as if posted alone with its own Idempotency-Key.
    ---
    post:
      requestBody: {content: {application/json: {schema: BatchIn}}}
      responses:
        200: {description: "each deed's own answer, in order", content: {application/json: {schema: BatchOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.BatchIn())
    session = get_session()
    # A deed of the batch is the request its key would have made alone, to this path.
    single = request.path.removesuffix("/batch")
    results = []
    for item in data["deeds"]:
        key = item.get("key")
        try:
            results.append(_batch_one(session, bank, user, item, single))
        except ZongzhiError as err:
            # A key that is not acceptable text is not echoed: it may not even encode.
            echoed = key if isinstance(key, str) and not bounds.text_problem(key, max_len=KEY_MAX) else None
            results.append({"key": echoed, "status": err.status,
                            "body": error_body(err.code, err.message, err.fields)})
    return jsonify({"results": results})


#: A batch deed's key, its cards, and one card as typed (its token or its short number).
KEY_MAX, CARDS_MAX, CARD_MAX = 200, 200, 300


def _card_problem(card) -> str | None:
    if not isinstance(card, str):
        return _("须为文本")
    return bounds.text_problem(card, max_len=CARD_MAX)


def _batch_one(session, bank, user, item: dict, path: str) -> dict:
    key = item.get("key")
    if not isinstance(key, str) or bounds.text_problem(key.strip(), max_len=KEY_MAX):
        raise ValidationError({"key": [_("须为 1 到 200 个字符，不能含控制字符")]})
    body = {k: v for k, v in item.items() if k != "key"}
    cards = body.pop("cards", None)
    if cards is not None:
        # A phone without a signal keeps the cards it scanned; who they are is read here.
        if not isinstance(cards, list) or not 1 <= len(cards) <= CARDS_MAX:
            raise ValidationError({"cards": [_("须为 1 到 200 张卡")]})
        bad = [_("第 %(n)s 张卡：%(why)s", n=n, why=why) for n, why in enumerate(
            (_card_problem(c) for c in cards), 1) if why]
        if bad:
            raise ValidationError({"cards": bad})
        body["residents"] = [activities.find_card_for_checkin(session, bank, c).resident_id for c in cards]
    deed = load(DeedIn(), body)
    fingerprinted = {k: v for k, v in item.items() if k != "key"}
    idem = Idempotency(key.strip(), request_fingerprint("POST", path, fingerprinted), user_id=user.id)
    outcome = deeds.post_deed(
        session, bank, rule_code=deed["rule"], resident_ids=deed["residents"],
        quantity=deed["quantity"], occurred_on=deed["occurred_on"], memo=deed["memo"], by=user.name,
        clock=clock(), idem=idem, attached={"evidence": deed["evidence"]})
    return {"key": key, "status": deed_status(outcome), "body": deed_json(session, outcome)}


# --- activities ----------------------------------------------------------------------------------

@bp.post("/banks/<bank>/activities")
def create_activity(bank):
    """Publish an activity (活动): residents sign up from their cards, the grid worker checks them in.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ActivityIn}}}
      responses:
        201: {content: {application/json: {schema: ActivityOut}}}
        409: {description: "period_sealed (its day is in a sealed month), idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {description: "validation_error; too_old: its day is further back than deeds may be dated",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ActivityIn())
    tz = clock().tz
    activity = activities.create_activity(
        get_session(), bank, title=data["title"].strip(), rule_code=data["rule"].strip(),
        quantity=data["quantity"], starts_at=schemas.as_local(data["starts_at"], tz),
        ends_at=schemas.as_local(data["ends_at"], tz), place=data["place"], capacity=data["capacity"],
        by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_activity_json(activity, 0, 0)), 201


def _activity_json(activity, signups: int, checkins: int) -> dict:
    """An activity as every answer gives it: its times in the bank's time zone, as typed, however
    the database kept them (UTC, or without a zone on SQLite)."""
    tz = clock().tz
    when = {k: _local(getattr(activity, k), tz) for k in ("starts_at", "ends_at", "closed_at")}
    return _activity.dump({**activity.model_dump(), **when, "signups": signups, "checkins": checkins})


def _local(moment, tz):
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(tz)


@bp.get("/banks/<bank>/activities")
def list_activities(bank):
    """The bank's activities, newest first, with sign-ups and check-ins counted.
    ---
    get:
      parameters: [limit, cursor]
      responses:
        200: {content: {application/json: {schema: ActivityPage}}}
    """
    bank, _user = scoped_bank(bank, EVERY_ROLE)
    limit, before = page_args()
    found = activities.list_activities(get_session(), bank, limit=limit + 1, after=before)
    result = page(found, limit, lambda row: row[0].id)
    result["items"] = [_activity_json(a, s, c) for a, s, c in result["items"]]
    return jsonify(result)


@bp.post("/banks/<bank>/activities/<int:activity_id>/checkins")
def check_in(bank, activity_id):
    """Check a resident in by their card: what its QR holds, or its short number.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: CheckinIn}}}
      responses:
        201: {content: {application/json: {schema: CheckinOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "already_checked_in, activity_closed, not_started (before its day), idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {description: "a revoked card, another bank's, or none", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.CheckinIn())
    resident = activities.check_in(get_session(), bank, activity_id, data["card"], by=user.name,
                                   clock=clock(), idem=idempotency())
    return jsonify({"resident": resident.id, "name": resident.name}), 201


@bp.post("/banks/<bank>/activities/<int:activity_id>/close")
def close_activity(bank, activity_id):
    """Close an activity: one team deed for everyone checked in, once; closing again answers the first.
    ---
    post:
      responses:
        201: {description: "posted", content: {application/json: {schema: DeedOut}}}
        202: {description: "held for a reviewer", content: {application/json: {schema: PendingListOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "cap_exceeded, period_sealed", content: {application/json: {schema: ErrorOut}}}
        422: {description: "no one checked in", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    no_body()
    session = get_session()
    outcome = activities.close_activity(session, bank, activity_id, by=user.name, clock=clock())
    return jsonify(deed_json(session, outcome)), deed_status(outcome)


# --- what the phone app needs --------------------------------------------------------------------

@bp.get("/banks/<bank>/phone")
def phone_start(bank):
    """What the grid worker's phone keeps for the day: the rules with their pinyin initials, open activities.
    ---
    get:
      responses:
        200: {description: "rules and open activities", content: {application/json: {schema: {type: object}}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    _version, book = banks.rulebook(session, bank.id)
    rules = [{"code": r.code, "name": r.name, "points": r.points, "unit": r.unit,
              "review": r.review, "evidence": r.evidence, **search_keys(r.name)}
             for r in book.in_force(clock().today())]
    open_now = activities.list_activities(session, bank, limit=50, after=None, open_only=True,
                                          now=clock().now())
    return jsonify({"bank": bank.code, "name": bank.name, "user": user.name, "today": clock().today().isoformat(),
                    # How far back a deed may be dated: the phone's date field goes no further.
                    "backdate_days": book.settings.cycle.backdate_days, "rules": rules,
                    "activities": [_activity_json(a, s, c) for a, s, c in open_now]})
