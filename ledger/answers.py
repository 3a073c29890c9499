"""The ledger's answers over HTTP, for every package's views: transfers, deeds and deeds held
for review as the API shows them (with what the wings attach to them), the status a deed
answers with, and the request's idempotency key.

The ledger's own API (ledger.views) uses them, and so do the wings' views that answer with the
ledger's objects: a wing imports these, never another package's views.
"""
from __future__ import annotations

import hashlib

from flask import jsonify, request

from ground.errors import ValidationError
from ground.i18n import _
from rules import bounds
from web.api import json_body
from web.auth import current_user

from . import deeds, reading, schemas
from .chain import request_fingerprint
from .posting import Idempotency

_transfer = schemas.TransferOut()
_pending = schemas.PendingOut()


def idempotency() -> Idempotency | None:
    """Return the request's Idempotency-Key with a fingerprint of what it asks, if it sent one.

    The key is the asking user's own, and a request without a body (an approval) is an empty one.
    A multipart body (an upload) is fingerprinted by its fields and the digests of its files'
    bytes, not as sent: a client retrying draws a new boundary between the parts.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if bounds.text_problem(key, max_len=200):
        raise ValidationError({"Idempotency-Key": [_("须为 1 到 200 个字符，不能含控制字符")]})
    if request.mimetype == "multipart/form-data":
        body = _multipart()
    else:
        body = json_body() if request.get_data(cache=True).strip() else {}
    return Idempotency(key, request_fingerprint(request.method, request.path, body),
                       user_id=current_user().id)


def _multipart() -> dict:
    # Each file is read through once for its digest and left at its start for the view to read.
    files = {}
    for name, upload in request.files.items(multi=True):
        digest = hashlib.sha256()
        for chunk in iter(lambda: upload.stream.read(1 << 16), b""):
            digest.update(chunk)
        upload.stream.seek(0)
        files.setdefault(name, []).append(digest.hexdigest())
    return {"form": request.form.to_dict(flat=False), "files": files}


def transfers_json(session, transfers, *, codes: dict[int, str] | None = None,
                   described: dict | None = None) -> list[dict]:
    """Return transfers (as read, or as `post` wrote them) as the API shows them.

    `codes` (account codes by id) and `described` (see `attachments`) are what a deed just
    written already knows (deeds.DeedOutcome); what they leave out is read.
    """
    ids = [t.debit_id for t in transfers] + [t.credit_id for t in transfers]
    if codes is None or not all(i in codes for i in ids):
        codes = reading.account_codes(session, ids)
    extra = attachments(session, transfers, [], described)[0]
    out = []
    for t in transfers:
        debit, credit = codes[t.debit_id], codes[t.credit_id]
        if _is_holder(credit):
            account, points = credit, t.amount
        elif _is_holder(debit):
            account, points = debit, -t.amount
        else:
            account, points = None, None
        out.append({**_transfer.dump(t), "debit": debit, "credit": credit, "account": account,
                    "points": points, **extra.get(t.id, {})})
    return out


def pending_json(session, pending, *, described: dict | None = None) -> list[dict]:
    """Return deeds held for review as the API shows them, with what packages attached to them
    (`described`: see `attachments`)."""
    extra = attachments(session, [], pending, described)[1]
    return [{**_pending.dump(p), **extra.get(p.id, {})} for p in pending]


def attachments(session, transfers, pending, described: dict | None = None) -> tuple[dict, dict]:
    """Return what the registered deed attachments (deeds.DEED_ATTACHMENTS) add, by transfer and by pending id.

    `described` holds what some of them said they attached to a deed just written, by name
    (deeds.DeedOutcome.described): those are not asked again.
    """
    by_transfer: dict = {}
    by_pending: dict = {}
    items = transfers or pending
    if not items:
        return by_transfer, by_pending
    for name, hook in deeds.DEED_ATTACHMENTS.items():
        said = described.get(name) if described is not None else None
        more_t, more_p = said if said is not None else hook.describe(
            session, items[0].bank_id, [t.id for t in transfers], [p.id for p in pending])
        for key, fields_ in more_t.items():
            by_transfer.setdefault(key, {}).update(fields_)
        for key, fields_ in more_p.items():
            by_pending.setdefault(key, {}).update(fields_)
    return by_transfer, by_pending


def _is_holder(code: str) -> bool:
    return code.startswith(("resident:", "household:"))


def deed_json(session, outcome) -> dict:
    """Return what a deed request answers: its transfers, or the deeds held for review."""
    if outcome.held:
        return {"pending": pending_json(session, outcome.pending, described=outcome.described)}
    return {"transfers": transfers_json(session, outcome.transfers, codes=outcome.codes,
                                        described=outcome.described)}


def deed_status(outcome) -> int:
    """Return the status a deed request answers with: 201 posted, 202 held for a reviewer."""
    return 202 if outcome.held else 201


def deed_answer(session, outcome):
    """Return a deed request's answer: its JSON and status."""
    return jsonify(deed_json(session, outcome)), deed_status(outcome)
