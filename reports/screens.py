"""The office's screens over the cycle's reports: the month (月公示), objections (异议) and the
year's commendation (年表彰).

They read and write through the reports' services; nothing here decides what a notice, a seal,
an answer or an award is. A month's button that runs the cycle's job by hand posts to the
cycle's own blueprint (cycle/views.py), which answers with this month's page (reports/month.py).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ledger import periods
from ledger import banks as ledger_banks
from ledger import reading as ledger_reading
from ground.db import get_session
from ground.errors import ConflictError, NotFound, ZongzhiError
from ledger.models import Resident, Transfer
from ledger.schemas import MEMO_MAX
from rules import bounds
from rules.periods import periods_since
from web.api import clock, query_text
from web.auth import READERS, REVIEWERS, scoped_bank
from web.forms import text_problems, typed_text, typed_whole

from . import objections, services
from .commendation import commendation_due
from .models import Snapshot
from .month import month_page, month_states, month_title
from .queries import RuleLookup

bp = Blueprint("report_screens", __name__, template_folder="templates")

#: How many months the month screen lists, newest first.
MONTHS_SHOWN = 36
#: How many answered objections the inbox shows after the open ones.
ANSWERED_SHOWN = 100


def _refusal(err: ZongzhiError) -> tuple[str, dict]:
    return err.text(), err.field_texts()


# --- 月公示: the month ------------------------------------------------------------------------

@bp.get("/banks/<bank>/months")
def months(bank):
    """Every month of the bank's cycle, newest first, with where its notice is."""
    bank, user = scoped_bank(bank, READERS)
    session = get_session()
    c = clock()
    wanted = periods_since("month", periods.first_day(session, bank, c.tz), c.today())
    states = list(reversed(month_states(session, bank, wanted[-MONTHS_SHOWN:])))
    return render_template("reports/months.html", bank=bank, states=states, now=c.now())


@bp.get("/banks/<bank>/months/<month:month>")
def month(bank, month):
    """One month: its notice's status, preview, print, public link and QR."""
    bank, user = scoped_bank(bank, READERS)
    return month_page(bank, user, month)


# --- 异议: objections -------------------------------------------------------------------------

def _inbox(bank, user, *, status: int = 200, answering: int | None = None, form: dict | None = None,
           message: str | None = None, problems: dict | None = None):
    session = get_session()
    month = query_text("month", max_len=7)
    if month:
        month = periods.parse_period("month", month, field="month").key
    waiting = objections.list_objections(session, bank, status="open", month=month, limit=500)
    answered = [o for o in objections.list_objections(session, bank, month=month, newest_first=True,
                                                      limit=ANSWERED_SHOWN + len(waiting))
                if o.status != "open"][:ANSWERED_SHOWN]
    rows = waiting + answered
    people = {r.id: r for r in session.execute(select(Resident).where(
        Resident.id.in_({o.resident_id for o in rows}))).scalars()} if rows else {}
    entry_ids = {i for o in rows for i in (o.transfer_id, o.correction_id) if i}
    entries = {t.id: t for t in session.execute(select(Transfer).where(
        Transfer.bank_id == bank.id, Transfer.id.in_(entry_ids))).scalars()} if entry_ids else {}
    lookup = RuleLookup(session, bank.id)
    rule_names = {t.id: lookup.name(t.rule_code, t.rule_version, t.occurred_on) for t in entries.values()}
    book = ledger_banks.rulebook(session, bank.id)[1]
    deed_rules = [(r.code, r.name) for r in book.rules if not r.is_penalty and r.applies_on(clock().today())]
    return render_template(
        "reports/objections.html", bank=bank, waiting=waiting, answered=answered, people=people,
        codes=ledger_reading.household_codes(session, people.values()), entries=entries,
        rule_names=rule_names, deed_rules=deed_rules, month=month, may_answer=user.role in REVIEWERS,
        own=ledger_reading.points_accounts_of(session, bank, people.values()),
        answering=answering, form=form or {}, message=message, problems=problems or {},
        month_title=lambda key: month_title(periods.parse_period("month", key))), status


@bp.get("/banks/<bank>/objections")
def objections_inbox(bank):
    """The bank's objections: those waiting for an answer first, then the answered ones."""
    bank, user = scoped_bank(bank, READERS)
    return _inbox(bank, user)


def _reason(form: dict, problems: dict) -> str:
    reason = typed_text(form.get("reason"))
    if found := text_problems(reason, max_len=MEMO_MAX, multiline=True, allow_blank=False):
        problems["reason"] = found
    return reason


