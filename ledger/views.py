"""The ledger's HTTP API: households, residents, deeds, review, reversal, balances, verify, rules."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from web.api import clock, load, no_body, page, page_args, query_text
from web.auth import DESK_READERS, EVERY_ROLE, READERS, REVIEWERS, WRITERS, scoped_bank

from . import banks, deeds, formatting, people, reading, reversals, schemas
from ground.db import get_session
from .answers import deed_answer, idempotency, pending_json, transfers_json
from .models import Household
from .verify import verify_bank

bp = Blueprint("ledger", __name__, url_prefix="/api/v1")

_resident = schemas.ResidentOut()
#: Built once: a schema's construction (copying its fields) cost more than loading a deed with it.
_deed_in = schemas.DeedIn()


@bp.get("/health")
def health():
    """Say whether the service and its database answer.
    ---
    get:
      security: []
      responses:
        200: {description: "the service and its database answer"}
        503: {description: "the service answers, its database does not: {status: unavailable, database: unreachable}"}
    """
    from sqlalchemy.exc import DBAPIError

    try:
        get_session().execute(select(1))
    except DBAPIError:
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.post("/banks/<bank>/households")
def create_household(bank):
    """Register a household.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: HouseholdIn}}}
      responses:
        201: {content: {application/json: {schema: HouseholdOut}}}
        409: {description: "household_exists, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.HouseholdIn())
    household = people.create_household(get_session(), bank, code=data["code"].strip(),
                                        name=data["name"], clock=clock(), by=user.name,
                                        idem=idempotency())
    return jsonify(schemas.HouseholdOut().dump(household)), 201


@bp.post("/banks/<bank>/residents")
def create_resident(bank):
    """Register a resident in a household.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ResidentIn}}}
      responses:
        201: {content: {application/json: {schema: ResidentOut}}}
        409: {description: "idempotency_mismatch", content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ResidentIn())
    resident = people.create_resident(get_session(), bank, name=data["name"].strip(),
                                      household=data["household"].strip(), phone=data["phone"],
                                      clock=clock(), by=user.name, idem=idempotency())
    return jsonify(_resident_json(resident, data["household"].strip(), user)), 201


@bp.get("/banks/<bank>/residents")
def list_residents(bank):
    """Find residents by name, full pinyin (zhangsan) or initials (zs).
    ---
    get:
      parameters:
        - {name: q, in: query, description: "a name, its full pinyin or its initials",
           schema: {type: string, maxLength: 100}}
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: ResidentPage}}}
    """

    bank, user = scoped_bank(bank, EVERY_ROLE)
    limit, after = page_args()
    session = get_session()
    found = people.search_residents(session, bank, query_text("q"), limit=limit + 1,
                                    after=after)
    codes = dict(session.execute(select(Household.id, Household.code).where(
        Household.id.in_({r.household_id for r in found}))).all()) if found else {}
    result = page(found, limit, lambda r: r.id)
    result["items"] = [_resident_json(r, codes[r.household_id], user) for r in result["items"]]
    return jsonify(result)


@bp.get("/banks/<bank>/residents/<int:resident_id>")
def show_resident(bank, resident_id):
    """Show one resident.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: ResidentOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, EVERY_ROLE)
    session = get_session()
    resident = people.get_resident(session, bank, resident_id)
    return jsonify(_resident_json(resident, session.get(Household, resident.household_id).code, user))


