"""The foundation's HTTP face: the JSON API, the clerk's and reviewers' screens, the public page.

One blueprint `bp` holds the screens and the public page and carries the API as a nested
blueprint under /api/v1, which the app exempts from CSRF like every /api/ blueprint.
"""
from __future__ import annotations

import functools
import json
import re

from flask import (Blueprint, Response, current_app, flash, jsonify, redirect, render_template,
                   request, send_file, url_for)
from flask_babel import gettext as _

from ground.db import get_session
from ledger.replica import reading_session
from ground.errors import ConflictError, NotFound, ValidationError, ZongzhiError
from ledger.models import Resident
from ledger.services import get_bank
from ledger.views import idempotency
from rules import bounds, periods
from web.api import clock, load, page, page_args
from web import uploads
from web.auth import READERS, REVIEWERS, WRITERS, scoped_bank
from web.i18n import language, translate_fields
from werkzeug.datastructures import MultiDict

from . import people, schemas, services
from . import workflow as wf

bp = Blueprint("foundation", __name__, template_folder="templates")
api = Blueprint("api", __name__, url_prefix="/api/v1/banks/<bank>/foundation")

_application = schemas.ApplicationOut()
_wish = schemas.WishOut()


# --- JSON shapes ---------------------------------------------------------------------------------

def _application_json(session, application, names=None) -> dict:
    names = names or services.applicant_names(session, [application.applicant_id])
    return _application.dump({**application.model_dump(),
                              "applicant_name": names[application.applicant_id]})


def _detail(session, application, user) -> dict:
    decision = services.decision_of(session, application.id)
    return {
        **application.model_dump(),
        "applicant_name": services.applicant_names(session, [application.applicant_id])[application.applicant_id],
        "budget": [line.model_dump() for line in services.lines_of(session, application.id, "budget")],
        "spent_lines": [line.model_dump() for line in services.lines_of(session, application.id, "spent")],
        "transitions": [t.model_dump() for t in services.transitions_of(session, application.id)],
        "attachments": [a.model_dump() for a in services.attachments_of(session, application.id)],
        "decision": {**decision.model_dump(), "attendees": json.loads(decision.attendees)} if decision else None,
        "tranches": [t.model_dump() for t in services.tranches_of(session, application.id)],
        "progress": [p.model_dump() for p in services.progress_of(session, application.id)],
        "volunteers": services.volunteer_links(session, application.id),
        "actions": wf.allowed_actions(application.state, user.role),
    }


def _wish_json(session, wish) -> dict:
    claim = services.current_claim(session, wish.id)
    claim_json = None
    if claim is not None:
        claim_json = {**claim.model_dump(),
                      "donors": [d.model_dump() for d in services.donors_of(session, claim.id)]}
    return _wish.dump({**wish.model_dump(), "claim": claim_json})


def _applicant_json(session, applicant) -> dict:
    return schemas.ApplicantOut().dump({**applicant.model_dump(), "members": [
        {"id": r.id, "name": r.name} for r in services.members_of(session, applicant.id)]})


# --- API: applicants and reviewers ----------------------------------------------------------------

@api.post("/applicants")
def create_applicant(bank):
    """Register a resident group or a welfare station (公益站) with its member residents.
    ---
    post:
      requestBody: {content: {application/json: {schema: ApplicantIn}}}
      responses:
        201: {content: {application/json: {schema: ApplicantOut}}}
        409: {description: "applicant_exists", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ApplicantIn())
    session = get_session()
    applicant = services.create_applicant(session, bank, kind=data["kind"], name=data["name"].strip(),
                                          phone=data["phone"], members=data["members"], by=user.name,
                                          clock=clock())
    return jsonify(_applicant_json(session, applicant)), 201


@api.get("/applicants")
def list_applicants(bank):
    """List the bank's applicants with their members.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ApplicantList}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    session = get_session()
    return jsonify({"items": [_applicant_json(session, a) for a in services.list_applicants(session, bank)],
                    "next_cursor": None})