def _answer(bank, user, objection_id: int, decide):
    """Check the typed answer, then decide through the objections' service; on any refusal the
    inbox comes back with the answer as typed and the problem beside its field."""
    form = request.form.to_dict()
    problems: dict = {}
    try:
        decided = decide(form, problems)
    except ConflictError as err:
        message, problems = _refusal(err)
        return _inbox(bank, user, status=409, answering=objection_id, form=form, message=message,
                      problems=problems)
    except ZongzhiError as err:
        message, problems = _refusal(err)
        return _inbox(bank, user, status=err.status if err.status != 400 else 422,
                      answering=objection_id, form=form, message=message, problems=problems)
    if decided is None:
        return _inbox(bank, user, status=422, answering=objection_id, form=form,
                      message=_("请更正以下内容"), problems=problems)
    flash(_("已支持异议 #%(id)d，更正已入账", id=decided.id) if decided.status == "upheld"
          else _("已驳回异议 #%(id)d", id=decided.id))
    return redirect(url_for("report_screens.objections_inbox", bank=bank.code))


@bp.post("/banks/<bank>/objections/<int:objection_id>/uphold")
def uphold(bank, objection_id):
    """Uphold an objection: the entry is reversed, or the missing deed posted, today."""
    bank, user = scoped_bank(bank, REVIEWERS)
    session = get_session()

    def decide(form, problems):
        objection = objections.get_objection(session, bank, objection_id)
        reason = _reason(form, problems)
        rule, quantity = None, 1
        if objection.transfer_id is None:
            rule = (form.get("rule") or "").strip() or None
            if rule is None:
                problems["rule"] = [_("请选择补登的规则")]
            quantity = typed_whole(form.get("quantity") or "1")
            if not isinstance(quantity, int) or bounds.whole_problem(quantity, max=bounds.QUANTITY_MAX):
                problems["quantity"] = [_("数量须为 1 至 %(n)d 的整数", n=bounds.QUANTITY_MAX)]
        if problems:
            return None
        return objections.uphold_objection(
            session, bank, objection.id, correction="reverse" if objection.transfer_id else "deed",
            reason=reason, rule=rule, quantity=quantity, by=user.name, clock=clock())

    return _answer(bank, user, objection_id, decide)


@bp.post("/banks/<bank>/objections/<int:objection_id>/reject")
def reject(bank, objection_id):
    """Reject an objection; the reason, which the resident reads on the card page, is required."""
    bank, user = scoped_bank(bank, REVIEWERS)
    session = get_session()

    def decide(form, problems):
        objections.get_objection(session, bank, objection_id)
        reason = _reason(form, problems)
        if problems:
            return None
        return objections.reject_objection(session, bank, objection_id, reason=reason, by=user.name,
                                           clock=clock())

    return _answer(bank, user, objection_id, decide)


# --- 年表彰: the year's commendation ---------------------------------------------------------

@bp.get("/banks/<bank>/commendation")
@bp.get("/banks/<bank>/commendation/<year:year>")
def commendation(bank, year: int | None = None):
    """The year's titles and awardees (ties shown as ties), the honour roll and certificates."""
    bank, user = scoped_bank(bank, READERS)
    session = get_session()
    years = list(session.execute(select(Snapshot.period).where(
        Snapshot.bank_id == bank.id, Snapshot.kind == "year").order_by(Snapshot.period.desc())).scalars())
    chosen = str(year) if year is not None else (years[0] if years else None)
    content = snapshot = None
    if chosen is not None and chosen in years:
        snapshot = services.get_snapshot(session, bank.id, "year", chosen)
        content = services.content_of(snapshot)
    elif year is not None:
        raise NotFound(_("找不到 %(year)s年的表彰", year=year))
    c = clock()
    # Before any, the first year the bank's cycle covers is the one to come.
    first = periods.period_of("year", periods.first_day(session, bank, c.tz))
    cycle = ledger_banks.rulebook(session, bank.id)[1].settings.cycle
    due = commendation_due(cycle, first, c.tz) if not years else None
    return render_template("reports/commendation.html", bank=bank, years=years, year=chosen,
                           content=content, snapshot=snapshot, awards=_awards(content) if content else [],
                           pending_year=first.key, due=due)


def _awards(content: dict) -> list[dict]:
    """Each title with its awardees, an awardee sharing its points with another marked tied."""
    shown = []
    for number, award in enumerate(content["awards"], start=1):
        points = [a["points"] for a in award["awardees"]]
        shown.append({**award, "number": number, "awardees": [
            {**a, "tied": points.count(a["points"]) > 1} for a in award["awardees"]]})
    return shown


def tied_ranks(rows: list[dict]) -> set[int]:
    """Return the ranks two or more rows share."""
    seen: dict[int, int] = {}
    for row in rows:
        seen[row["rank"]] = seen.get(row["rank"], 0) + 1
    return {rank for rank, n in seen.items() if n > 1}


@bp.app_template_global("tied_ranks")
def _tied_ranks(rows):
    return tied_ranks(rows)
