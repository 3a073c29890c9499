"""The village office's screens: residents and households, deeds and penalties, reversals,
the reviewer's queue, the day's register, the roster, and the county admin's banks.

Server-rendered forms that work without JavaScript. Every page names its bank in the path and
checks it (another bank's answers 404); every form carries its CSRF token.
"""
from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ledger import accounts, banks, deeds, lookup, people as ledger_people, periods, reading, reversals, roster
from ledger.chain import request_fingerprint
from ground.db import get_session
from ground.errors import Forbidden, ValidationError, ZongzhiError
from ledger.models import Household, PendingDeed, Transfer
from ledger.posting import Idempotency
from ledger.schemas import DEED_RESIDENTS_MAX, MEMO_MAX
from ledger.answers import attachments
from reports.register import day_register
from rules import bounds
from web import uploads
from web.api import clock, query_text, query_whole
from web.auth import (AUDITORS, EVERY_ROLE, READERS, REVIEWERS, WRITERS, current_user,
                      scoped_bank)
from web.forms import text_problems, typed_text

from . import services as office

bp = Blueprint("office", __name__, template_folder="templates")

#: The kinds of entry a resident's history may be filtered by, as the resident page lists them.
KINDS = ("deed", "penalty", "reversal", "redemption", "expiry")


def _render(template: str, status: int = 200, **context):
    return render_template(f"office/{template}", roles={"reader": _user().role in READERS,
                                                        "writer": _user().role in WRITERS,
                                                        "reviewer": _user().role in REVIEWERS,
                                                        "auditor": _user().role in AUDITORS},
                           **context), status


def _user():
    return current_user()


def _refusal(err: ZongzhiError) -> tuple[str, dict]:
    """Return a domain error's message and field problems in the reader's language."""
    return err.text(), err.field_texts()


def _day(value: str | None, field: str, problems: dict, *, default: date | None = None) -> date | None:
    """Return a day typed in a query or form, or `default`; a bad one is noted in `problems`."""
    try:
        return periods.parse_day(value, field=field, default=default)
    except ValidationError as err:
        problems.update(_refusal(err)[1])
        return default


# --- the bank's front page --------------------------------------------------------------------

@bp.get("/banks/<bank>/")
def index(bank):
    bank, user = scoped_bank(bank, EVERY_ROLE)
    session = get_session()
    register = day_register(session, bank, clock().today(), clock=clock())
    pending = deeds.list_pending(session, bank, limit=501, after=None)
    return _render("index.html", bank=bank, register=register, pending=len(pending))


# --- residents --------------------------------------------------------------------------------

@bp.get("/banks/<bank>/residents")
def residents(bank):
    bank, _user_ = scoped_bank(bank, EVERY_ROLE)
    session = get_session()
    q = (query_text("q") or "").strip()
    if q:
        found = ledger_people.find_residents(session, bank, q, limit=100, active_only=False)
    else:
        found = ledger_people.search_residents(session, bank, None, limit=100,
                                               after=query_whole("after", min=0))
    codes = reading.household_codes(session, found)
    return _render("residents.html", bank=bank, q=q, residents=found, codes=codes,
                   next_after=found[-1].id if not q and len(found) == 100 else None)


@bp.route("/banks/<bank>/residents/new", methods=["GET", "POST"])
def new_resident(bank):
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    form = {"household": request.args.get("household", ""), **request.form.to_dict()}
    message, problems = None, {}
    if request.method == "POST":
        try:
            resident = ledger_people.create_resident(
                session, bank, name=form.get("name", ""), household=form.get("household", ""),
                phone=form.get("phone"), relation=form.get("relation"), reading=form.get("reading"),
                by=user.name, clock=clock())
        except ZongzhiError as err:
            message, problems = _refusal(err)
        else:
            flash(_("已登记居民 %(name)s", name=resident.name))
            return redirect(url_for("office.resident", bank=bank.code, resident_id=resident.id))
    return _render("resident_form.html", 422 if problems else 200, bank=bank, form=form,
                   resident=None, message=message, problems=problems,
                   relations=ledger_people.RELATIONS, unknown=_unknown(form.get("name", "")))