@api.put("/reviewers/<int:user_id>/resident")
def link_reviewer(bank, user_id):
    """Say which resident a reviewer is, so they are recused from their kin's applications.
    ---
    put:
      requestBody: {content: {application/json: {schema: ReviewerLinkIn}}}
      responses:
        200: {content: {application/json: {schema: ReviewerLinkOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ReviewerLinkIn())
    link = services.link_reviewer(get_session(), bank, user_id=user_id, resident_id=data["resident"],
                                  by=user.name, clock=clock())
    return jsonify(schemas.ReviewerLinkOut().dump(link))


# --- API: applications ---------------------------------------------------------------------------

@api.post("/applications")
def create_application(bank):
    """Enter a micro-project application (a draft), often from the applicant's signed paper form.
    ---
    post:
      requestBody: {content: {application/json: {schema: ApplicationIn}}}
      responses:
        201: {content: {application/json: {schema: ApplicationOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ApplicationIn())
    session = get_session()
    application = services.create_application(
        session, bank, applicant_id=data["applicant"], title=data["title"].strip(),
        purpose=data["purpose"].strip(), budget=[(b["item"].strip(), b["amount"]) for b in data["budget"]],
        amount_requested=data["amount_requested"], starts_on=data["starts_on"], ends_on=data["ends_on"],
        by=user.name, clock=clock())
    return jsonify(_application_json(session, application)), 201


@api.get("/applications")
def list_applications(bank):
    """List applications, newest first, optionally in one state.
    ---
    get:
      parameters:
        - {name: state, in: query, schema: {type: string}}
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: ApplicationPage}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    state = _state_arg(wf.STATES)
    limit, before = page_args()
    session = get_session()
    found = services.list_applications(session, bank, state=state, limit=limit + 1, before=before)
    result = page(found, limit, lambda a: a.id)
    names = services.applicant_names(session, [a.applicant_id for a in result["items"]])
    result["items"] = [_application_json(session, a, names) for a in result["items"]]
    return jsonify(result)


@api.get("/applications/<int:application_id>")
def show_application(bank, application_id):
    """Show an application with its budget, history, files, decision, tranches, progress, volunteers.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ApplicationDetailOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, READERS)
    session = get_session()
    application = services.get_application(session, bank, application_id)
    return jsonify(schemas.ApplicationDetailOut().dump(_detail(session, application, user)))


@api.post("/applications/<int:application_id>/<any(submit, screen, review, start, close, withdraw):action>")
def move_application(bank, application_id, action):
    """Move an application one step: submit, screen, review (seats the panel), start, close, withdraw.
    ---
    post:
      requestBody: {content: {application/json: {schema: MoveNoteIn}}}
      responses:
        200: {content: {application/json: {schema: ApplicationOut}}}
        403: {description: "close is the council's", content: {application/json: {schema: ErrorOut}}}
        409: {description: "illegal_transition, no_reviewers", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.MoveNoteIn(), _optional_body())
    session = get_session()
    application = services.move(session, bank, application_id, action, user=user, note=data["note"],
                                clock=clock())
    return jsonify(_application_json(session, application))


@api.post("/applications/<int:application_id>/attachments")
@uploads.limit(services.MAX_ATTACHMENT_BYTES)
def add_attachment(bank, application_id):
    """Attach a photo or the scan of the signed paper form (multipart: file, kind, on_behalf_of).
    ---
    post:
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file, kind]
              properties:
                file: {type: string, format: binary, description: "JPEG, PNG or PDF"}
                kind: {type: string, enum: [photo, paper_form]}
                on_behalf_of: {type: string, description: "whose signed form (default: the applicant)"}
      responses:
        201: {content: {application/json: {schema: ApplicationAttachmentOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    attachment = services.add_attachment(
        get_session(), bank, application_id, _upload("file"), kind=request.form.get("kind", ""),
        on_behalf_of=(request.form.get("on_behalf_of") or "").strip()[:100] or None, by=user.name,
        clock=clock(), instance_path=_files_root())
    return jsonify(schemas.ApplicationAttachmentOut().dump(attachment)), 201


@api.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
def attachment_file(bank, application_id, attachment_id):
    """Download an attachment.
    ---
    get:
      responses:
        200: {description: "the file as it was checked in: a photo or a scanned form",
              content: {image/jpeg: {}, image/png: {}, application/pdf: {}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    attachment, path = services.attachment_file(get_session(), bank, application_id, attachment_id,
                                                instance_path=_files_root())
    return _send(attachment, path)


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
    application = services.get_application(session, bank, application_id)
    return jsonify(schemas.ReviewOut().dump(services.review_view(session, application, viewer=user)))


@api.post("/applications/<int:application_id>/scores")
def submit_scores(bank, application_id):
    """Score an application 0–5 on every criterion of the bank's rules, with comments (reviewers).
    ---
    post:
      requestBody: {content: {application/json: {schema: ReviewScoresIn}}}
      responses:
        201: {content: {application/json: {schema: ReviewOut}}}
        409: {description: "recused, not_on_panel, already_scored, illegal_transition",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.ReviewScoresIn())
    session = get_session()
    services.submit_scores(session, bank, application_id, user=user,
                           scores={s["criterion"]: s["score"] for s in data["scores"]},
                           comments={s["criterion"]: s["comment"] for s in data["scores"]}, clock=clock())
    application = services.get_application(session, bank, application_id)
    return jsonify(schemas.ReviewOut().dump(services.review_view(session, application, viewer=user))), 201


@api.post("/applications/<int:application_id>/conflict")
def declare_conflict(bank, application_id):
    """Declare a conflict of interest and stand aside from this application (reviewers).
    ---
    post:
      requestBody: {content: {application/json: {schema: ConflictIn}}}
      responses:
        200: {content: {application/json: {schema: ReviewOut}}}
        409: {description: "already_scored, not_on_panel", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.ConflictIn())
    session = get_session()
    services.declare_conflict(session, bank, application_id, user=user, note=data["note"].strip(),
                              clock=clock())
    application = services.get_application(session, bank, application_id)
    return jsonify(schemas.ReviewOut().dump(services.review_view(session, application, viewer=user)))


@api.get("/fund")
def fund(bank):
    """What the fund holds for projects and what is free to award.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ProjectFundOut}}}
    """
    bank, _user = scoped_bank(bank, READERS)
    return jsonify(schemas.ProjectFundOut().dump(services.fund_position(get_session(), bank)))


@api.post("/applications/<int:application_id>/decision")
def decide(bank, application_id):
    """Record the council meeting's decision: award with an amount, or decline with a reason (reviewers).
    ---
    post:
      requestBody: {content: {application/json: {schema: CouncilDecisionIn}}}
      responses:
        201: {content: {application/json: {schema: CouncilDecisionOut}}}
        409: {description: "illegal_transition, review_incomplete, award_exceeds_request, award_exceeds_fund",
              content: {application/json: {schema: ErrorOut}}}
        422: {description: "no quorum, votes that do not add up, missing amount or reason",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.CouncilDecisionIn())
    decision = services.decide(get_session(), bank, application_id, user=user, met_on=data["met_on"],
                               attendees=[a.strip() for a in data["attendees"]],
                               votes_for=data["votes_for"], votes_against=data["votes_against"],
                               abstaining=data["abstaining"], minutes=data["minutes"].strip(),
                               outcome=data["outcome"], amount=data["amount"],
                               reason=(data["reason"] or "").strip() or None, clock=clock())
    return jsonify(schemas.CouncilDecisionOut().dump(
        {**decision.model_dump(), "attendees": json.loads(decision.attendees)})), 201


