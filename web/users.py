"""A bank's users managed from its screens: who may give which role, passwords, disabling, tokens.

Creating a user and issuing, listing and revoking tokens are the very functions the command
line calls (web/auth.py); this module adds what only a bank's screen needs: the wall around
the bank, and the rule that nobody gives a user powers they do not hold themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ground.audit import AuditEntry
from ground.clock import Clock
from ground.db import bank_row
from ground.errors import ConflictError, Forbidden, NotFound, ValidationError
from ground.i18n import _
from ground.tenants import Bank
from ground.unit import Unit

from .auth import (AUDITORS, DESK_READERS, EVERY_ROLE, READERS, REDEEMERS, REVIEWERS, WRITERS,
                   _digest, create_token, create_user, list_tokens, password_problem, revoke_token)
from ground.tenants import ApiToken, User, UserSession

# A user is the county's write, not a bank's ledger write: each is a ground.unit.Unit (its
# transaction and audit entries), as web/auth.py's are.

#: Who may manage a bank's users: the county admin, and the bank's council reviewer (理事).
MANAGERS = REVIEWERS
#: Who may see the list of a bank's users: the managers and the supervisor, who reads everything.
USER_READERS = AUDITORS
#: The roles a bank's own users have; `admin` is the county's and is never given from a bank.
BANK_ROLES = ("clerk", "reviewer", "supervisor", "desk")
#: Each role as the screens say it.
ROLE_NAMES = {"clerk": _("记分员"), "reviewer": _("理事"), "supervisor": _("监事"), "desk": _("兑换员"),
              "admin": _("县级管理员")}
#: Every role group the views check: a role's powers are the groups it belongs to.
ROLE_GROUPS = (EVERY_ROLE, READERS, WRITERS, REVIEWERS, AUDITORS, REDEEMERS, DESK_READERS)


def grantable_roles(manager_role: str) -> tuple[str, ...]:
    """Return the bank roles whose every power the manager holds too (a reviewer cannot make a desk)."""
    if manager_role not in MANAGERS:
        return ()
    return tuple(role for role in BANK_ROLES
                 if all(manager_role in group for group in ROLE_GROUPS if role in group))


@dataclass(frozen=True)
class StaffMember:
    """One user of a bank as its user list shows them."""

    user: User
    last_sign_in: datetime | None


def bank_users(session: Session, bank: Bank) -> list[StaffMember]:
    """Return the bank's users by name, each with their last sign-in (from the audit log)."""
    users = list(session.execute(select(User).where(User.bank_id == bank.id).order_by(User.name)).scalars())
    if not users:
        return []
    last = dict(session.execute(
        select(AuditEntry.actor, func.max(AuditEntry.at))
        .where(AuditEntry.action == "login", AuditEntry.actor.in_([u.name for u in users]))
        .group_by(AuditEntry.actor)).all())
    return [StaffMember(u, last.get(u.name)) for u in users]


def bank_user(session: Session, bank: Bank, user_id: int) -> User:
    """Return one of the bank's users; another bank's, a county admin or an unknown id is 404."""
    return bank_row(session, User, user_id, bank.id, _("找不到该用户"))


def may_manage(manager: User, user: User) -> bool:
    """Say whether the manager may act on this user: only on roles they could give themselves."""
    return user.role in grantable_roles(manager.role)


def _managed(session: Session, bank: Bank, manager: User, user_id: int) -> User:
    user = bank_user(session, bank, user_id)
    if not may_manage(manager, user):
        raise Forbidden()
    return user


def _passwords(password: str | None, again: str | None) -> dict[str, list[str]]:
    problems = {}
    if (refused := password_problem(password)) is not None:
        problems["password"] = [refused]
    elif password != again:
        problems["password_again"] = [_("两次输入的密码不一致")]
    return problems