def _unknown(name: str) -> list[str]:
    from ledger.names import unknown_characters

    return unknown_characters(name or "")


def _edit_page(bank, resident, status: int = 200, *, form: dict | None = None, message=None,
               problems: dict | None = None, move: dict | None = None, deactivate: dict | None = None):
    """The resident's edit page; a move or a deactivation refused comes back in its own form."""
    form = form or {"name": resident.name, "phone": resident.phone or "", "relation": resident.relation,
                    "reading": resident.reading}
    return _render("resident_form.html", status, bank=bank, form=form, resident=resident,
                   household=get_session().get(Household, resident.household_id), message=message,
                   problems=problems or {}, move=move or {}, deactivate=deactivate or {},
                   relations=ledger_people.RELATIONS, unknown=_unknown(form.get("name", "")))


def _refused_form(err: ZongzhiError) -> dict:
    """Return a refused side form as typed, with its message and problems, for _edit_page."""
    message, problems = _refusal(err)
    return {"form": request.form, "message": message, "problems": problems}


@bp.route("/banks/<bank>/residents/<int:resident_id>/edit", methods=["GET", "POST"])
def edit_resident(bank, resident_id):
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    resident = ledger_people.get_resident(session, bank, resident_id)
    form = {"name": resident.name, "phone": resident.phone or "", "relation": resident.relation,
            "reading": resident.reading, **request.form.to_dict()}
    message, problems = None, {}
    if request.method == "POST":
        try:
            ledger_people.update_resident(session, bank, resident.id, name=form.get("name", ""),
                                          phone=form.get("phone"), relation=form.get("relation"),
                                          reading=form.get("reading"), by=user.name, clock=clock())
        except ZongzhiError as err:
            message, problems = _refusal(err)
        else:
            flash(_("已保存"))
            return redirect(url_for("office.resident", bank=bank.code, resident_id=resident.id))
    return _edit_page(bank, resident, 422 if problems else 200, form=form, message=message,
                      problems=problems)


@bp.post("/banks/<bank>/residents/<int:resident_id>/active")
def resident_active(bank, resident_id):
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    active = request.form.get("active") == "1"
    try:
        resident = ledger_people.set_resident_active(session, bank, resident_id, active,
                                                     reason=request.form.get("reason"), by=user.name,
                                                     clock=clock())
    except ValidationError as err:
        return _edit_page(bank, ledger_people.get_resident(session, bank, resident_id), 422,
                          deactivate=_refused_form(err))
    else:
        flash(_("已恢复 %(name)s", name=resident.name) if active else
              _("已停用 %(name)s，今后不能再为其登分", name=resident.name))
    return redirect(url_for("office.resident", bank=bank.code, resident_id=resident_id))


@bp.post("/banks/<bank>/residents/<int:resident_id>/move")
def move_resident(bank, resident_id):
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    try:
        resident = ledger_people.move_resident(session, bank, resident_id,
                                               household=request.form.get("household", ""),
                                               reason=request.form.get("reason"), by=user.name, clock=clock())
    except ValidationError as err:
        return _edit_page(bank, ledger_people.get_resident(session, bank, resident_id), 422,
                          move=_refused_form(err))
    flash(_("已迁入户 %(code)s", code=session.get(Household, resident.household_id).code))
    return redirect(url_for("office.resident", bank=bank.code, resident_id=resident_id))


def _history_filters() -> tuple[dict, dict]:
    problems: dict = {}
    filters = {"since": _day(request.args.get("since"), "since", problems),
               "until": _day(request.args.get("until"), "until", problems),
               "kind": request.args.get("kind") if request.args.get("kind") in KINDS else None,
               "rule": (query_text("rule") or "").strip() or None}
    return filters, problems