@api.post("/applications/<int:application_id>/tranches")
def pay_tranche(bank, application_id):
    """Pay a tranche of the award from the fund into the project's account.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ProjectTrancheIn}}}
      responses:
        201: {content: {application/json: {schema: ProjectTrancheOut}}}
        409: {description: "tranche_exceeds_award, insufficient_fund, illegal_transition, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ProjectTrancheIn())
    tranche = services.pay_tranche(get_session(), bank, application_id, amount=data["amount"],
                                   memo=data["memo"], user=user, clock=clock(), idem=idempotency())
    return jsonify(schemas.ProjectTrancheOut().dump(tranche)), 201


@api.post("/applications/<int:application_id>/progress")
def add_progress(bank, application_id):
    """Report a project's progress (JSON; photos go with the screen's form or as attachments).
    ---
    post:
      requestBody: {content: {application/json: {schema: ProjectProgressIn}}}
      responses:
        201: {content: {application/json: {schema: ProjectProgressOut}}}
        409: {description: "illegal_transition", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ProjectProgressIn())
    progress = services.add_progress(get_session(), bank, application_id, reported_on=data["reported_on"],
                                     percent=data["percent"], text=data["text"].strip(), photos=[],
                                     user=user, clock=clock(), instance_path=_files_root())
    return jsonify(schemas.ProjectProgressOut().dump(progress)), 201


@api.post("/applications/<int:application_id>/completion")
def complete(bank, application_id):
    """File the completion report: what was spent moves to spent:projects, the rest back to the fund.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ProjectCompletionIn}}}
      responses:
        201: {content: {application/json: {schema: ApplicationOut}}}
        409: {description: "spent_exceeds_disbursed, illegal_transition", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ProjectCompletionIn())
    session = get_session()
    application = services.complete(session, bank, application_id,
                                     spent=[(s["item"].strip(), s["amount"]) for s in data["spent"]],
                                     report=data["report"].strip(), user=user, clock=clock(),
                                     idem=idempotency())
    return jsonify(_application_json(session, application)), 201


@api.post("/applications/<int:application_id>/volunteers")
def credit_volunteers(bank, application_id):
    """Credit volunteers who worked on an awarded project with points, the deeds linked to it.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ProjectVolunteersIn}}}
      responses:
        201: {content: {application/json: {schema: DeedOut}}}
        202: {content: {application/json: {schema: PendingListOut}}}
        409: {description: "illegal_transition, cap_exceeded", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    from ledger.views import _deed_answer

    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ProjectVolunteersIn())
    session = get_session()
    outcome = services.credit_volunteers(session, bank, application_id, resident_ids=data["residents"],
                                         quantity=data["quantity"], occurred_on=data["occurred_on"],
                                         memo=data["memo"], rule_code=data["rule"], user=user,
                                         clock=clock(), idem=idempotency())
    return _deed_answer(session, outcome)


