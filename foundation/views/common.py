"""What the foundation's views share: an application as JSON, reading a request (an optional
body, a state, an upload), and the screens' forms: money typed in yuan, whole numbers, and a
refused form shown again as typed, each problem beside its field.
"""
from __future__ import annotations

import functools
import re

from flask import current_app, flash, redirect, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from ground.db import get_session
from ground.errors import ConflictError, NotFound, ValidationError, ZongzhiError
from ground.i18n import _
from rules import bounds
from web.auth import READERS, scoped_bank
from web.i18n import language, translate_fields

from .. import schemas
from ..applications import applicant_names
from ..attachments import Upload

_application = schemas.ApplicationOut()


def _application_json(session, application, names=None) -> dict:
    names = names or applicant_names(session, [application.applicant_id])
    return _application.dump({**application.model_dump(),
                              "applicant_name": names[application.applicant_id]})


# --- request helpers ---------------------------------------------------------------------------

def _optional_body() -> dict:
    from web.api import json_body

    return json_body() if request.get_data(cache=True).strip() else {}


def _state_arg(states) -> str | None:
    state = request.args.get("state") or None
    if state is not None and state not in states:
        raise ValidationError({"state": [_("须为以下之一：%(states)s", states=", ".join(states))]})
    return state


def _files_root() -> str:
    """Where attachments live: the instance folder, unless FOUNDATION_FILES says elsewhere."""
    return current_app.config.get("FOUNDATION_FILES") or current_app.instance_path


def _upload(field: str) -> Upload:
    file = request.files.get(field)
    if file is None or not file.filename:
        raise ValidationError({field: [_("请选择要上传的文件")]})
    return Upload(file.filename, file.read())


def _send(attachment, path):
    if not path.is_file():
        raise NotFound(_("找不到该附件"))
    return send_file(path, mimetype=attachment.content_type, download_name=attachment.filename,
                     max_age=0)


# --- screens' forms ----------------------------------------------------------------------------

def parse_yuan(text: str | None, field: str, *, required: bool = True) -> int | None:
    """Read money typed in yuan ("1200", "35.5", "1,200.00") as integer fen, never via a float."""
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError({field: [_("请填写金额（元）")]})
        return None
    fen = bounds.parse_fen(text)
    if fen is None:
        raise ValidationError({field: [_("「%(text)s」不是有效的金额，例如 1200 或 35.50", text=text[:20])]})
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
            raise ValidationError({field: [_("第 %(n)s 行须为「名目 金额」", n=n)]})
        lines.append({"item": parts[0], "amount": parse_yuan(parts[1], field)})
    return lines


def _names(text: str) -> list[str]:
    return [n.strip() for n in re.split(r"[\n,，、;；]+", text or "") if n.strip()]


def _int(value, field: str) -> int:
    """A whole number typed in a form (ASCII digits; the schema then checks its own bounds)."""
    number = bounds.parse_whole(str(value) if value is not None else None, min=0)
    if number is None:
        raise ValidationError({field: [_("须为整数（半角数字）")]})
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


def _back(bank, application_id, message):
    flash(message)
    return redirect(url_for("foundation.application", bank=bank.code, application_id=application_id))
