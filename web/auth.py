"""Who is asking and what they may do: bearer tokens, signed-in sessions, roles, and the wall between banks."""
from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

from flask import Flask, current_app, g, has_request_context, request
from flask import session as flask_session
from flask_login import LoginManager
from flask_login import current_user as session_user
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ground.clock import Clock
from ground.db import get_session
from ground.errors import (ConflictError, Forbidden, NotFound, Unauthorized, ValidationError, ZongzhiError)
from ground.i18n import _
from ground.store import Prepared, detached
from ground.tenants import Bank
from ground.unit import Unit
from rules import bounds

from ground.tenants import ROLES, ApiToken, User, UserSession
from .throttle import ACCOUNT, ADDRESS, Throttle

# Users, tokens and sessions are the county's writes, not a bank's ledger writes: each is a
# ground.unit.Unit (its transaction and audit entries), without the bank's posting lock.

#: Role groups, as the API document lists who may do what.
EVERY_ROLE = frozenset(ROLES)
READERS = frozenset({"admin", "clerk", "reviewer", "supervisor"})
WRITERS = frozenset({"admin", "clerk", "reviewer"})
REVIEWERS = frozenset({"admin", "reviewer"})
#: Who may read the audit log: the supervisor above all, and the council reviewer.
AUDITORS = frozenset({"admin", "reviewer", "supervisor"})
#: Who may hand out goods: the desk operator (and the county admin, who may do anything).
REDEEMERS = frozenset({"admin", "desk"})
#: Who may read the desk's figures: the readers and the desk.
DESK_READERS = READERS | {"desk"}

#: An API token's life: a year unless its issuer says otherwise, ten years at most.
TOKEN_DAYS = 365
TOKEN_DAYS_MAX = 3650
#: A token's last use is written when the one on record is older than this, not on every request.
LAST_USED_EVERY = timedelta(hours=1)
#: Where the Flask session carries the secret of its server-side session record.
SESSION_SECRET = "_zongzhi_session"
#: A password's length: at least this many characters (the command line and the screens alike),
#: and a bound on what is hashed, so a megabyte typed into the field costs nothing.
PASSWORD_MIN = 8
PASSWORD_MAX = 256


@functools.cache
def _dummy_hash() -> str:
    """Checked when the name is unknown, so a wrong name costs as long as a wrong password.

    Made once, when the app starts (`init_app`): the command line never needs it.
    """
    return generate_password_hash("no such user")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_problem(password: str | None):
    """Return why a new password is refused (too short, too long, control characters), or None."""
    if len(password or "") < PASSWORD_MIN:
        return _("密码至少 %(n)s 个字符", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _("密码最长 %(n)s 个字符", n=PASSWORD_MAX)
    if bounds.text_problem(password, max_len=PASSWORD_MAX):
        return _("密码不能含控制字符")
    return None


def create_user(session: Session, name: str, *, bank_code: str | None, role: str,
                password: str, clock: Clock, by: str = "cli") -> User:
    """Create a user of one bank (or a county admin of every bank) with a hashed password."""
    problems = {}
    if role not in ROLES:
        problems["role"] = [_("角色须为以下之一：%(roles)s", roles=", ".join(ROLES))]
    if bounds.text_problem(name or "", max_len=80):
        problems["name"] = [_("用户名不能为空，最长 80 个字符，不能含控制字符")]
    if (refused := password_problem(password)) is not None:
        problems["password"] = [refused]
    if role != "admin" and not bank_code:
        problems["bank"] = [_("除县级管理员外，用户必须属于一个银行")]
    bank = session.execute(select(Bank).where(Bank.code == bank_code)).scalar_one_or_none() \
        if bank_code else None
    if bank_code and bank is None:
        problems["bank"] = [_("银行 %(code)s 不存在", code=bank_code)]
    if problems:
        raise ValidationError(problems)
    with Unit(session, by=by, clock=clock) as unit:
        if session.execute(select(User.id).where(User.name == name)).first():
            raise ConflictError(_("用户 %(name)s 已存在", name=name), code="user_exists")
        # werkzeug's default is scrypt: memory-hard, so a stolen table is slow to crack.
        user = User(name=name, bank_id=bank.id if bank else None, role=role,
                    password_hash=generate_password_hash(password), created_at=clock.now())
        session.add(user)
        session.flush()
        unit.audit("user_create", f"user:{user.id}", {"user": user.name, "role": role},
                   bank_id=user.bank_id)
    return user


def create_token(session: Session, user_name: str, *, clock: Clock, expires_days: int = TOKEN_DAYS,
                 by: str = "cli") -> str:
    """Issue an API token for a user, valid for `expires_days`; only its hash is kept, so it is shown this once."""
    if isinstance(expires_days, bool) or not isinstance(expires_days, int) \
            or bounds.whole_problem(expires_days, max=TOKEN_DAYS_MAX):
        raise ValidationError({"expires_days": [_("须为 1 到 %(max)s 之间的整数", max=TOKEN_DAYS_MAX)]})
    with Unit(session, by=by, clock=clock) as unit:
        user = _user_named(session, user_name)
        token, now = secrets.token_urlsafe(32), clock.now()
        issued = ApiToken(user_id=user.id, token_hash=_digest(token), created_at=now,
                          expires_at=now + timedelta(days=expires_days))
        session.add(issued)
        session.flush()
        unit.audit("token_create", f"token:{issued.id}",
                   {"user": user.name, "expires_at": issued.expires_at}, bank_id=user.bank_id)
    return token


def list_tokens(session: Session, user_name: str) -> list[ApiToken]:
    """Return a user's tokens, oldest first: their ids and dates, never a secret."""
    user = _user_named(session, user_name)
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.id)).scalars())