# --- API: wishes --------------------------------------------------------------------------------------

@api.post("/wishes")
def collect_wish(bank):
    """Write down a resident's wish (微心愿).
    ---
    post:
      requestBody: {content: {application/json: {schema: WishIn}}}
      responses:
        201: {content: {application/json: {schema: WishOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.WishIn())
    session = get_session()
    wish = services.collect_wish(session, bank, resident_id=data["resident"], title=data["title"].strip(),
                                 description=data["description"].strip(),
                                 estimated_value=data["estimated_value"], by=user.name, clock=clock())
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
    result = page(services.list_wishes(session, bank, state=state, limit=limit + 1, before=before),
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
    return jsonify(_wish_json(session, services.get_wish(session, bank, wish_id)))


@api.post("/wishes/<int:wish_id>/<any(verify, reject):action>")
def review_wish(bank, wish_id, action):
    """Verify a wish, or reject it with a reason (reviewers).
    ---
    post:
      requestBody: {content: {application/json: {schema: WishReasonIn}}}
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        409: {description: "illegal_transition", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    return _wish_move(bank, user, wish_id, action)


@api.post("/wishes/<int:wish_id>/publish")
def publish_wish(bank, wish_id):
    """Put a verified wish on the public wall.
    ---
    post:
      responses:
        200: {content: {application/json: {schema: WishOut}}}
        409: {description: "illegal_transition", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    return _wish_move(bank, user, wish_id, "publish")


def _wish_move(bank, user, wish_id, action):
    data = load(schemas.WishReasonIn(), _optional_body())
    session = get_session()
    wish = services.review_wish(session, bank, wish_id, action, reason=(data["reason"] or "").strip() or None,
                                by=user.name, clock=clock())
    return jsonify(_wish_json(session, wish))


@api.post("/wishes/<int:wish_id>/claims")
def claim_wish(bank, wish_id):
    """Claim a wish for one donor or several together, with a deadline.
    ---
    post:
      requestBody: {content: {application/json: {schema: WishClaimIn}}}
      responses:
        201: {content: {application/json: {schema: WishOut}}}
        409: {description: "wish_not_open", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.WishClaimIn())
    session = get_session()
    donors = [{**d, "name": (d["name"] or "").strip()} for d in data["donors"]]
    services.claim_wish(session, bank, wish_id, donors=donors, deadline=data["deadline"], by=user.name,
                        clock=clock())
    return jsonify(_wish_json(session, services.get_wish(session, bank, wish_id))), 201


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
        raise ValidationError({"gifts": ["同一认领人只能填一项"]})
    session = get_session()
    wish = services.deliver_wish(session, bank, wish_id, gifts=gifts, delivered_on=data["delivered_on"],
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
    wish = services.confirm_wish(session, bank, wish_id, thanks=data["thanks"].strip(), user=user,
                                 clock=clock(), idem=idempotency())
    return jsonify(_wish_json(session, wish))


@api.post("/wishes/expire")
def expire_claims(bank):
    """Put back on the wall every wish whose claim passed its deadline undelivered (the cycle runs this too).
    ---
    post:
      responses:
        200: {content: {application/json: {schema: ExpiredWishesOut}}}
    """
    bank, _user = scoped_bank(bank, WRITERS)
    return jsonify({"wishes": services.expire_claims(get_session(), bank, clock=clock())})


# --- API: the quarterly report ----------------------------------------------------------------------

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
    report = services.quarter_report(get_session(), bank, year, quarter, tz=clock().tz)
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

    report = services.quarter_report(get_session(), bank, year, quarter, tz=clock().tz)
    html = render_template("foundation/quarter_pdf.html", report=report, printed_at=clock().now())
    pdf = render_pdf(html, when=clock().now())
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="foundation-{bank.code}-{year}-Q{quarter}.pdf"'})


bp.register_blueprint(api)


# --- request helpers ----------------------------------------------------------------------------------

def _optional_body() -> dict:
    from web.api import json_body

    return json_body() if request.get_data(cache=True).strip() else {}


def _state_arg(states) -> str | None:
    state = request.args.get("state") or None
    if state is not None and state not in states:
        raise ValidationError({"state": [f"须为以下之一：{', '.join(states)}"]})
    return state


def _files_root() -> str:
    """Where attachments live: the instance folder, unless FOUNDATION_FILES says elsewhere."""
    return current_app.config.get("FOUNDATION_FILES") or current_app.instance_path


def _upload(field: str) -> services.Upload:
    file = request.files.get(field)
    if file is None or not file.filename:
        raise ValidationError({field: ["请选择要上传的文件"]})
    return services.Upload(file.filename, file.read())


def _send(attachment, path):
    if not path.is_file():
        raise NotFound("附件", "attachment")
    return send_file(path, mimetype=attachment.content_type, download_name=attachment.filename,
                     max_age=0)


# --- screens: the clerk's and the reviewers' ------------------------------------------------------

def parse_yuan(text: str | None, field: str, *, required: bool = True) -> int | None:
    """Read money typed in yuan ("1200", "35.5", "1,200.00") as integer fen, never via a float."""
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError({field: ["请填写金额（元）"]})
        return None
    fen = bounds.parse_fen(text)
    if fen is None:
        raise ValidationError({field: [f"「{text[:20]}」不是有效的金额，例如 1200 或 35.50"]})
    return fen


def _lines(text: str, field: str) -> list[dict]:
    """Read lines "item amount" (amount in yuan, last on the line) into budget lines."""
    lines = []
    for n, raw in enumerate((text or "").splitlines(), 1):
        raw = raw.strip()
        if not raw:
            continue
        parts = raw.rsplit(None, 1)
        if len(parts) != 2:
            raise ValidationError({field: [f"第 {n} 行须为「名目 金额」"]})
        lines.append({"item": parts[0], "amount": parse_yuan(parts[1], field)})
    return lines


def _names(text: str) -> list[str]:
    return [n.strip() for n in re.split(r"[\n,，、;；]+", text or "") if n.strip()]


def _int(value, field: str) -> int:
    """A whole number typed in a form (ASCII digits; the schema then checks its own bounds)."""
    number = bounds.parse_whole(str(value) if value is not None else None, min=0)
    if number is None:
        raise ValidationError({field: ["须为整数（半角数字）"]})
    return number


def _screen_bank(code: str, roles=READERS):
    return scoped_bank(code, roles)


def _refused(err: ZongzhiError) -> dict:
    """Return a refusal as a form shows it: each problem beside its field, the message on top.

    Problems nested under a field (a budget line's amount) are shown beside that field.
    """
    lang = language()

    def leaves(value) -> list[str]:
        if isinstance(value, dict):
            return [text for v in value.values() for text in leaves(v)]
        if isinstance(value, list):
            return [text for v in value for text in leaves(v)]
        return [str(value)]

    problems = {str(k): leaves(v) for k, v in translate_fields(err.fields, lang).items()}
    message = None if isinstance(err, ValidationError) and problems else err.text(lang)
    return {"message": message, "problems": problems, "status": err.status}


def _typed() -> MultiDict:
    """What the form sent, to fill it in again; nothing on a first look."""
    return request.form if request.method == "POST" else MultiDict()


def _answer_form(render, refusal: dict | None = None, status: int = 200):
    """Render a form page again, refilled, with a refusal (422/409) or after a search (200)."""
    refusal = refusal or {"message": None, "problems": {}, "status": status}
    return render(form=_typed(), message=refusal["message"], problems=refusal["problems"]), refusal["status"]


def _sent() -> str:
    """Which form of a page was sent: its view's name (screen_decision → decision), or the
    wish's action."""
    return (request.view_args or {}).get("action") if request.endpoint == "foundation.screen_wish" \
        else request.endpoint.rsplit(".", 1)[-1].removeprefix("screen_")


def refills(page):
    """Answer a refused form post with `page` (the screen the form sits on) refilled, never a bare error.

    `page(bank, form=, message=, problems=, **ids)` renders that screen; the session is rolled
    back first, so the page shows nothing half-written.
    """
    def wrap(view):
        @functools.wraps(view)
        def inner(bank, **ids):
            try:
                return view(bank, **ids)
            except (ValidationError, ConflictError) as err:
                get_session().rollback()
                refusal = _refused(err)
                where = {k: v for k, v in ids.items() if k != "action"}
                return page(bank, form=request.form, message=refusal["message"],
                            problems=refusal["problems"], sent=_sent(), **where), refusal["status"]
        return inner
    return wrap


@bp.get("/foundation/<bank>/")
def index(bank):
    return _index_page(bank)


def _index_page(bank, *, form=None, message=None, problems=None, linking=None):
    bank, user = _screen_bank(bank)
    session = get_session()
    state = _state_arg(wf.STATES)
    applications = services.list_applications(session, bank, state=state, limit=200)
    names = services.applicant_names(session, [a.applicant_id for a in applications])
    wishes = services.list_wishes(session, bank, limit=200)
    wishers = _resident_names(session, [w.resident_id for w in wishes])
    return render_template("foundation/index.html", bank=bank, user=user, applications=applications,
                           names=names, wishes=wishes, wishers=wishers, state=state, states=wf.STATES,
                           fund=services.fund_position(session, bank),
                           quarter=_this_quarter(), reviewers=services.reviewers(session, bank),
                           linking=linking or people.pick(session, bank, MultiDict(), "resident", one=True),
                           form=form or MultiDict(), message=message, problems=problems or {})


def _this_quarter() -> tuple[int, int]:
    this = periods.period_of("quarter", clock().today())
    return this.year, this.number


def _resident_names(session, ids) -> dict[int, str]:
    from sqlalchemy import select

    ids = set(ids)
    return dict(session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(ids))).all()) if ids else {}


