"""The tenant tables: banks, the users of the office screens and the API, their bearer tokens and
their signed-in sessions."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

ROLES = ("admin", "clerk", "reviewer", "supervisor", "desk")
#: The hash before a bank's first transfer.
GENESIS_HASH = "0" * 64


class Bank(SQLModel, table=True):
    __tablename__ = "banks"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=100)
    #: Head of the bank's hash chain: the last sequence number posted and its hash.
    head_seq: int = Field(default=0, sa_type=BigInteger)
    head_hash: str = Field(default=GENESIS_HASH, max_length=64)
    created_at: datetime


class UserMixin:
    """What Flask-Login asks of a user (its own UserMixin, which would load all of Flask with the
    tables: the command line reads them without it). Users are equal when their ids are."""

    __hash__ = object.__hash__

    @property
    def is_active(self) -> bool:
        return True

    @property
    def is_authenticated(self) -> bool:
        return self.is_active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __eq__(self, other):
        return self.get_id() == other.get_id() if isinstance(other, UserMixin) else NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal


class User(UserMixin, SQLModel, table=True):
    __tablename__ = "users"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True, index=True)
    #: None for a county admin, who sees every bank.
    bank_id: Optional[int] = Field(default=None, foreign_key="banks.id", index=True)
    role: str = Field(max_length=12)
    password_hash: str = Field(default="", max_length=255)
    active: bool = True
    created_at: datetime


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    #: sha256 of the token; the token itself is shown once and never stored.
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    #: A token stops working at this moment, whatever happens to its user.
    expires_at: datetime
    revoked_at: Optional[datetime] = None
    #: When it was last used, to the hour: written only when stale, never on every request.
    last_used_at: Optional[datetime] = None


class UserSession(SQLModel, table=True):
    """A signed-in session of the screens, so that signing out ends it on the server.

    The browser's cookie carries a random secret; only its hash is kept. A copy of the cookie
    stops working when its session ends, and the user's other sessions (another desk, a phone)
    go on.
    """

    __tablename__ = "user_sessions"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    #: sha256 of the secret in the cookie.
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    expires_at: datetime
    ended_at: Optional[datetime] = None
