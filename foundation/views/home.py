"""The foundation's front screen: its applications and wishes, the fund, this quarter's report,
and the reviewers with the residents they are, linked there.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ground.db import get_session
from ground.errors import ConflictError, NotFound, ValidationError
from ledger.models import Resident
from rules import periods
from web.api import clock
from web.auth import WRITERS
from web.i18n import language

from .. import people
from .. import workflow as wf
from ..applications import applicant_names, link_reviewer, list_applications, reviewers
from ..blueprint import bp
from ..review import fund_position
from ..wishes import list_wishes
from .common import _int, _refused, _screen_bank, _state_arg


@bp.get("/foundation/<bank>/")
def index(bank):
    return _index_page(bank)


def _index_page(bank, *, form=None, message=None, problems=None, linking=None):
    bank, user = _screen_bank(bank)
    session = get_session()
    state = _state_arg(wf.STATES)
    applications = list_applications(session, bank, state=state, limit=200)
    names = applicant_names(session, [a.applicant_id for a in applications])
    wishes = list_wishes(session, bank, limit=200)
    wishers = _resident_names(session, [w.resident_id for w in wishes])
    return render_template("foundation/index.html", bank=bank, user=user, applications=applications,
                           names=names, wishes=wishes, wishers=wishers, state=state, states=wf.STATES,
                           fund=fund_position(session, bank),
                           quarter=_this_quarter(), reviewers=reviewers(session, bank),
                           linking=linking or people.pick(session, bank, MultiDict(), "resident", one=True),
                           form=form or MultiDict(), message=message, problems=problems or {})


def _this_quarter() -> tuple[int, int]:
    this = periods.period_of("quarter", clock().today())
    return this.year, this.number


def _resident_names(session, ids) -> dict[int, str]:
    from sqlalchemy import select

    ids = set(ids)
    return dict(session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(ids))).all()) if ids else {}


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
        link_reviewer(session, bank, user_id=_int(request.form.get("user"), "user"),
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
