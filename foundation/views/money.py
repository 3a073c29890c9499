"""The views of a funded project's money and work: tranches, progress reports with photos, the
completion, and volunteers' points.
"""
from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from ground.db import get_session
from ground.errors import ValidationError
from ledger.answers import deed_answer, idempotency
from web.api import clock, load
from web import uploads
from web.auth import WRITERS, scoped_bank

from .. import money, people, schemas
from ..attachments import MAX_PROGRESS_BYTES, Upload
from ..blueprint import api, bp
from .applications import _application_page
from .common import _application_json, _back, _files_root, _int, _lines, _screen_bank, parse_yuan, refills


# --- API ---------------------------------------------------------------------------------------

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
    tranche = money.pay_tranche(get_session(), bank, application_id, amount=data["amount"],
                                memo=data["memo"], user=user, clock=clock(), idem=idempotency())
    return jsonify(schemas.ProjectTrancheOut().dump(tranche)), 201


@api.post("/applications/<int:application_id>/progress")
def add_progress(bank, application_id):
    """Report a project's progress (JSON; photos go with the screen's form or as attachments).
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ProjectProgressIn}}}
      responses:
        201: {content: {application/json: {schema: ProjectProgressOut}}}
        409: {description: "illegal_transition, idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ProjectProgressIn())
    progress = money.add_progress(get_session(), bank, application_id, reported_on=data["reported_on"],
                                  percent=data["percent"], text=data["text"].strip(), photos=[],
                                  user=user, clock=clock(), instance_path=_files_root(), idem=idempotency())
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
    application = money.complete(session, bank, application_id,
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
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ProjectVolunteersIn())
    session = get_session()
    outcome = money.credit_volunteers(session, bank, application_id, resident_ids=data["residents"],
                                      quantity=data["quantity"], occurred_on=data["occurred_on"],
                                      memo=data["memo"], rule_code=data["rule"], user=user,
                                      clock=clock(), idem=idempotency())
    return deed_answer(session, outcome)


# --- screens -----------------------------------------------------------------------------------

@bp.post("/foundation/<bank>/applications/<int:application_id>/tranches")
@refills(_application_page)
def screen_tranche(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    data = load(schemas.ProjectTrancheIn(), {"amount": parse_yuan(request.form.get("amount"), "amount"),
                                             "memo": (request.form.get("memo") or "").strip() or None})
    money.pay_tranche(get_session(), bank, application_id, amount=data["amount"], memo=data["memo"],
                      user=user, clock=clock())
    return _back(bank, application_id, _("已拨款"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/progress")
@uploads.limit(MAX_PROGRESS_BYTES, field="photos")
@refills(_application_page)
def screen_progress(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    data = load(schemas.ProjectProgressIn(), {"reported_on": request.form.get("reported_on"),
                                              "percent": _int(request.form.get("percent"), "percent"),
                                              "text": request.form.get("text")})
    photos = [Upload(f.filename, f.read()) for f in request.files.getlist("photos") if f.filename]
    money.add_progress(get_session(), bank, application_id, reported_on=data["reported_on"],
                       percent=data["percent"], text=data["text"].strip(), photos=photos, user=user,
                       clock=clock(), instance_path=_files_root())
    return _back(bank, application_id, _("进展已记录"))


@bp.post("/foundation/<bank>/applications/<int:application_id>/completion")
@refills(_application_page)
def screen_completion(bank, application_id):
    bank, user = _screen_bank(bank, WRITERS)
    data = load(schemas.ProjectCompletionIn(), {"spent": _lines(request.form.get("spent", ""), "spent"),
                                                "report": request.form.get("report")})
    money.complete(get_session(), bank, application_id, spent=[(s["item"], s["amount"]) for s in data["spent"]],
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
    money.credit_volunteers(get_session(), bank, application_id, resident_ids=data["residents"],
                            quantity=data["quantity"], occurred_on=data["occurred_on"], memo=data["memo"],
                            rule_code=None, user=user, clock=clock())
    return _back(bank, application_id, _("志愿服务积分已登记"))