@bp.route("/foundation/<bank>/applicants/new", methods=["GET", "POST"])
def new_applicant(bank):
    """Register an applicant, its members picked by name or pinyin."""
    bank, user = _screen_bank(bank, WRITERS)
    session = get_session()
    members = people.pick(session, bank, _typed(), "members")

    def render(**typed):
        applicants = services.list_applicants(session, bank)
        return render_template("foundation/applicant_form.html", bank=bank, applicants=applicants,
                               members={a.id: services.members_of(session, a.id) for a in applicants},
                               picked=members, **typed)

    if request.method == "GET" or members.searching:
        return _answer_form(render)
    try:
        if problems := people.problems(members):
            raise ValidationError(problems)
        data = load(schemas.ApplicantIn(), {"kind": request.form.get("kind"), "name": request.form.get("name"),
                                            "phone": request.form.get("phone") or None, "members": members.ids})
        services.create_applicant(session, bank, kind=data["kind"], name=data["name"].strip(),
                                  phone=data["phone"], members=data["members"], by=user.name, clock=clock())
    except (ValidationError, ConflictError) as err:
        session.rollback()
        return _answer_form(render, _refused(err))
    flash(_("申请主体已登记"))
    return redirect(url_for("foundation.new_application", bank=bank.code))


@bp.route("/foundation/<bank>/applications/new", methods=["GET", "POST"])
@uploads.limit(services.MAX_ATTACHMENT_BYTES, field="paper_form")
def new_application(bank):
    bank, user = _screen_bank(bank, WRITERS)
    session = get_session()

    def render(**typed):
        return render_template("foundation/application_form.html", bank=bank,
                               applicants=services.list_applicants(session, bank), **typed)

    if request.method == "GET":
        return _answer_form(render)
    form = request.form
    paper = request.files.get("paper_form")
    paper = services.Upload(paper.filename, paper.read()) if paper is not None and paper.filename else None
    try:
        if paper is not None:
            services.check_upload(paper)
        data = load(schemas.ApplicationIn(), {
            "applicant": _int(form.get("applicant"), "applicant"), "title": form.get("title"),
            "purpose": form.get("purpose"), "budget": _lines(form.get("budget", ""), "budget"),
            "amount_requested": parse_yuan(form.get("amount_requested"), "amount_requested"),
            "starts_on": form.get("starts_on"), "ends_on": form.get("ends_on")})
        application = services.create_application(
            session, bank, applicant_id=data["applicant"], title=data["title"].strip(),
            purpose=data["purpose"].strip(), budget=[(b["item"], b["amount"]) for b in data["budget"]],
            amount_requested=data["amount_requested"], starts_on=data["starts_on"],
            ends_on=data["ends_on"], by=user.name, clock=clock())
        if paper is not None:
            services.add_attachment(session, bank, application.id, paper, kind="paper_form",
                                    on_behalf_of=None, by=user.name, clock=clock(),
                                    instance_path=_files_root())
    except (ValidationError, ConflictError) as err:
        session.rollback()
        return _answer_form(render, _refused(err))
    flash(_("申请已录入（草稿）"))
    return redirect(url_for("foundation.application", bank=bank.code, application_id=application.id))