@bp.get("/banks/<bank>/residents/<int:resident_id>")
def resident(bank, resident_id):
    bank, user = scoped_bank(bank, EVERY_ROLE)
    session = get_session()
    person = ledger_people.get_resident(session, bank, resident_id)
    summary = reading.account_summary(session, bank, person.id, clock=clock())
    filters, problems = _history_filters()
    history = reading.resident_history(session, bank, person, **filters) if user.role in READERS else []
    reversed_by = reading.reversals_of(session, bank, [t.id for t in history])
    originals = {t.id: t for t in _originals(session, bank, history)}
    _version, book = banks.rulebook(session, bank.id)
    return _render("resident.html", 422 if problems else 200, bank=bank, person=person,
                   household=session.get(Household, person.household_id), summary=summary,
                   history=history, reversed_by=reversed_by, originals=originals,
                   own=reading.points_accounts_of(session, bank, [person]), kinds=KINDS,
                   rule_names=_rule_names(book), filters=request.args, problems=problems,
                   moves=ledger_people.resident_moves(session, bank, person),
                   rules=sorted({(r.code, r.name) for r in book.rules}))


def _originals(session, bank, transfers) -> list[Transfer]:
    ids = [t.reverses_id for t in transfers if t.reverses_id]
    if not ids:
        return []
    from sqlalchemy import select

    return list(session.execute(select(Transfer).where(Transfer.bank_id == bank.id,
                                                       Transfer.id.in_(ids))).scalars())


def _rule_names(book) -> dict[str, str]:
    return {r.code: r.name for r in book.rules}


@bp.app_template_filter("effect")
def _effect(transfer, own):
    return reading.effect_on(transfer, own)


@bp.get("/banks/<bank>/residents/<int:resident_id>/statement")
def statement(bank, resident_id):
    bank, user = scoped_bank(bank, READERS)
    session = get_session()
    person = ledger_people.get_resident(session, bank, resident_id)
    summary = reading.account_summary(session, bank, person.id, clock=clock())
    filters, problems = _history_filters()
    history = list(reversed(reading.resident_history(session, bank, person, limit=5000, **filters)))
    originals = {t.id: t for t in _originals(session, bank, history)}
    _version, book = banks.rulebook(session, bank.id)
    own = reading.points_accounts_of(session, bank, [person])
    total = sum(reading.effect_on(t, own) for t in history)
    return _render("statement.html", 422 if problems else 200, bank=bank, person=person,
                   household=session.get(Household, person.household_id), summary=summary,
                   history=history, originals=originals, own=own, rule_names=_rule_names(book), total=total,
                   filters=filters, today=clock().today())


# --- households -------------------------------------------------------------------------------

@bp.route("/banks/<bank>/households", methods=["GET", "POST"])
def households(bank):
    bank, user = scoped_bank(bank, READERS if request.method == "GET" else WRITERS)
    session = get_session()
    message, problems = None, {}
    if request.method == "POST":
        try:
            household = ledger_people.create_household(session, bank, code=request.form.get("code", ""),
                                                       name=request.form.get("name"), by=user.name,
                                                       clock=clock())
        except ZongzhiError as err:
            message, problems = _refusal(err)
        else:
            flash(_("已登记户 %(code)s", code=household.code))
            return redirect(url_for("office.household", bank=bank.code, household_id=household.id))
    q = (query_text("q") or "").strip()
    found = ledger_people.list_households(session, bank, q, limit=500)
    return _render("households.html", 422 if problems else 200, bank=bank, households=found, q=q,
                   message=message, problems=problems, form=request.form)


@bp.route("/banks/<bank>/households/<int:household_id>", methods=["GET", "POST"])
def household(bank, household_id):
    bank, user = scoped_bank(bank, READERS if request.method == "GET" else WRITERS)
    session = get_session()
    home = ledger_people.get_household(session, bank, household_id)
    message, problems, status = None, {}, 200
    if request.method == "POST":
        try:
            ledger_people.update_household(session, bank, home.id, name=request.form.get("name"),
                                           active=request.form.get("active") == "1", by=user.name,
                                           clock=clock())
        except ZongzhiError as err:
            message, problems = _refusal(err)
            status = err.status
        else:
            flash(_("已保存"))
            return redirect(url_for("office.household", bank=bank.code, household_id=home.id))
    members = ledger_people.household_members(session, bank, home)
    summary = reading.account_summary(session, bank, members[0].id, clock=clock()) if members else None
    form = request.form if request.method == "POST" else {"name": home.name or "",
                                                          "active": "1" if home.active else "0"}
    return _render("household.html", status, bank=bank, home=home, members=members,
                   summary=summary, message=message, problems=problems, form=form)