@bp.post("/banks/<bank>/deeds")
def post_deed(bank):
    """Log one rule's deed (or penalty) for one or more residents: all of them or none.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: DeedIn}}}
      responses:
        201: {description: "posted", content: {application/json: {schema: DeedOut}}}
        202: {description: "held for a reviewer", content: {application/json: {schema: PendingListOut}}}
        409: {description: "cap_exceeded, period_sealed, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
        422: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(_deed_in)
    session = get_session()
    outcome = deeds.post_deed(session, bank, rule_code=data["rule"], resident_ids=data["residents"],
                              quantity=data["quantity"], occurred_on=data["occurred_on"],
                              memo=data["memo"], by=user.name, clock=clock(),
                              idem=idempotency(), attached={"evidence": data["evidence"]})
    return deed_answer(session, outcome)


@bp.get("/banks/<bank>/pending")
def list_pending(bank):
    """List deeds waiting for a reviewer, oldest first.
    ---
    get:
      parameters: [limit, cursor]
      responses:
        200: {content: {application/json: {schema: PendingPage}}}
    """
    bank, _ = scoped_bank(bank, READERS)
    limit, after = page_args()
    session = get_session()
    found = deeds.list_pending(session, bank, limit=limit + 1, after=after)
    result = page(found, limit, lambda p: p.id)
    result["items"] = pending_json(session, result["items"])
    return jsonify(result)


@bp.post("/banks/<bank>/pending/<int:pending_id>/approve")
def approve_pending(bank, pending_id):
    """Approve a pending deed: it is posted now, its caps checked again.
    ---
    post:
      parameters: [IdempotencyKey]
      responses:
        201: {content: {application/json: {schema: DeedOut}}}
        409: {description: "already_decided, cap_exceeded, period_sealed, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    no_body()
    session = get_session()
    outcome = deeds.decide_pending(session, bank, pending_id, approve=True, reason=None,
                                   by=user.name, clock=clock(), idem=idempotency())
    return deed_answer(session, outcome)


@bp.post("/banks/<bank>/pending/<int:pending_id>/reject")
def reject_pending(bank, pending_id):
    """Reject a pending deed with a reason; nothing is posted.
    ---
    post:
      parameters: [IdempotencyKey]
      requestBody: {content: {application/json: {schema: ReasonIn}}}
      responses:
        200: {content: {application/json: {schema: PendingOut}}}
        409: {description: "already_decided, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, REVIEWERS)
    data = load(schemas.ReasonIn())
    session = get_session()
    outcome = deeds.decide_pending(session, bank, pending_id, approve=False,
                                   reason=data["reason"].strip(), by=user.name, clock=clock(),
                                   idem=idempotency())
    return jsonify(pending_json(session, outcome.pending)[0]), 200


@bp.post("/banks/<bank>/transfers/<int:transfer_id>/reverse")
def reverse_transfer(bank, transfer_id):
    """Reverse a transfer and the rest of its entry: post their mirrors, naming them and the reason.
    ---
    post:
      parameters:
        - IdempotencyKey
      requestBody: {content: {application/json: {schema: ReasonIn}}}
      responses:
        201: {content: {application/json: {schema: {type: object, properties: {
          transfer: TransferOut, transfers: {type: array, items: TransferOut}}}}}}
        404: {content: {application/json: {schema: ErrorOut}}}
        409: {description: "already_reversed, cannot_reverse_reversal, insufficient_funds,
              not_reversible, reversal_too_late, out_of_stock, period_sealed, idempotency_mismatch",
              content: {application/json: {schema: ErrorOut}}}
    """
    bank, user = scoped_bank(bank, WRITERS)
    data = load(schemas.ReasonIn())
    session = get_session()
    reversal = reversals.reverse_transfer(session, bank, transfer_id, reason=data["reason"].strip(),
                                          by=user.name, clock=clock(), idem=idempotency())
    mirrors = transfers_json(session, reversals.entry_of(session, bank, reversal))
    return jsonify({"transfer": next(t for t in mirrors if t["id"] == reversal.id),
                    "transfers": mirrors}), 201


@bp.get("/banks/<bank>/transfers/<int:transfer_id>")
def show_transfer(bank, transfer_id):
    """Show one transfer.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: TransferOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, READERS)
    session = get_session()
    return jsonify(transfers_json(session, [reading.get_transfer(session, bank, transfer_id)])[0])


@bp.get("/banks/<bank>/residents/<int:resident_id>/account")
def resident_account(bank, resident_id):
    """A resident's balance, their household's, and this month's points.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: AccountOut}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, EVERY_ROLE)
    summary = reading.account_summary(get_session(), bank, resident_id, clock=clock())
    return jsonify(schemas.AccountOut().dump(summary))


@bp.get("/banks/<bank>/residents/<int:resident_id>/transfers")
def resident_transfers(bank, resident_id):
    """A resident's transfers, newest first.
    ---
    get:
      parameters:
        - limit
        - cursor
      responses:
        200: {content: {application/json: {schema: TransferPage}}}
        404: {content: {application/json: {schema: ErrorOut}}}
    """
    bank, _ = scoped_bank(bank, DESK_READERS)
    limit, before = page_args()
    session = get_session()
    found = reading.resident_transfers(session, bank, resident_id, limit=limit + 1, before=before)
    result = page(found, limit, lambda t: t.seq)
    result["items"] = transfers_json(session, result["items"])
    return jsonify(result)


@bp.get("/banks/<bank>/verify")
def verify(bank):
    """Recompute the bank's hash chain, sequence and balances.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: VerifyOut}}}
    """
    bank, _ = scoped_bank(bank, READERS)
    return jsonify(verify_bank(get_session(), bank).as_dict())


@bp.get("/banks/<bank>/rules")
def rules_in_force(bank):
    """The rules in force today, and the version they belong to.
    ---
    get:
      responses:
        200: {content: {application/json: {schema: RulesOut}}}
    """
    bank, _ = scoped_bank(bank, EVERY_ROLE)
    version, book = banks.rulebook(get_session(), bank.id)
    return jsonify({"version": version.version, "content_hash": version.content_hash,
                    "account_unit": book.settings.account_unit,
                    "rules": [r.as_dict() for r in book.in_force(clock().today())]})


def _resident_json(resident, household_code: str, user) -> dict:
    # The whole phone number only to whoever may edit the resident; the desk and the supervisor
    # read it masked (138****5678), as every screen but the edit screen shows it.
    phone = resident.phone
    if phone and user.role not in WRITERS:
        phone = formatting.mask_phone(phone)
    return _resident.dump({**resident.model_dump(), "household_code": household_code, "phone": phone})