@bp.get("/foundation/<bank>/applications/<int:application_id>")
def application(bank, application_id):
    return _application_page(bank, application_id=application_id)


def _application_page(bank, *, application_id, form=None, message=None, problems=None, sent=None):
    """The application's page; after a refused form, that form as typed with its problems."""
    bank, user = _screen_bank(bank)
    session = get_session()
    form = form if form is not None else MultiDict()
    app_ = services.get_application(session, bank, application_id)
    detail = _detail(session, app_, user)
    if detail["decision"]:
        detail["decision"]["score"] = wf.hundredths(detail["decision"]["weighted_score"])
    review = services.review_view(session, app_, viewer=user)
    review["score_text"] = wf.hundredths(review["weighted_score"])
    seat = next((s for s in review["panel"] if s["user"] == user.id), None)
    applicant = services.get_applicant(session, bank, app_.applicant_id)
    return render_template("foundation/application.html", bank=bank, user=user, a=app_, d=detail,
                           review=review, seat=seat, applicant=applicant,
                           members=services.members_of(session, applicant.id),
                           criteria=services.rules_of(session, bank).criteria,
                           fund=services.fund_position(session, bank), today=clock().today(),
                           is_reviewer=user.role in REVIEWERS, is_writer=user.role in WRITERS,
                           volunteers=people.pick(session, bank, form if sent == "volunteers" else MultiDict(),
                                                  "residents"),
                           form=form, sent=sent, message=message, problems=problems or {})