def revoke_token(session: Session, token_id: int, *, clock: Clock, by: str = "cli") -> ApiToken:
    """Revoke a token at once: the next request that carries it answers 401.

    Revoking a revoked token changes nothing and keeps the first revocation's time.
    """
    with Unit(session, by=by, clock=clock) as unit:
        token = None if bounds.whole_problem(token_id) else session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(_("找不到该令牌"))
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            user = session.get(User, token.user_id)
            unit.audit("token_revoke", f"token:{token.id}", {"user": user.name}, bank_id=user.bank_id)
    return token


def _user_named(session: Session, name: str) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(_("找不到该用户"))
    return user


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
    return _token_user(header)[0]


def _token_user(header: str, bank_code: str | None = None) -> tuple[User, Bank | None]:
    """Return the bearer token's user (noted as `current_user`) and, with `bank_code`, the bank
    of that code (None if there is none): one statement, read afresh on every request, so a
    revoked or expired token or a deactivated user is refused at once.

    It is read on a connection of its own, outside the request's session (`Prepared.read_alone`):
    a deed's write transaction is then the session's first, and no read transaction is begun and
    committed before it. The user and the bank come back as instances let go of any session
    (`detached`); a session that needs them takes them as the rows they are.
    """
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    now = current_app.extensions["zongzhi.clock"].now()
    found = _TOKEN_READ.read_alone(current_app.extensions["zongzhi.engine"],
                                   {"digest": _digest(token.strip()), "now": now, "code": bank_code})
    if not found:
        raise Unauthorized()
    row = found[0]._asdict()
    user = detached(User, {key: row["u_" + key] for key in _USER_KEYS})
    bank = detached(Bank, {key: row["b_" + key] for key in _BANK_KEYS}) if row["b_id"] is not None else None
    if row["t_last_used"] is None or row["t_last_used"] <= now - LAST_USED_EVERY:
        _note_use(get_session(), row["t_id"], now)
    g.user = user
    return user, bank


def _note_use(session: Session, token_id: int, now) -> None:
    # At most once an hour per token: a short write of its own, so a read stays a read and a
    # deed's transaction carries nothing extra. Two requests racing here both write the same hour.
    with Unit(session, by=None, clock=None):
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now),
                        execution_options={"synchronize_session": False})


_USER_KEYS = [prop.key for prop in sa_inspect(User).column_attrs]
_BANK_KEYS = [prop.key for prop in sa_inspect(Bank).column_attrs]
# Every API request runs this, built and compiled once: the token's user, its id and last use,
# and (when the path names one) the bank of that code, in one round trip.
_TOKEN_READ = Prepared(
    select(*[getattr(User, key).label("u_" + key) for key in _USER_KEYS],
           ApiToken.id.label("t_id"), ApiToken.last_used_at.label("t_last_used"),
           *[getattr(Bank, key).label("b_" + key) for key in _BANK_KEYS])
    .select_from(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .outerjoin(Bank, Bank.code == bindparam("code"))
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None),
           ApiToken.expires_at > bindparam("now"), User.active.is_(True)),
    typed=True)
_BANK_BY_CODE = select(Bank).where(Bank.code == bindparam("code"))


def scoped_bank(code: str, roles: frozenset[str]) -> tuple[Bank, User]:
    """Return the bank named in the path if the user may act on it with one of `roles`.

    Another bank's, or one that does not exist, is 404 alike: existence never leaks. A bank
    the user belongs to but a role that may not do this is 403.
    """
    header = request.headers.get("Authorization", "")
    if header and "user" not in g:
        user, bank = _token_user(header, code)
    else:
        user = current_user()
        bank = get_session().execute(_BANK_BY_CODE, {"code": code}).scalar_one_or_none()
    if bank is None or (user.role != "admin" and user.bank_id != bank.id):
        raise NotFound(_("找不到该银行"))
    if user.role not in roles:
        raise Forbidden()
    return bank, user


