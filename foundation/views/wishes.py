"""The views of the wish board (微心愿): collecting a wish, its review and the wall, claims,
delivery and the thanks; the wish's page, which every form about it comes back to.
"""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ground.db import get_session
from ground.errors import ConflictError, ValidationError
from ledger.models import Resident
from ledger.answers import idempotency
from web.api import clock, load, no_body, page, page_args
from web.auth import READERS, REVIEWERS, WRITERS, scoped_bank

from .. import people, schemas, wishes
from .. import workflow as wf
from ..blueprint import api, bp
from .common import (_answer_form, _optional_body, _refused, _screen_bank, _state_arg, _typed, parse_yuan,
                     refills)

_wish = schemas.WishOut()


def _wish_json(session, wish) -> dict:
    claim = wishes.current_claim(session, wish.id)
    claim_json = None
    if claim is not None:
        claim_json = {**claim.model_dump(),
                      "donors": [d.model_dump() for d in wishes.donors_of(session, claim.id)]}
    return _wish.dump({**wish.model_dump(), "claim": claim_json})


# --- API ---------------------------------------------------------------------------------------

@api.post("/wishes")
def collect_wish(bank):
    """Write down a resident's wish (微心愿).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: WishIn}}}
      responses:
        201: {content: {application/json: {schema: WishOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.WishIn())
    session = get_session()
    wish = wishes.collect_wish(session, bank, resident_id=data["resident"], title=data["title"].strip(),
                               description=data["description"].strip(),
                               estimated_value=data["estimated_value"], by=user.name, clock=clock(),
                               idem=idempotency())
    return jsonify(_wish_json(session, wish)), 201


@api.get("/wishes")
def list_wishes(bank):
    """List wishes, newest first, optionally in one state.
    ---
    get:
      parameters:
        - {name: state, in: query, schema: {type: string}}
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: WishPage}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    state = _state_arg(wf.WISH_STATES)
    limit, before = page_args()
    session = get_session()
    result = page(wishes.list_wishes(session, bank, state=state, limit=limit + 1, before=before),
                  limit, lambda w: w.id)
    result["items"] = [_wish_json(session, w) for w in result["items"]]
    return jsonify(result)


