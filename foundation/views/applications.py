"""The views of applications: applicants and the residents reviewers are, an application from
its draft through the workflow's moves, its files, and the application's page, which every form
about it comes back to.
"""
from __future__ import annotations

import json

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ground.db import get_session
from ground.errors import ConflictError, ValidationError
from ledger.answers import idempotency
from web.api import clock, load, page, page_args
from web import uploads
from web.auth import READERS, REVIEWERS, WRITERS, scoped_bank

from .. import applications, attachments, people, schemas
from .. import workflow as wf
from ..blueprint import api, bp
from ..common import rules_of
from ..money import progress_of, tranches_of, volunteer_links
from ..review import decision_of, fund_position, review_view
from .common import (_answer_form, _application_json, _back, _files_root, _int, _lines, _optional_body,
                     _refused, _screen_bank, _send, _state_arg, _typed, _upload, parse_yuan, refills)


def _detail(session, application, user) -> dict:
    decision = decision_of(session, application.id)
    return {
        **application.model_dump(),
        "applicant_name": applications.applicant_names(session, [application.applicant_id])[application.applicant_id],
        "budget": [line.model_dump() for line in applications.lines_of(session, application.id, "budget")],
        "spent_lines": [line.model_dump() for line in applications.lines_of(session, application.id, "spent")],
        "transitions": [t.model_dump() for t in applications.transitions_of(session, application.id)],
        "attachments": [a.model_dump() for a in attachments.attachments_of(session, application.id)],
        "decision": {**decision.model_dump(), "attendees": json.loads(decision.attendees)} if decision else None,
        "tranches": [t.model_dump() for t in tranches_of(session, application.id)],
        "progress": [p.model_dump() for p in progress_of(session, application.id)],
        "volunteers": volunteer_links(session, application.id),
        "actions": wf.allowed_actions(application.state, user.role),
    }


def _applicant_json(session, applicant) -> dict:
    return schemas.ApplicantOut().dump({**applicant.model_dump(), "members": [
        {"id": r.id, "name": r.name} for r in applications.members_of(session, applicant.id)]})


# --- API: applicants and reviewers -------------------------------------------------------------