def check_password(session: Session, name: str, password: str) -> User | None:
    """Return the active user with this name and password, or None."""
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not user.active or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


class TooManyAttempts(ZongzhiError):
    status = 429
    code = "too_many_requests"

    def __init__(self, seconds: int):
        self.retry_after = seconds
        super().__init__(_("登录失败次数过多，请 %(n)s 秒后再试", n=seconds))


def sign_in(session: Session, name: str, password: str, *, address: str, throttle: Throttle,
            lifetime: timedelta, clock: Clock) -> tuple[User, str] | None:
    """Check a sign-in, slowed by name and by address; open its session and write it to the audit log.

    Return the user and the secret of the new session, or None for a wrong name or password.
    After repeated failures the next attempt must wait a short, growing delay (TooManyAttempts,
    without checking the password); once it has passed, the right password signs in, and a
    success forgets the name's failures.
    """
    # A name no user can have (control characters, NUL, over-long) is a failure like any wrong
    # name, written to the log escaped: it must never reach the database as it was typed.
    impossible = bounds.text_problem(name or "", max_len=80) is not None
    name = ascii(name or "")[1:-1][:80] if impossible else name
    address = (address or "?")[:80]
    now = clock.now().timestamp()
    wait = max(throttle.wait(ACCOUNT, name, now), throttle.wait(ADDRESS, address, now))
    if wait:
        raise TooManyAttempts(wait)
    user = None if impossible else check_password(session, name, password)
    known = None if impossible else session.execute(select(User.bank_id).where(User.name == name)).first()
    with Unit(session, by=name, clock=clock) as unit:
        unit.audit("login" if user else "login_failed", f"ip:{address}",
                   bank_id=known[0] if known else None)
        secret = _open_session(session, user, lifetime, clock) if user else None
    if user is None:
        throttle.failed(ACCOUNT, name, now)
        throttle.failed(ADDRESS, address, now)
        return None
    throttle.forget(ACCOUNT, name)
    return user, secret


def start_session(session: Session, user: User, *, lifetime: timedelta, clock: Clock) -> str:
    """Open a signed-in session for the user; return the secret its cookie carries."""
    with Unit(session, by=user.name, clock=clock):
        return _open_session(session, user, lifetime, clock)


def _open_session(session: Session, user: User, lifetime: timedelta, clock: Clock) -> str:
    # The user's ended and expired sessions are cleared away as a new one opens.
    secret, now = secrets.token_urlsafe(32), clock.now()
    session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.ended_at.is_not(None), UserSession.expires_at <= now)))
    session.add(UserSession(user_id=user.id, secret_hash=_digest(secret), created_at=now,
                            expires_at=now + lifetime))
    return secret


def sign_out(session: Session, user: User | None, secret: str | None, *, clock: Clock) -> None:
    """End the signed-in session with this secret and write it to the audit log.

    A copy of its cookie no longer signs anyone in; the user's other sessions go on.
    """
    with Unit(session, by=user.name if user is not None else None, clock=clock) as unit:
        if user is not None:
            unit.audit("logout", bank_id=user.bank_id)
        if secret:
            session.execute(update(UserSession).where(UserSession.secret_hash == _digest(secret),
                                                      UserSession.ended_at.is_(None))
                            .values(ended_at=clock.now()), execution_options={"synchronize_session": False})


_USER_BY_SESSION = (select(User).join(UserSession, UserSession.user_id == User.id)
                    .where(User.id == bindparam("user_id"), UserSession.secret_hash == bindparam("digest"),
                           UserSession.ended_at.is_(None), UserSession.expires_at > bindparam("now"),
                           User.active.is_(True)))


def init_app(app: Flask) -> None:
    """Signed-in sessions for the screens (Flask-Login, each one on record); the API uses bearer tokens."""
    _dummy_hash()
    manager = LoginManager(app)
    manager.login_view = "web.login"

    @manager.user_loader
    def _load(user_id: str):
        # The cookie alone is not enough: its session must still be open on the server.
        secret = flask_session.get(SESSION_SECRET)
        number = bounds.parse_whole(user_id)
        if not secret or not isinstance(secret, str) or number is None:
            return None
        return get_session().execute(_USER_BY_SESSION, {
            "user_id": number, "digest": _digest(secret),
            "now": app.extensions["zongzhi.clock"].now()}).scalar_one_or_none()