# --- roster -----------------------------------------------------------------------------------

@bp.route("/banks/<bank>/roster", methods=["GET", "POST"])
@uploads.limit(roster.MAX_BYTES)
def roster_import(bank):
    bank, user = scoped_bank(bank, READERS if request.method == "GET" else WRITERS)
    report, message, problems, status = None, None, {}, 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problems = {"file": [_("请选择要导入的 .xlsx 或 .csv 文件")]}
        else:
            try:
                report = roster.import_roster(get_session(), bank, upload.filename, upload.read(),
                                              by=user.name, clock=clock())
            except ZongzhiError as err:
                message, problems = _refusal(err)
                status = err.status
    if status == 200 and (problems or (report and not report.imported)):
        status = 422
    return _render("roster.html", status, bank=bank, report=report, message=message, problems=problems,
                   columns=roster.COLUMNS)


@bp.get("/banks/<bank>/roster.xlsx")
def roster_export(bank):
    bank, _user_ = scoped_bank(bank, READERS)
    return _xlsx(roster.roster_xlsx(get_session(), bank), f"{bank.code}-roster.xlsx")


@bp.get("/banks/<bank>/ledger.xlsx")
def ledger_export(bank):
    bank, _user_ = scoped_bank(bank, READERS)
    return _xlsx(roster.ledger_xlsx(get_session(), bank), f"{bank.code}-ledger.xlsx")


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- deeds and penalties ----------------------------------------------------------------------

@bp.route("/banks/<bank>/deeds/new", methods=["GET", "POST"])
def deed_form(bank):
    """Log a good deed for one resident or a whole team."""
    return _deed_or_penalty_form(bank, penalties=False)


@bp.route("/banks/<bank>/penalties/new", methods=["GET", "POST"])
def penalty_form(bank):
    """Log a penalty, with its reason, for one resident or several."""
    return _deed_or_penalty_form(bank, penalties=True)


def _form_endpoint(penalties: bool) -> str:
    # One endpoint per route: a shared one let url_for pick the penalty route for a deed link.
    return "office.penalty_form" if penalties else "office.deed_form"