def add_user(session: Session, bank: Bank, *, name: str, role: str, password: str | None,
             password_again: str | None, by: User, clock: Clock) -> User:
    """Create a user of this bank with a role the manager may give; the password typed twice."""
    problems = _passwords(password, password_again)
    if role == "admin":
        problems["role"] = [_("县级管理员不能在银行页面设置")]
    elif role not in BANK_ROLES:
        problems["role"] = [_("请选择角色")]
    elif role not in grantable_roles(by.role):
        problems["role"] = [_("不能给他人超出自己权限的角色")]
    name = (name or "").strip()
    if not name:
        problems["name"] = [_("请填写用户名")]
    if problems:
        raise ValidationError(problems)
    try:
        return create_user(session, name, bank_code=bank.code, role=role, password=password,
                           clock=clock, by=by.name)
    except ConflictError:
        raise ValidationError({"name": [_("该用户名已被使用")]}) from None


def reset_password(session: Session, bank: Bank, user_id: int, *, password: str | None,
                   password_again: str | None, by: User, keep: str | None = None, clock: Clock) -> User:
    """Give a user a new password and end their signed-in sessions (but the caller's own, `keep`)."""
    user = _managed(session, bank, by, user_id)
    problems = _passwords(password, password_again)
    if problems:
        raise ValidationError(problems)
    with Unit(session, by=by.name, clock=clock) as unit:
        user.password_hash = generate_password_hash(password)
        _end_sessions(session, user, clock, keep=keep)
        unit.audit("password_reset", f"user:{user.id}", {"user": user.name}, bank_id=bank.id)
    return user


def set_active(session: Session, bank: Bank, user_id: int, active: bool, *, by: User,
               clock: Clock) -> User:
    """Disable a user (sessions end, tokens revoked, no more sign-in) or enable them again.

    Nobody disables themselves, so a bank cannot lock out its last manager by a slip.
    """
    user = _managed(session, bank, by, user_id)
    if user.id == by.id and not active:
        raise ConflictError(_("不能停用自己"), code="self_disable")
    if user.active == active:
        return user
    with Unit(session, by=by.name, clock=clock) as unit:
        user.active = active
        revoked = []
        if not active:
            _end_sessions(session, user, clock)
            now = clock.now()
            for token in session.execute(select(ApiToken).where(
                    ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))).scalars():
                token.revoked_at = now
                revoked.append(token.id)
        unit.audit("user_enable" if active else "user_disable", f"user:{user.id}",
                   {"user": user.name, "revoked": revoked}, bank_id=bank.id)
    return user


def _end_sessions(session: Session, user: User, clock: Clock, *, keep: str | None = None) -> None:
    ending = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep:
        ending = ending.where(UserSession.secret_hash != _digest(keep))
    session.execute(ending.values(ended_at=clock.now()), execution_options={"synchronize_session": False})


@dataclass(frozen=True)
class TokenRow:
    """One token as a user's page lists it: its dates and its state, never its secret."""

    token: ApiToken
    #: "active", "revoked" or "expired".
    state: str


def user_tokens(session: Session, bank: Bank, user: User, *, clock: Clock) -> list[TokenRow]:
    """Return one of the bank's users' tokens, newest first (never a secret)."""
    now = clock.now()
    rows = []
    for token in reversed(list_tokens(session, bank_user(session, bank, user.id).name)):
        expires = token.expires_at if token.expires_at.tzinfo else token.expires_at.replace(tzinfo=timezone.utc)
        state = "revoked" if token.revoked_at else ("expired" if expires <= now else "active")
        rows.append(TokenRow(token, state))
    return rows


def issue_token(session: Session, bank: Bank, user_id: int, *, expires_days: int, by: User,
                clock: Clock) -> str:
    """Issue an API token for one of the bank's active users; return it, shown this once."""
    user = _managed(session, bank, by, user_id)
    if not user.active:
        raise ConflictError(_("已停用的用户不能发放令牌"), code="user_disabled")
    return create_token(session, user.name, clock=clock, expires_days=expires_days, by=by.name)


def withdraw_token(session: Session, bank: Bank, user_id: int, token_id: int, *, by: User,
                   clock: Clock) -> ApiToken:
    """Revoke one of a bank user's tokens at once; another user's token is 404."""
    user = _managed(session, bank, by, user_id)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("找不到该令牌"))
    return revoke_token(session, token.id, clock=clock, by=by.name)
