"""The bank's users on screen (用户): the list, a new user, a password reset, disabling, API tokens.

Who may do what is web/users.py's: the county admin and the bank's council reviewer manage,
the supervisor reads, and nobody gives a role with powers they do not hold themselves.
"""
from __future__ import annotations

from flask import flash, redirect, request, session as flask_session, url_for
from flask_babel import gettext as _

from ground.db import get_session
from ground.errors import ZongzhiError
from web import users as staff
from web.api import clock
from web.auth import PASSWORD_MIN, SESSION_SECRET, TOKEN_DAYS, TOKEN_DAYS_MAX, scoped_bank
from web.forms import typed_whole

from .views import _refusal, _render, bp

def _page(template, status, bank, user, **context):
    return _render(template, status, bank=bank, role_names=staff.ROLE_NAMES, password_min=PASSWORD_MIN,
                   grantable=staff.grantable_roles(user.role), manager=user.role in staff.MANAGERS,
                   **context)


def _problems(err: ZongzhiError) -> tuple[str, dict]:
    message, problems = _refusal(err)
    return message, {field: [_(p) for p in ps] for field, ps in problems.items()}


@bp.route("/banks/<bank>/users", methods=["GET", "POST"])
def users(bank):
    """The bank's users; a manager adds one here (the form answers itself again on error)."""
    bank, user = scoped_bank(bank, staff.USER_READERS if request.method == "GET" else staff.MANAGERS)
    session = get_session()
    # Refilled as typed, passwords excepted.
    form = {k: v for k, v in request.form.items() if not k.startswith("password")}
    message, problems = None, {}
    if request.method == "POST":
        try:
            created = staff.add_user(session, bank, name=form.get("name", ""), role=form.get("role", ""),
                                     password=request.form.get("password"),
                                     password_again=request.form.get("password_again"), by=user,
                                     clock=clock())
        except ZongzhiError as err:
            message, problems = _problems(err)
        else:
            flash(_("已添加用户 %(name)s", name=created.name))
            return redirect(url_for("office.staff_user", bank=bank.code, user_id=created.id))
    return _page("users.html", 422 if problems else (409 if message else 200), bank, user,
                 members=staff.bank_users(session, bank), form=form, message=message, problems=problems)


@bp.get("/banks/<bank>/users/<int:user_id>")
def staff_user(bank, user_id):
    """One user: their role and state, and (to a manager who may act on them) the forms."""
    bank, user = scoped_bank(bank, staff.USER_READERS)
    return _user_page(bank, user, user_id)


def _user_page(bank, user, user_id, status=200, *, message=None, problems=None, secret=None,
               form=None):
    session = get_session()
    member = staff.bank_user(session, bank, user_id)
    return _page("user.html", status, bank, user, member=member,
                 may_manage=staff.may_manage(user, member), tokens=staff.user_tokens(session, bank, member, clock=clock()),
                 message=message, problems=problems or {}, secret=secret, form=form or {},
                 token_days=TOKEN_DAYS, token_days_max=TOKEN_DAYS_MAX)


def _act(bank, user_id, act, done: str, *, form=None):
    """Run one manager's act on a user; on refusal answer the user's page with the problem."""
    bank, user = scoped_bank(bank, staff.MANAGERS)
    try:
        result = act(get_session(), bank, user)
    except ZongzhiError as err:
        message, problems = _problems(err)
        status = 422 if problems else err.status
        if status in (403, 404):
            raise
        return _user_page(bank, user, user_id, status, message=message, problems=problems, form=form)
    if isinstance(result, str):  # a token: shown this once, on this answer, never kept by a cache
        html, status = _user_page(bank, user, user_id, 201, secret=result)
        return html, status, {"Cache-Control": "no-store"}
    flash(done)
    return redirect(url_for("office.staff_user", bank=bank.code, user_id=user_id))


@bp.post("/banks/<bank>/users/<int:user_id>/password")
def staff_password(bank, user_id):
    return _act(bank, user_id, lambda session, bank, user: staff.reset_password(
        session, bank, user_id, password=request.form.get("password"),
        password_again=request.form.get("password_again"), by=user,
        keep=flask_session.get(SESSION_SECRET), clock=clock()), _("已重设密码；该用户需用新密码重新登录"))


@bp.post("/banks/<bank>/users/<int:user_id>/active")
def staff_active(bank, user_id):
    active = request.form.get("active") == "1"
    return _act(bank, user_id, lambda session, bank, user: staff.set_active(
        session, bank, user_id, active, by=user, clock=clock()),
        _("已启用") if active else _("已停用：该用户不能再登录，登录和令牌都已失效"))


@bp.post("/banks/<bank>/users/<int:user_id>/tokens")
def staff_token(bank, user_id):
    typed = request.form.get("expires_days", "").strip() or TOKEN_DAYS
    days = typed_whole(typed) if isinstance(typed, str) else typed
    return _act(bank, user_id, lambda session, bank, user: staff.issue_token(
        session, bank, user_id, expires_days=days, by=user, clock=clock()), "",
        form={"expires_days": request.form.get("expires_days", "")})


@bp.post("/banks/<bank>/users/<int:user_id>/tokens/<int:token_id>/revoke")
def staff_token_revoke(bank, user_id, token_id):
    return _act(bank, user_id, lambda session, bank, user: staff.withdraw_token(
        session, bank, user_id, token_id, by=user, clock=clock()), _("已吊销令牌 #%(id)d", id=token_id))
