"""The views of the review: the panel and the scores, a reviewer's conflict of interest, the
fund free to award, and the council's decision.
"""
from __future__ import annotations

import json

from flask import jsonify, request
from flask_babel import gettext as _

from ground.db import get_session
from ledger.answers import idempotency
from web.api import clock, load
from web.auth import READERS, REVIEWERS, scoped_bank

from .. import review, schemas
from .. import workflow as wf
from ..applications import get_application
from ..blueprint import api, bp
from ..common import rules_of
from .applications import _application_page
from .common import _back, _int, _names, _screen_bank, parse_yuan, refills


# --- API ---------------------------------------------------------------------------------------

@api.get("/applications/<int:application_id>/review")
def show_review(bank, application_id):
    """The panel, and the scores the asker may see: their own until everyone has scored.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ReviewOut}}}
    """
    bank, user = scoped_bank(bank, READERS)
    session = get_session()
    application = get_application(session, bank, application_id)
    return jsonify(schemas.ReviewOut().dump(review.review_view(session, application, viewer=user)))


@api.post("/applications/<int:application_id>/scores")
def submit_scores(bank, application_id):
    """Score an application 0–5 on every criterion of the bank's rules, with comments (reviewers).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ReviewScoresIn}}}
      responses:
        201: {content: {application/json: {schema: ReviewOut}}}
        409: {description: "recused, not_on_panel, already_scored, illegal_transition, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.ReviewScoresIn())
    session = get_session()
    review.submit_scores(session, bank, application_id, user=user,
                         scores={s["criterion"]: s["score"] for s in data["scores"]},
                         comments={s["criterion"]: s["comment"] for s in data["scores"]}, clock=clock(),
                         idem=idempotency())
    application = get_application(session, bank, application_id)
    return jsonify(schemas.ReviewOut().dump(review.review_view(session, application, viewer=user))), 201


@api.post("/applications/<int:application_id>/conflict")
def declare_conflict(bank, application_id):
    """Declare a conflict of interest and stand aside from this application (reviewers).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ConflictIn}}}
      responses:
        200: {content: {application/json: {schema: ReviewOut}}}
        409: {description: "already_scored, not_on_panel, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.ConflictIn())
    session = get_session()
    review.declare_conflict(session, bank, application_id, user=user, note=data["note"].strip(),
                            clock=clock(), idem=idempotency())
    application = get_application(session, bank, application_id)
    return jsonify(schemas.ReviewOut().dump(review.review_view(session, application, viewer=user)))


@api.get("/fund")
def fund(bank):
    """What the fund holds for projects and what is free to award.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ProjectFundOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    return jsonify(schemas.ProjectFundOut().dump(review.fund_position(get_session(), bank)))


@api.post("/applications/<int:application_id>/decision")
def decide(bank, application_id):
    """Record the council meeting's decision: award with an amount, or decline with a reason (reviewers).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: CouncilDecisionIn}}}
      responses:
        201: {content: {application/json: {schema: CouncilDecisionOut}}}
        409: {description: "illegal_transition, review_incomplete, award_exceeds_request, award_exceeds_fund, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {description: "no quorum, votes that do not add up, missing amount or reason",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.CouncilDecisionIn())
    decision = review.decide(get_session(), bank, application_id, user=user, met_on=data["met_on"],
                             attendees=[a.strip() for a in data["attendees"]],
                             votes_for=data["votes_for"], votes_against=data["votes_against"],
                             abstaining=data["abstaining"], minutes=data["minutes"].strip(),
                             outcome=data["outcome"], amount=data["amount"],
                             reason=(data["reason"] or "").strip() or None, clock=clock(),
                             idem=idempotency())
    return jsonify(schemas.CouncilDecisionOut().dump(
        {**decision.model_dump(), "attendees": json.loads(decision.attendees)})), 201


# --- screens -----------------------------------------------------------------------------------

@bp.post("/foundation/<bank>/applications/<int:application_id>/scores")
@refills(_application_page)
def screen_scores(bank, application_id):
    bank, user = _screen_bank(bank, REVIEWERS)
    session = get_session()
    criteria = rules_of(session, bank).criteria
    data = load(schemas.ReviewScoresIn(), {"scores": [
        {"criterion": c.code, "score": _int(request.form.get(f"score_{c.code}"), c.code),
         "comment": (request.form.get(f"comment_{c.code}") or "").strip() or None} for c in criteria]})
    review.submit_scores(session, bank, application_id, user=user,
                         scores={s["criterion"]: s["score"] for s in data["scores"]},
                         comments={s["criterion"]: s["comment"] for s in data["scores"]}, clock=clock())
    return _back(bank, application_id, _("评分已提交"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/conflict")
@refills(_application_page)
def screen_conflict(bank, application_id):
    bank, user = _screen_bank(bank, REVIEWERS)
    data = load(schemas.ConflictIn(), {"note": request.form.get("note")})
    review.declare_conflict(get_session(), bank, application_id, user=user, note=data["note"].strip(),
                            clock=clock())
    return _back(bank, application_id, _("已申报回避"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/decision")
@refills(_application_page)
def screen_decision(bank, application_id):
    bank, user = _screen_bank(bank, REVIEWERS)
    form = request.form
    outcome = form.get("outcome")
    data = load(schemas.CouncilDecisionIn(), {
        "met_on": form.get("met_on"), "attendees": _names(form.get("attendees")),
        "votes_for": _int(form.get("votes_for"), "votes_for"),
        "votes_against": _int(form.get("votes_against"), "votes_against"),
        "abstaining": _int(form.get("abstaining"), "abstaining"), "minutes": form.get("minutes"),
        "outcome": outcome,
        "amount": parse_yuan(form.get("amount"), "amount", required=False) if outcome == wf.AWARDED else None,
        "reason": (form.get("reason") or "").strip() or None})
    review.decide(get_session(), bank, application_id, user=user, met_on=data["met_on"],
                  attendees=data["attendees"], votes_for=data["votes_for"],
                  votes_against=data["votes_against"], abstaining=data["abstaining"],
                  minutes=data["minutes"].strip(), outcome=data["outcome"], amount=data["amount"],
                  reason=data["reason"], clock=clock())
    return _back(bank, application_id, _("理事会决定已记录"))