def _back(bank, application_id, message):
    flash(message)
    return redirect(url_for("foundation.application", bank=bank.code, application_id=application_id))


@bp.post("/foundation/<bank>/applications/<int:application_id>/move/<any(submit, screen, review, start, close, withdraw):action>")
@refills(_application_page)
def screen_move(bank, application_id, action):
    bank, user = _screen_bank(bank, WRITERS)
    note = load(schemas.MoveNoteIn(), {"note": (request.form.get("note") or "").strip() or None})["note"]
    services.move(get_session(), bank, application_id, action, user=user, note=note, clock=clock())
    return _back(bank, application_id, _("已更新状态"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/attachments")
@uploads.limit(services.MAX_ATTACHMENT_BYTES)
@refills(_application_page)
def screen_attachment(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    services.add_attachment(get_session(), bank, application_id, _upload("file"),
                            kind=request.form.get("kind", "photo"),
                            on_behalf_of=(request.form.get("on_behalf_of") or "").strip()[:100] or None,
                            by=user.name, clock=clock(), instance_path=_files_root())
    return _back(bank, application_id, _("附件已上传"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/scores")
@refills(_application_page)
def screen_scores(bank, application_id):
    bank, user = _screen_bank(bank, REVIEWERS)
    session = get_session()
    criteria = services.rules_of(session, bank).criteria
    data = load(schemas.ReviewScoresIn(), {"scores": [
        {"criterion": c.code, "score": _int(request.form.get(f"score_{c.code}"), c.code),
         "comment": (request.form.get(f"comment_{c.code}") or "").strip() or None} for c in criteria]})
    services.submit_scores(session, bank, application_id, user=user,
                           scores={s["criterion"]: s["score"] for s in data["scores"]},
                           comments={s["criterion"]: s["comment"] for s in data["scores"]}, clock=clock())
    return _back(bank, application_id, _("评分已提交"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/conflict")
@refills(_application_page)
def screen_conflict(bank, application_id):
    bank, user = _screen_bank(bank, REVIEWERS)
    data = load(schemas.ConflictIn(), {"note": request.form.get("note")})
    services.declare_conflict(get_session(), bank, application_id, user=user, note=data["note"].strip(),
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
    services.decide(get_session(), bank, application_id, user=user, met_on=data["met_on"],
                    attendees=data["attendees"], votes_for=data["votes_for"],
                    votes_against=data["votes_against"], abstaining=data["abstaining"],
                    minutes=data["minutes"].strip(), outcome=data["outcome"], amount=data["amount"],
                    reason=data["reason"], clock=clock())
    return _back(bank, application_id, _("理事会决定已记录"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/tranches")
@refills(_application_page)
def screen_tranche(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    data = load(schemas.ProjectTrancheIn(), {"amount": parse_yuan(request.form.get("amount"), "amount"),
                                             "memo": (request.form.get("memo") or "").strip() or None})
    services.pay_tranche(get_session(), bank, application_id, amount=data["amount"], memo=data["memo"],
                         user=user, clock=clock())
    return _back(bank, application_id, _("已拨款"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/progress")
@uploads.limit(services.MAX_PROGRESS_BYTES, field="photos")
@refills(_application_page)
def screen_progress(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    data = load(schemas.ProjectProgressIn(), {"reported_on": request.form.get("reported_on"),
                                              "percent": _int(request.form.get("percent"), "percent"),
                                              "text": request.form.get("text")})
    photos = [services.Upload(f.filename, f.read()) for f in request.files.getlist("photos") if f.filename]
    services.add_progress(get_session(), bank, application_id, reported_on=data["reported_on"],
                          percent=data["percent"], text=data["text"].strip(), photos=photos, user=user,
                          clock=clock(), instance_path=_files_root())
    return _back(bank, application_id, _("进展已记录"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/completion")
@refills(_application_page)
def screen_completion(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    data = load(schemas.ProjectCompletionIn(), {"spent": _lines(request.form.get("spent", ""), "spent"),
                                                "report": request.form.get("report")})
    services.complete(get_session(), bank, application_id, spent=[(s["item"], s["amount"]) for s in data["spent"]],
                      report=data["report"].strip(), user=user, clock=clock())
    return _back(bank, application_id, _("已结项"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/volunteers")
@refills(_application_page)
def screen_volunteers(bank, application_id):
    code = bank
    bank, user = _screen_bank(bank, WRITERS)
    volunteers = people.pick(get_session(), bank, request.form, "residents")
    if volunteers.searching:
        return _application_page(code, application_id=application_id, form=request.form, sent="volunteers")
    if problems := people.problems(volunteers):
        raise ValidationError(problems)
    data = load(schemas.ProjectVolunteersIn(), {
        "residents": volunteers.ids, "quantity": _int(request.form.get("quantity") or 1, "quantity"),
        "occurred_on": request.form.get("occurred_on"), "memo": (request.form.get("memo") or "").strip() or None})
    services.credit_volunteers(get_session(), bank, application_id, resident_ids=data["residents"],
                               quantity=data["quantity"], occurred_on=data["occurred_on"], memo=data["memo"],
                               rule_code=None, user=user, clock=clock())
    return _back(bank, application_id, _("志愿服务积分已登记"))


@bp.post("/foundation/<bank>/reviewers")
def screen_link_reviewer(bank):
    """Link a reviewer (picked from the bank's reviewers) to a resident (picked by name)."""
    code = bank
    bank, user = _screen_bank(bank, WRITERS)
    session = get_session()
    linking = people.pick(session, bank, request.form, "resident", one=True)
    if linking.searching:
        return _index_page(code, form=request.form, linking=linking)
    try:
        if problems := people.problems(linking):
            raise ValidationError(problems)
        services.link_reviewer(session, bank, user_id=_int(request.form.get("user"), "user"),
                               resident_id=linking.ids[0], by=user.name, clock=clock())
    except (ValidationError, ConflictError, NotFound) as err:
        session.rollback()
        refusal = _refused(err)
        if isinstance(err, NotFound):
            refusal = {"message": None, "problems": {"user": [err.text(language())]}, "status": 422}
        return _index_page(code, form=request.form, linking=linking, message=refusal["message"],
                           problems=refusal["problems"]), refusal["status"]
    flash(_("已关联理事与居民"))
    return redirect(url_for("foundation.index", bank=bank.code))


@bp.get("/foundation/<bank>/quarter/<year:year>-Q<int(max=4):quarter>.pdf")
def screen_quarter_pdf(bank, year, quarter):
    bank, _user = _screen_bank(bank)
    return _pdf(bank, year, quarter)


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
        wish = services.collect_wish(session, bank, resident_id=data["resident"],
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
    w = services.get_wish(session, bank, wish_id)
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
        services.review_wish(session, bank, wish_id, action, reason=reason, by=user.name, clock=clock())
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
        services.claim_wish(session, bank, wish_id, donors=data["donors"], deadline=data["deadline"],
                            by=user.name, clock=clock())
    elif action == "deliver":
        claim = services.current_claim(session, wish_id)
        donors = services.donors_of(session, claim.id) if claim else []
        gifts = {d.id: parse_yuan(form.get(f"value_{d.id}"), f"value_{d.id}") for d in donors}
        data = load(schemas.WishDeliverIn(), {"gifts": [{"donor": k, "value": v} for k, v in gifts.items()]
                                              or [{}], "delivered_on": form.get("delivered_on")})
        services.deliver_wish(session, bank, wish_id, gifts={g["donor"]: g["value"] for g in data["gifts"]},
                              delivered_on=data["delivered_on"], by=user.name, clock=clock())
    else:
        data = load(schemas.WishConfirmIn(), {"thanks": form.get("thanks")})
        services.confirm_wish(session, bank, wish_id, thanks=data["thanks"].strip(), user=user, clock=clock())
    flash(_("心愿已更新"))
    return redirect(url_for("foundation.wish", bank=bank.code, wish_id=wish_id))


# --- the public page: no login -------------------------------------------------------------------------

@bp.get("/p/<bank>/foundation")
def public(bank):
    session = reading_session()
    bank = get_bank(session, bank)
    projects = services.public_projects(session, bank)
    return render_template("foundation/public.html", bank=bank, projects=projects,
                           wishes=services.wish_wall(session, bank),
                           total_awarded=sum(p["awarded"] or 0 for p in projects),
                           total_disbursed=sum(p["disbursed"] for p in projects))


@bp.get("/p/<bank>/foundation/photos/<int:application_id>/<int:attachment_id>")
def public_photo(bank, application_id, attachment_id):
    session = reading_session()
    bank = get_bank(session, bank)
    attachment, path = services.attachment_file(session, bank, application_id, attachment_id,
                                                instance_path=_files_root(), public=True)
    return _send(attachment, path)
