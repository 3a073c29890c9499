"""Who is asking and what they may do: bearer tokens, roles, and the wall between banks."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import Flask, g, has_request_context, request
from flask_login import LoginManager
from flask_login import current_user as session_user
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ledger import audit
from ledger.audit import AuditEntry
from ledger.clock import Clock
from ledger.db import get_session, transaction
from ledger.errors import (ConflictError, Forbidden, NotFound, Unauthorized, ValidationError,
                           ZongzhiError)
from ledger.models import Bank

from .models import ROLES, ApiToken, User

#: Role groups, as the API document lists who may do what.
EVERY_ROLE = frozenset(ROLES)
READERS = frozenset({"admin", "clerk", "reviewer", "supervisor"})
WRITERS = frozenset({"admin", "clerk", "reviewer"})
REVIEWERS = frozenset({"admin", "reviewer"})
#: Who may read the audit log: the supervisor above all, and the council reviewer.
AUDITORS = frozenset({"admin", "reviewer", "supervisor"})

#: Sign-in throttling: failures allowed per name and per address within the window.
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)
#: Checked when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("no such user")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, name: str, *, bank_code: str | None, role: str,
                password: str, clock: Clock) -> User:
    """Create a user of one bank (or a county admin of every bank) with a hashed password."""
    problems = {}
    if role not in ROLES:
        problems["role"] = [f"角色须为以下之一：{', '.join(ROLES)}"]
    if not name or len(name) > 80:
        problems["name"] = ["用户名不能为空，最长 80 个字符"]
    if len(password or "") < 8:
        problems["password"] = ["密码至少 8 个字符"]
    if role != "admin" and not bank_code:
        problems["bank"] = ["除县级管理员外，用户必须属于一个银行"]
    bank = session.execute(select(Bank).where(Bank.code == bank_code)).scalar_one_or_none() \
        if bank_code else None
    if bank_code and bank is None:
        problems["bank"] = [f"银行 {bank_code} 不存在"]
    if problems:
        raise ValidationError(problems)
    with transaction(session):
        if session.execute(select(User.id).where(User.name == name)).first():
            raise ConflictError(f"用户 {name} 已存在", f"user {name} already exists", code="user_exists")
        # werkzeug's default is scrypt: memory-hard, so a stolen table is slow to crack.
        user = User(name=name, bank_id=bank.id if bank else None, role=role,
                    password_hash=generate_password_hash(password), created_at=clock.now())
        session.add(user)
    return user


def create_token(session: Session, user_name: str, *, clock: Clock) -> str:
    """Issue an API token for a user; only its hash is kept, so it is shown this once."""
    with transaction(session):
        user = session.execute(select(User).where(User.name == user_name)).scalar_one_or_none()
        if user is None:
            raise NotFound("用户", "user")
        token = secrets.token_urlsafe(32)
        session.add(ApiToken(user_id=user.id, token_hash=_digest(token), created_at=clock.now()))
    return token


def current_user() -> User:
    """Return who is asking: the bearer token's user, else the signed-in user of the screens.

    Raise Unauthorized when neither: the API answers 401, a page sends them to sign in.
    """
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    if not header:
        if request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS"):
            # The API has no CSRF tokens, so a cookie alone never lets it write: only a bearer
            # token, which another site's form cannot send.
            raise Unauthorized()
        signed_in = session_user._get_current_object() if has_request_context() else None
        if signed_in is None or not signed_in.is_authenticated:
            raise Unauthorized()
        g.user = signed_in
        return signed_in
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    session = get_session()
    user = session.execute(_USER_BY_TOKEN, {"digest": _digest(token.strip())}).scalar_one_or_none()
    if user is None:
        raise Unauthorized()
    g.user = user
    return user


# Every API request runs these two: built once, not per request.
_USER_BY_TOKEN = (select(User).join(ApiToken, ApiToken.user_id == User.id)
                  .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None),
                         User.active.is_(True)))
_BANK_BY_CODE = select(Bank).where(Bank.code == bindparam("code"))


def scoped_bank(code: str, roles: frozenset[str]) -> tuple[Bank, User]:
    """Return the bank named in the path if the user may act on it with one of `roles`.

    Another bank's, or one that does not exist, is 404 alike: existence never leaks. A bank
    the user belongs to but a role that may not do this is 403.
    """
    user = current_user()
    session = get_session()
    bank = session.execute(_BANK_BY_CODE, {"code": code}).scalar_one_or_none()
    if bank is None or (user.role != "admin" and user.bank_id != bank.id):
        raise NotFound("银行", "bank")
    if user.role not in roles:
        raise Forbidden()
    return bank, user


def check_password(session: Session, name: str, password: str) -> User | None:
    """Return the active user with this name and password, or None."""
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not user.active or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


class TooManyAttempts(ZongzhiError):
    status = 429
    code = "too_many_requests"

    def __init__(self):
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        super().__init__(f"登录失败次数过多，请 {minutes} 分钟后再试",
                         f"too many failed sign-ins, try again in {minutes} minutes")


def sign_in(session: Session, name: str, password: str, *, address: str, clock: Clock) -> User | None:
    """Check a sign-in, throttled by name and by address, and write it to the audit log.

    Return the user, or None for a wrong name or password; raise TooManyAttempts once a name
    or an address has failed too often lately, without even checking the password.
    """
    name, subject = (name or "")[:80], f"ip:{address or '?'}"[:80]
    since = clock.now() - FAILURE_WINDOW
    recent = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login_failed", AuditEntry.at > since)
    by_name = session.execute(recent.where(AuditEntry.actor == name)).scalar()
    by_address = session.execute(recent.where(AuditEntry.subject == subject)).scalar()
    if by_name >= FAILURES_PER_NAME or by_address >= FAILURES_PER_ADDRESS:
        raise TooManyAttempts()
    user = check_password(session, name, password)
    known = session.execute(select(User.bank_id).where(User.name == name)).first()
    with transaction(session):
        audit.record(session, bank_id=known[0] if known else None, actor=name,
                     action="login" if user else "login_failed", subject=subject, clock=clock)
    return user


def init_app(app: Flask) -> None:
    """Signed-in sessions for the screens (Flask-Login); the API uses bearer tokens instead."""
    manager = LoginManager(app)
    manager.login_view = "web.login"

    @manager.user_loader
    def _load(user_id: str):
        user = get_session().get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None
