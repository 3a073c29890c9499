"""A card's address (/c/<token>): the card a token opens, or the page that refuses it.

Every page under the address answers a bad token alike, whichever package serves it: the card's
own page (cards/views.py) and its activities and reports (field/pages.py).
"""
from __future__ import annotations

from flask import render_template, request

from ground.db import get_session
from web.throttle import throttle

from . import services


def card_or_refusal(token: str, session=None):
    """Return (card, None) or (None, refusal response).

    A valid card always opens, whatever its address did before: a village behind one carrier
    address must not be locked out by one guesser among them. Only unknown tokens count, and
    past the limit they answer 429. The wall against guessing is the token itself (128 bits
    and more, so a miss teaches a guesser nothing); the count marks an address that keeps
    missing, and never stands in a resident's way.
    """
    card = services.find_card(session or get_session(), token)
    if card is not None:
        return card, None
    wait = throttle().card_miss(request.remote_addr or "?")
    if wait:
        return None, (render_template("cards/missing.html", limited=True), 429,
                      {"Retry-After": str(wait)})
    return None, (render_template("cards/missing.html", limited=False), 404)
