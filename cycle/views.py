"""The county admin's screen of the cycle: each bank's job runs for a period, and what failed; and
a month's notice or seal run by hand from the month's page."""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ledger import periods
from ground.db import get_session
from ground.errors import Forbidden, ValidationError
from reports.month import cycle_month, month_page
from web.api import clock
from web.auth import WRITERS, current_user, scoped_bank
from web.forms import text_problems, typed_text

from . import jobs, runs
from .models import STATUSES

bp = Blueprint("cycle", __name__, template_folder="templates")

#: The states a bank's run can be shown in, in the order the page counts them.
LABELS = {"due": _l("待排队"), "queued": _l("已排队"), "running": _l("运行中"), "done": _l("完成"),
          "failed": _l("失败")}
assert tuple(LABELS) == STATUSES
#: The cycle's jobs a clerk may run by hand from a month's page, once they fall due.
BY_HAND = ("monthly", "seal")


@bp.get("/admin/cycle")
def status():
    """Each bank's runs for a period (by default the month whose notice went up this month)."""
    if current_user().role != "admin":
        raise Forbidden()
    asked = typed_text(request.args.get("period"))
    shown = request.args.get("state") if request.args.get("state") in LABELS else ""
    period, problems = None, {}
    wrong = text_problems(asked, max_len=20)
    if wrong:
        problems = {"period": wrong}
    else:
        try:
            period = runs.any_period(asked) if asked else periods.period_of("month", clock().today()).previous()
        except ValidationError:
            problems = {"period": [_("格式须为 2026-10-05、2026-10、2026-Q4 或 2026")]}
    rows = runs.for_period(get_session(), period.key) if period else []
    counts = Counter(run.status for _, found in rows for run in found)
    untouched = sum(1 for _, found in rows if not found)
    if shown:
        rows = [(bank, found) for bank, found in rows if any(run.status == shown for run in found)]
    return render_template("cycle/status.html", rows=rows, counts=counts, untouched=untouched,
                           labels=LABELS, jobs=jobs.JOBS, period=period, asked=asked if problems else (period.key if period else ""),
                           shown=shown, problems=problems, result_text=runs.result_text), 422 if problems else 200


@bp.post("/banks/<bank>/months/<month:month>/run")
def run_month_job(bank, month):
    """Post the month's notice, or seal the month, by hand: the cycle's own job, once it falls due
    (before then it is refused and nothing is written); the scheduler will not run it again."""
    bank, user = scoped_bank(bank, WRITERS)
    period = cycle_month(get_session(), bank, month)
    name = request.form.get("job", "")
    if name not in BY_HAND:
        return month_page(bank, user, period.key, message=_("无法执行该操作"), status=422)
    get_session().rollback()  # end this request's read: the job writes in sessions of its own
    [outcome] = runs.run_by_hand(current_app.extensions["zongzhi.sessions"], [bank], jobs.get_job(name),
                                 period, clock=clock())
    if outcome.status == "failed":
        return month_page(bank, user, period.key, message=outcome.message, status=409)
    flash(_("已公示") if name == "monthly" else _("已封账"))
    return redirect(url_for("report_screens.month", bank=bank.code, month=period.key))