def _deed_or_penalty_form(bank, *, penalties: bool):
    """Log one rule for one resident or a whole team; a penalty needs its reason."""
    bank, user = scoped_bank(bank, WRITERS)
    session = get_session()
    today = clock().today()
    form = request.form if request.method == "POST" else request.args
    problems: dict[str, list[str]] = {}
    message = None
    chosen = list(dict.fromkeys(form.getlist("r") or
                                [i for i in form.get("residents", "").split(",") if i.strip()]))
    selected_ids = [i for i in (bounds.parse_whole(c) for c in chosen[:DEED_RESIDENTS_MAX])
                    if i is not None]
    selected = lookup.active_residents(session, bank, selected_ids)
    if request.method == "POST" and len(chosen) > DEED_RESIDENTS_MAX:
        problems["residents"] = [_("一次最多登记 %(n)d 位居民", n=DEED_RESIDENTS_MAX)]
    elif request.method == "POST" and len(selected) < len(chosen):
        # All or none: one chosen resident who is not this bank's, or no longer active, refuses
        # the whole form; the form comes back without them, for the clerk to post knowingly.
        problems["residents"] = [_("所选居民中有 %(n)d 位不是本村在册居民，整张表单未登记，"
                                   "请核对后重新提交", n=len(chosen) - len(selected))]
    occurred_on = _day(form.get("occurred_on"), "occurred_on", problems, default=today)
    for field, limit in (("q", 200), ("rule_q", 100), ("rule", 100)):
        if found_problems := text_problems(form.get(field, ""), max_len=limit):
            problems[field] = found_problems
    lookups = (lookup.look_up(session, bank, form.get("q", ""))
               if request.method == "POST" and "q" not in problems else [])
    for found in lookups:
        if found.unique and found.unique.id not in {r.id for r in selected}:
            selected.append(found.unique)
    groups = office.rule_choices(session, bank, penalties=penalties,
                                 resident_ids=[r.id for r in selected], on=occurred_on or today)
    rule_code = form.get("rule", "")
    rule_matches = office.match_rule(groups, form.get("rule_q", ""))
    if len(rule_matches) == 1:
        rule_code = rule_matches[0].code
    elif form.get("rule_q", "").strip():
        problems["rule_q"] = [_("“%(q)s”匹配到 %(n)d 条规则，请在列表中选择", q=form.get("rule_q"),
                                n=len(rule_matches))]
    posted = None
    wants_post = request.method == "POST" and not form.get("q", "").strip() and "rule_q" not in problems
    if wants_post:
        problems.update(_deed_problems(form, selected, rule_code, groups, penalties))
        if not problems:
            body = {"rule": rule_code, "residents": [r.id for r in selected],
                    "quantity": bounds.parse_whole(form["quantity"]), "occurred_on": occurred_on.isoformat(),
                    "memo": typed_text(form.get("memo")) or None}
            idem = Idempotency(form.get("idem", ""), request_fingerprint("POST", request.path, body),
                               user_id=user.id)
            try:
                outcome = deeds.post_deed(session, bank, rule_code=rule_code,
                                          resident_ids=body["residents"], quantity=body["quantity"],
                                          occurred_on=occurred_on, memo=body["memo"], by=user.name,
                                          clock=clock(), idem=idem)
            except ZongzhiError as err:
                message, field_problems = _refusal(err)
                problems.update({k: v for k, v in field_problems.items() if k != "residents"})
            else:
                posted = outcome
    if posted is not None:
        return redirect(url_for(_form_endpoint(penalties), bank=bank.code,
                                posted=",".join(str(t.id) for t in posted.transfers),
                                pending=",".join(str(p.id) for p in posted.pending)))
    done = _done(session, bank) if request.method == "GET" else None
    status = 200
    if problems or message:
        status = 409 if message and not problems else 422
    keep = request.method == "POST" and not posted
    unsure = [lk for lk in lookups if not lk.unique]
    teams = office.recent_teams(session, bank, groups, by=user.name) if not penalties else []
    return _render("deed_form.html", status, bank=bank, penalties=penalties,
                   form_endpoint=_form_endpoint(penalties), groups=groups, teams=teams,
                   selected=selected, lookups=unsure,
                   codes=reading.household_codes(session, selected + [r for lk in unsure for r in lk.found]),
                   rule_code=rule_code, occurred_on=occurred_on or today, today=today,
                   quantity=form.get("quantity", "1") if keep else "1",
                   memo=form.get("memo", "") if keep else "",
                   idem=form.get("idem") if keep and form.get("idem") else uuid.uuid4().hex,
                   problems=problems, message=message, done=done)


def _deed_problems(form, selected, rule_code, groups, penalties) -> dict:
    """Check the deed form as the API checks a deed (the bounds of rules/bounds.py), all at once."""
    problems = {}
    if not selected:
        problems["residents"] = [_("请先查找并勾选居民")]
    if not any(c.code == rule_code for _category, choices in groups for c in choices):
        problems["rule"] = [_("请选择规则")]
    if bounds.parse_whole(form.get("quantity"), max=bounds.QUANTITY_MAX) is None:
        problems["quantity"] = [_("数量须为 1 到 %(n)d 之间的整数（半角数字）", n=bounds.QUANTITY_MAX)]
    memo = typed_text(form.get("memo"))
    if penalties and not memo:
        problems["memo"] = [_("扣分须写明原因")]
    if len(memo) > MEMO_MAX:
        problems["memo"] = [_("备注最长 %(n)d 个字", n=MEMO_MAX)]
    elif memo_problems := text_problems(memo, max_len=MEMO_MAX, multiline=True):
        problems["memo"] = memo_problems
    idem = form.get("idem", "")
    if not idem or bounds.text_problem(idem, max_len=200):
        problems["idem"] = [_("表单已失效，请重新打开")]
    return problems