@api.post("/applicants")
def create_applicant(bank):
    """Register a resident group or a welfare station (公益站) with its member residents.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ApplicantIn}}}
      responses:
        201: {content: {application/json: {schema: ApplicantOut}}}
        409: {description: "applicant_exists, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ApplicantIn())
    session = get_session()
    applicant = applications.create_applicant(session, bank, kind=data["kind"], name=data["name"].strip(),
                                              phone=data["phone"], members=data["members"], by=user.name,
                                              clock=clock(), idem=idempotency())
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
    return jsonify({"items": [_applicant_json(session, a) for a in applications.list_applicants(session, bank)],
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
    link = applications.link_reviewer(get_session(), bank, user_id=user_id, resident_id=data["resident"],
                                      by=user.name, clock=clock())
    return jsonify(schemas.ReviewerLinkOut().dump(link))


# --- API: applications -------------------------------------------------------------------------

@api.post("/applications")
def create_application(bank):
    """Enter a micro-project application (a draft), often from the applicant's signed paper form.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ApplicationIn}}}
      responses:
        201: {content: {application/json: {schema: ApplicationOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ApplicationIn())
    session = get_session()
    application = applications.create_application(
        session, bank, applicant_id=data["applicant"], title=data["title"].strip(),
        purpose=data["purpose"].strip(), budget=[(b["item"].strip(), b["amount"]) for b in data["budget"]],
        amount_requested=data["amount_requested"], starts_on=data["starts_on"], ends_on=data["ends_on"],
        by=user.name, clock=clock(), idem=idempotency())
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
    found = applications.list_applications(session, bank, state=state, limit=limit + 1, before=before)
    result = page(found, limit, lambda a: a.id)
    names = applications.applicant_names(session, [a.applicant_id for a in result["items"]])
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
    application = applications.get_application(session, bank, application_id)
    return jsonify(schemas.ApplicationDetailOut().dump(_detail(session, application, user)))


@api.post("/applications/<int:application_id>/<any(submit, screen, review, start, close, withdraw):action>")
def move_application(bank, application_id, action):
    """Move an application one step: submit, screen, review (seats the panel), start, close, withdraw.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: MoveNoteIn}}}
      responses:
        200: {content: {application/json: {schema: ApplicationOut}}}
        403: {description: "close is the council's", content: {application/json: {schema: ErrorOut}}}
        409: {description: "illegal_transition, no_reviewers, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.MoveNoteIn(), _optional_body())
    session = get_session()
    application = applications.move(session, bank, application_id, action, user=user, note=data["note"],
                                    clock=clock(), idem=idempotency())
    return jsonify(_application_json(session, application))


@api.post("/applications/<int:application_id>/attachments")
@uploads.limit(attachments.MAX_ATTACHMENT_BYTES)
def add_attachment(bank, application_id):
    """Attach a photo or the scan of the signed paper form (multipart: file, kind, on_behalf_of).
    ---
    post:
      parameters:
        - IdempotencyKey
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
        409: {description: "idempotency_mismatch (the key sent with another file or form)",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    idem = idempotency()  # before the file is read: the key's fingerprint reads it from its start
    attachment = attachments.add_attachment(
        get_session(), bank, application_id, _upload("file"), kind=request.form.get("kind", ""),
        on_behalf_of=(request.form.get("on_behalf_of") or "").strip()[:100] or None, by=user.name,
        clock=clock(), instance_path=_files_root(), idem=idem)
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
    attachment, path = attachments.attachment_file(get_session(), bank, application_id, attachment_id,
                                                   instance_path=_files_root())
    return _send(attachment, path)


# --- screens -----------------------------------------------------------------------------------

@bp.route("/foundation/<bank>/applicants/new", methods=["GET", "POST"])
def new_applicant(bank):
    """Register an applicant, its members picked by name or pinyin."""
    bank, user = _screen_bank(bank, WRITERS)
    session = get_session()
    members = people.pick(session, bank, _typed(), "members")

    def render(**typed):
        applicants = applications.list_applicants(session, bank)
        return render_template("foundation/applicant_form.html", bank=bank, applicants=applicants,
                               members={a.id: applications.members_of(session, a.id) for a in applicants},
                               picked=members, **typed)

    if request.method == "GET" or members.searching:
        return _answer_form(render)
    try:
        if problems := people.problems(members):
            raise ValidationError(problems)
        data = load(schemas.ApplicantIn(), {"kind": request.form.get("kind"), "name": request.form.get("name"),
                                            "phone": request.form.get("phone") or None, "members": members.ids})
        applications.create_applicant(session, bank, kind=data["kind"], name=data["name"].strip(),
                                      phone=data["phone"], members=data["members"], by=user.name, clock=clock())
    except (ValidationError, ConflictError) as err:
        session.rollback()
        return _answer_form(render, _refused(err))
    flash(_("申请主体已登记"))
    return redirect(url_for("foundation.new_application", bank=bank.code))


@bp.route("/foundation/<bank>/applications/new", methods=["GET", "POST"])
@uploads.limit(attachments.MAX_ATTACHMENT_BYTES, field="paper_form")
def new_application(bank):
    bank, user = _screen_bank(bank, WRITERS)
    session = get_session()

    def render(**typed):
        return render_template("foundation/application_form.html", bank=bank,
                               applicants=applications.list_applicants(session, bank), **typed)

    if request.method == "GET":
        return _answer_form(render)
    form = request.form
    paper = request.files.get("paper_form")
    paper = attachments.Upload(paper.filename, paper.read()) if paper is not None and paper.filename else None
    try:
        if paper is not None:
            attachments.check_upload(paper)
        data = load(schemas.ApplicationIn(), {
            "applicant": _int(form.get("applicant"), "applicant"), "title": form.get("title"),
            "purpose": form.get("purpose"), "budget": _lines(form.get("budget", ""), "budget"),
            "amount_requested": parse_yuan(form.get("amount_requested"), "amount_requested"),
            "starts_on": form.get("starts_on"), "ends_on": form.get("ends_on")})
        application = applications.create_application(
            session, bank, applicant_id=data["applicant"], title=data["title"].strip(),
            purpose=data["purpose"].strip(), budget=[(b["item"], b["amount"]) for b in data["budget"]],
            amount_requested=data["amount_requested"], starts_on=data["starts_on"],
            ends_on=data["ends_on"], by=user.name, clock=clock())
        if paper is not None:
            attachments.add_attachment(session, bank, application.id, paper, kind="paper_form",
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
    app_ = applications.get_application(session, bank, application_id)
    detail = _detail(session, app_, user)
    if detail["decision"]:
        detail["decision"]["score"] = wf.hundredths(detail["decision"]["weighted_score"])
    review = review_view(session, app_, viewer=user)
    review["score_text"] = wf.hundredths(review["weighted_score"])
    seat = next((s for s in review["panel"] if s["user"] == user.id), None)
    applicant = applications.get_applicant(session, bank, app_.applicant_id)
    return render_template("foundation/application.html", bank=bank, user=user, a=app_, d=detail,
                           review=review, seat=seat, applicant=applicant,
                           members=applications.members_of(session, applicant.id),
                           criteria=rules_of(session, bank).criteria,
                           fund=fund_position(session, bank), today=clock().today(),
                           is_reviewer=user.role in REVIEWERS, is_writer=user.role in WRITERS,
                           volunteers=people.pick(session, bank, form if sent == "volunteers" else MultiDict(),
                                                  "residents"),
                           form=form, sent=sent, message=message, problems=problems or {})


@bp.post("/foundation/<bank>/applications/<int:application_id>/move/<any(submit, screen, review, start, close, withdraw):action>")
@refills(_application_page)
def screen_move(bank, application_id, action):
    bank, user = _screen_bank(bank, WRITERS)
    note = load(schemas.MoveNoteIn(), {"note": (request.form.get("note") or "").strip() or None})["note"]
    applications.move(get_session(), bank, application_id, action, user=user, note=note, clock=clock())
    return _back(bank, application_id, _("已更新状态"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/attachments")
@uploads.limit(attachments.MAX_ATTACHMENT_BYTES)
@refills(_application_page)
def screen_attachment(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    attachments.add_attachment(get_session(), bank, application_id, _upload("file"),
                               kind=request.form.get("kind", "photo"),
                               on_behalf_of=(request.form.get("on_behalf_of") or "").strip()[:100] or None,
                               by=user.name, clock=clock(), instance_path=_files_root())
    return _back(bank, application_id, _("附件已上传"))