@api.get("/wishes/<int:wish_id>")
def show_wish(bank, wish_id):
    """Show a wish and its current claim.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    session = get_session()
    return jsonify(_wish_json(session, wishes.get_wish(session, bank, wish_id)))


@api.post("/wishes/<int:wish_id>/<any(verify, reject):action>")
def review_wish(bank, wish_id, action):
    """Verify a wish, or reject it with a reason (reviewers).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: WishReasonIn}}}
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        409: {description: "illegal_transition, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    return _wish_move(bank, user, wish_id, action)


@api.post("/wishes/<int:wish_id>/publish")
def publish_wish(bank, wish_id):
    """Put a verified wish on the public wall.
    ---
    post:
      parameters:
        - IdempotencyKey
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        409: {description: "illegal_transition, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    return _wish_move(bank, user, wish_id, "publish")


def _wish_move(bank, user, wish_id, action):
    data = load(schemas.WishReasonIn(), _optional_body())
    session = get_session()
    wish = wishes.review_wish(session, bank, wish_id, action, reason=(data["reason"] or "").strip() or None,
                              by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_wish_json(session, wish))


@api.post("/wishes/<int:wish_id>/claims")
def claim_wish(bank, wish_id):
    """Claim a wish for one donor or several together, with a deadline.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: WishClaimIn}}}
      responses:
        201: {content: {application/json: {schema: WishOut}}}
        409: {description: "wish_not_open, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.WishClaimIn())
    session = get_session()
    donors = [{**d, "name": (d["name"] or "").strip()} for d in data["donors"]]
    wishes.claim_wish(session, bank, wish_id, donors=donors, deadline=data["deadline"], by=user.name,
                      clock=clock(), idem=idempotency())
    return jsonify(_wish_json(session, wishes.get_wish(session, bank, wish_id))), 201


@api.post("/wishes/<int:wish_id>/delivery")
def deliver_wish(bank, wish_id):
    """Record the delivery, each donor's gift at its stated value (an in-kind gift on the CNY ledger).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: WishDeliverIn}}}
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        409: {description: "illegal_transition, claim_expired", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.WishDeliverIn())
    gifts = {g["donor"]: g["value"] for g in data["gifts"]}
    if len(gifts) != len(data["gifts"]):
        raise ValidationError({"gifts": [_("同一认领人只能填一项")]})
    session = get_session()
    wish = wishes.deliver_wish(session, bank, wish_id, gifts=gifts, delivered_on=data["delivered_on"],
                               by=user.name, clock=clock(), idem=idempotency())
    return jsonify(_wish_json(session, wish))


@api.post("/wishes/<int:wish_id>/confirmation")
def confirm_wish(bank, wish_id):
    """Confirm the wish came true, with the resident's thank-you note; resident donors earn points.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: WishConfirmIn}}}
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        409: {description: "illegal_transition, cap_exceeded", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.WishConfirmIn())
    session = get_session()
    wish = wishes.confirm_wish(session, bank, wish_id, thanks=data["thanks"].strip(), user=user,
                               clock=clock(), idem=idempotency())
    return jsonify(_wish_json(session, wish))


@api.post("/wishes/expire")
def expire_claims(bank):
    """Put back on the wall every wish whose claim passed its deadline undelivered (the cycle runs this too).
    ---
    post:
      parameters:
        - IdempotencyKey
      responses:
        200: {content: {application/json: {schema: ExpiredWishesOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, WRITERS)
    no_body()
    return jsonify({"wishes": wishes.expire_claims(get_session(), bank, clock=clock(), idem=idempotency())})


# --- screens -----------------------------------------------------------------------------------

@bp.route("/foundation/<bank>/wishes/new", methods=["GET", "POST"])
def new_wish(bank):
    """Collect a resident's wish, the resident picked by name or pinyin; the value in yuan."""
    bank, user = _screen_bank(bank, WRITERS)
    session = get_session()
    wisher = people.pick(session, bank, _typed(), "resident", one=True)

    def render(**typed):
        return render_template("foundation/wish_form.html", bank=bank, picked=wisher, **typed)

    if request.method == "GET" or wisher.searching:
        return _answer_form(render)
    form = request.form
    try:
        if problems := people.problems(wisher):
            raise ValidationError(problems)
        data = load(schemas.WishIn(), {
            "resident": wisher.ids[0], "title": form.get("title"), "description": form.get("description"),
            "estimated_value": parse_yuan(form.get("estimated_value"), "estimated_value", required=False)})
        wish = wishes.collect_wish(session, bank, resident_id=data["resident"],
                                   title=data["title"].strip(), description=data["description"].strip(),
                                   estimated_value=data["estimated_value"], by=user.name, clock=clock())
    except (ValidationError, ConflictError) as err:
        session.rollback()
        return _answer_form(render, _refused(err))
    flash(_("心愿已登记，待理事审核"))
    return redirect(url_for("foundation.wish", bank=bank.code, wish_id=wish.id))


@bp.get("/foundation/<bank>/wishes/<int:wish_id>")
def wish(bank, wish_id):
    return _wish_page(bank, wish_id=wish_id)


def _wish_page(bank, *, wish_id, form=None, message=None, problems=None, sent=None):
    """The wish's page; after a refused form, that form as typed with its problems."""
    bank, user = _screen_bank(bank)
    session = get_session()
    form = form if form is not None else MultiDict()
    w = wishes.get_wish(session, bank, wish_id)
    data = _wish_json(session, w)
    return render_template("foundation/wish.html", bank=bank, user=user, w=w, data=data,
                           wisher=session.get(Resident, w.resident_id), today=clock().today(),
                           is_reviewer=user.role in REVIEWERS, is_writer=user.role in WRITERS,
                           claimants=people.pick(session, bank, form if sent == "claim" else MultiDict(),
                                                 "residents"),
                           form=form, sent=sent, message=message, problems=problems or {})


@bp.post("/foundation/<bank>/wishes/<int:wish_id>/<any(verify, reject, publish, claim, deliver, confirm):action>")
@refills(_wish_page)
def screen_wish(bank, wish_id, action):
    code = bank
    bank, user = _screen_bank(bank, REVIEWERS if action in ("verify", "reject") else WRITERS)
    session, form = get_session(), request.form
    if action in ("verify", "reject", "publish"):
        reason = load(schemas.WishReasonIn(),
                      {"reason": (form.get("reason") or "").strip() or None})["reason"]
        wishes.review_wish(session, bank, wish_id, action, reason=reason, by=user.name, clock=clock())
    elif action == "claim":
        claimants = people.pick(session, bank, form, "residents")
        if claimants.searching:
            return _wish_page(code, wish_id=wish_id, form=form, sent="claim")
        if problems := people.problems(claimants, required=False):
            raise ValidationError(problems)
        donors = [{"resident": resident_id} for resident_id in claimants.ids]
        for raw in (form.get("outside") or "").splitlines():
            parts = raw.split()
            if not parts:
                continue
            kind = "unit" if parts[0] in ("unit", "单位") else "person"
            if parts[0] in ("unit", "单位", "person", "个人"):
                parts = parts[1:]
            donors.append({"kind": kind, "name": " ".join(parts[:-1]) or None,
                           "phone": parts[-1] if len(parts) > 1 else None})
        data = load(schemas.WishClaimIn(), {"donors": donors, "deadline": form.get("deadline") or None})
        wishes.claim_wish(session, bank, wish_id, donors=data["donors"], deadline=data["deadline"],
                          by=user.name, clock=clock())
    elif action == "deliver":
        claim = wishes.current_claim(session, wish_id)
        donors = wishes.donors_of(session, claim.id) if claim else []
        gifts = {d.id: parse_yuan(form.get(f"value_{d.id}"), f"value_{d.id}") for d in donors}
        data = load(schemas.WishDeliverIn(), {"gifts": [{"donor": k, "value": v} for k, v in gifts.items()]
                                              or [{}], "delivered_on": form.get("delivered_on")})
        wishes.deliver_wish(session, bank, wish_id, gifts={g["donor"]: g["value"] for g in data["gifts"]},
                            delivered_on=data["delivered_on"], by=user.name, clock=clock())
    else:
        data = load(schemas.WishConfirmIn(), {"thanks": form.get("thanks")})
        wishes.confirm_wish(session, bank, wish_id, thanks=data["thanks"].strip(), user=user, clock=clock())
    flash(_("心愿已更新"))
    return redirect(url_for("foundation.wish", bank=bank.code, wish_id=wish_id))