def _ids(text: str) -> list[int]:
    """Return the ids a redirect after posting listed ("12,13"); anything else is left out."""
    return [i for i in (bounds.parse_whole(t) for t in text.split(",")[:DEED_RESIDENTS_MAX]) if i]


def _done(session, bank) -> dict | None:
    ids = _ids(request.args.get("posted", ""))
    pending_ids = _ids(request.args.get("pending", ""))
    if not ids and not pending_ids:
        return None
    from sqlalchemy import select

    transfers = list(session.execute(select(Transfer).where(
        Transfer.bank_id == bank.id, Transfer.id.in_(ids)).order_by(Transfer.seq)).scalars()) if ids else []
    pending = list(session.execute(select(PendingDeed).where(
        PendingDeed.bank_id == bank.id, PendingDeed.id.in_(pending_ids))).scalars()) if pending_ids else []
    people = reading.residents_by_id(session, bank, [t.doer_id for t in transfers] +
                                     [p.resident_id for p in pending])
    return {"transfers": transfers, "pending": pending, "people": people}


# --- transfers and reversals ------------------------------------------------------------------

@bp.route("/banks/<bank>/transfers/<int:transfer_id>", methods=["GET", "POST"])
def transfer(bank, transfer_id):
    """One entry, linked both ways to its reversal; a writer may reverse it with a reason."""
    bank, user = scoped_bank(bank, READERS if request.method == "GET" else WRITERS)
    session = get_session()
    entry = reading.get_transfer(session, bank, transfer_id)
    message, problems = None, {}
    if request.method == "POST":
        reason = typed_text(request.form.get("reason"))
        if not reason:
            problems["reason"] = [_("冲正须写明原因")]
        elif len(reason) > MEMO_MAX:
            problems["reason"] = [_("备注最长 %(n)d 个字", n=MEMO_MAX)]
        elif reason_problems := text_problems(reason, max_len=MEMO_MAX, multiline=True):
            problems["reason"] = reason_problems
        else:
            idem = Idempotency(request.form.get("idem", "")[:200] or uuid.uuid4().hex,
                               request_fingerprint("POST", request.path, {"reason": reason}),
                               user_id=user.id)
            try:
                reversals.reverse_transfer(session, bank, entry.id, reason=reason, by=user.name,
                                           clock=clock(), idem=idem)
            except ZongzhiError as err:
                message, problems = _refusal(err)
            else:
                flash(_("已冲正，冲正记录与原记录相互关联"))
                return redirect(url_for("office.transfer", bank=bank.code, transfer_id=entry.id))
    reversal = reading.reversals_of(session, bank, [entry.id]).get(entry.id)
    original = reading.get_transfer(session, bank, entry.reverses_id) if entry.reverses_id else None
    people = reading.residents_by_id(session, bank, [entry.doer_id])
    shown = [t for t in (entry, reversal, original) if t is not None]
    codes = accounts.account_names(session, bank, [i for t in shown for i in (t.debit_id, t.credit_id)])
    _version, book = banks.rulebook(session, bank.id)
    status = 200 if not (message or problems) else (409 if message and not problems else 422)
    return _render("transfer.html", status, bank=bank, entry=entry, reversal=reversal, original=original,
                   person=people.get(entry.doer_id), codes=codes, rule_names=_rule_names(book),
                   message=message, problems=problems, idem=uuid.uuid4().hex,
                   reason=request.form.get("reason", "") if request.method == "POST" else "",
                   extras=attachments(session, shown, [])[0])


# --- the reviewer's queue ---------------------------------------------------------------------

@bp.get("/banks/<bank>/pending")
def pending(bank):
    bank, user = scoped_bank(bank, READERS)
    return _pending_page(bank)


