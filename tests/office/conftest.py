"""Fixtures for the office screens: a village, its users, and a signed-in test client."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def village(make):
    """A bank with two households, four residents, and a user of every role."""
    bank = make.bank()
    east, west = make.household(bank, "E01", "王家"), make.household(bank, "W01", "曾家")
    people = {n: make.resident(bank, n, h, phone=p) for n, h, p in (
        ("王大", east, "13812345678"), ("王二", east, None), ("曾三", west, None), ("李四", west, None))}
    users = {role: make.user(bank, role, name=f"hp-{role}")
             for role in ("clerk", "reviewer", "supervisor", "desk")}
    users["admin"] = make.user(None, "admin", name="county")
    return {"bank": bank, "east": east, "west": west, "people": people, "users": users}


class Desk:
    """A test client signed in as one user, which sends the CSRF token with every form."""

    def __init__(self, client, token_from: str = "/"):
        self.client = client
        self._token = None
        self._token_from = token_from

    @property
    def token(self) -> str:
        if self._token is None:
            page = self.client.get(self._token_from).get_data(as_text=True)
            self._token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return self._token

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)


@pytest.fixture
def sign_in(signed_in):
    """Return a signed-in client for a user (a fresh client each time)."""
    return lambda user: Desk(signed_in(user))


@pytest.fixture
def clerk(sign_in, village):
    return sign_in(village["users"]["clerk"])


def text(answer) -> str:
    return answer.get_data(as_text=True)