def _pending_page(bank, status: int = 200, refused: dict | None = None):
    """The queue; a decision refused comes back in its row, the reason as typed, the problem beside it."""
    session = get_session()
    waiting = deeds.list_pending(session, bank, limit=500, after=None)
    _version, book = banks.rulebook(session, bank.id)
    people = reading.residents_by_id(session, bank, [p.resident_id for p in waiting])
    return _render("pending.html", status, bank=bank, waiting=waiting, people=people,
                   rule_names=_rule_names(book), refused=refused or {},
                   extras=attachments(session, [], waiting)[1])


@bp.post("/banks/<bank>/pending/<int:pending_id>/<any(approve, reject):decision>")
def decide(bank, pending_id, decision):
    bank, user = scoped_bank(bank, REVIEWERS)
    session = get_session()
    deeds.get_pending(session, bank, pending_id)  # another bank's is 404 before anything else
    approve = decision == "approve"
    reason = typed_text(request.form.get("reason"))
    refused = {"id": pending_id, "reason": request.form.get("reason", ""), "message": None}
    if not approve and not reason:
        refused["problems"] = [_("驳回须写明原因")]
    elif len(reason) > MEMO_MAX:
        refused["problems"] = [_("备注最长 %(n)d 个字", n=MEMO_MAX)]
    elif reason_problems := text_problems(reason, max_len=MEMO_MAX, multiline=True):
        refused["problems"] = reason_problems
    if refused.get("problems"):
        return _pending_page(bank, 422, refused)
    try:
        outcome = deeds.decide_pending(session, bank, pending_id, approve=approve,
                                       reason=reason or None, by=user.name, clock=clock())
    except ZongzhiError as err:
        if err.status == 404:
            raise
        message, problems = _refusal(err)
        refused.update(message=message, problems=[p for ps in problems.values() for p in ps])
        return _pending_page(bank, err.status, refused)
    if approve:
        flash(_("已通过并入账（流水 #%(seq)d）", seq=outcome.transfers[0].seq))
    else:
        flash(_("已驳回"))
    return redirect(url_for("office.pending", bank=bank.code))


# --- the day's register -----------------------------------------------------------------------

@bp.get("/banks/<bank>/register")
def register(bank):
    """The day's register (登分簿), printable on A4 with lines for the clerk's and reviewer's signatures."""
    bank, user = scoped_bank(bank, READERS)
    problems: dict = {}
    day = _day(request.args.get("day"), "day", problems, default=clock().today())
    if not problems and day > clock().today():
        problems["day"] = [_("日期不能晚于今天")]
    # A day refused comes back in the form with its reason and no register: never another day's.
    sheet = None if problems else day_register(get_session(), bank, day, clock=clock())
    asked = (request.args.get("day") or "")[:10] if problems else day.isoformat()
    return _render("register.html", 422 if problems else 200, bank=bank, sheet=sheet, day=day,
                   asked=asked, problems=problems)


# --- the county admin -------------------------------------------------------------------------

@bp.route("/admin/banks", methods=["GET", "POST"])
def admin_banks():
    """Every bank with its totals; a county admin opens a new bank from a rule template."""
    user = current_user()
    if user.role != "admin":
        raise Forbidden()
    session = get_session()
    message, problems = None, {}
    if request.method == "POST":
        try:
            bank = office.open_bank(session, code=request.form.get("code", ""),
                                    name=request.form.get("name", ""),
                                    template=request.form.get("template", ""),
                                    clerk=request.form.get("clerk"), password=request.form.get("password"),
                                    by=user.name, clock=clock())
        except ZongzhiError as err:
            message, problems = _refusal(err)
        else:
            flash(_("已开设 %(name)s", name=bank.name))
            return redirect(url_for("office.admin_banks"))
    return _render("admin_banks.html", 422 if problems or message else 200,
                   banks=office.bank_overview(session, clock=clock()), templates=office.rule_templates(),
                   form=request.form, message=message, problems=problems, today=clock().today())
