"""The reader's language: Chinese by default, English on request; Flask-Babel for the screens."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel

from ground.i18n import LOCALES, is_message, render

LANGUAGES = ("zh", "en")
#: The cookie a page's language switch sets.
COOKIE = "lang"
ROOT = Path(__file__).resolve().parent.parent


def language() -> str:
    """Return the request's language: ?lang=, then the page's switch, then (API) Accept-Language.

    Screens and paper are Chinese unless someone switches; a browser's English preference
    alone does not change a village office's screens, nor the paper it prints (a .pdf, even
    one the API serves).
    """
    return _asked(accept=not (has_request_context() and request.path.endswith(".pdf")))


def answer_language() -> str:
    """Return the language of the API's JSON answers, its errors included: ?lang=, the switch,
    then Accept-Language, on every address under /api/ (a .pdf's refusal as well)."""
    return _asked(accept=True)


def _asked(*, accept: bool) -> str:
    if not has_request_context():
        return "zh"
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    if not asked and accept and request.path.startswith("/api/"):
        asked = preferred(request.accept_languages)
    return "en" if asked == "en" else "zh"


def preferred(accepted) -> str:
    """Return the language of ours the reader ranks highest in an Accept-Language header: each
    tag by its primary language ("zh-CN", "zh-Hant-TW" are Chinese, "en-GB" English), so a
    Chinese browser that lists English as a fallback reads Chinese. None of ours, or "*": zh."""
    for tag, quality in accepted:  # werkzeug lists them by quality, highest first
        primary = tag.replace("_", "-").split("-", 1)[0].lower()
        if quality > 0 and primary in LANGUAGES:
            return primary
    return "zh"


def babel_locale() -> str:
    return LOCALES[language()]


class MessagesJSON(DefaultJSONProvider):
    """Flask's JSON, writing a message (`ground.i18n._`) as its text in the reader's language."""

    @staticmethod
    def default(o):
        return str(o) if is_message(o) else DefaultJSONProvider.default(o)


def init_app(app: Flask) -> None:
    """Set up Flask-Babel over every package's translations, and the page's language switch."""
    directories = sorted(str(p) for p in ROOT.glob("*/translations") if p.is_dir())
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LOCALES["zh"])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(directories) or "translations")
    Babel(app, locale_selector=babel_locale)
    plain, app.json = app.json, MessagesJSON(app)
    app.json.ensure_ascii, app.json.sort_keys, app.json.compact = plain.ensure_ascii, plain.sort_keys, plain.compact

    @app.after_request
    def _remember_switch(response):
        asked = request.args.get("lang")
        if asked in LANGUAGES and not request.path.startswith("/api/"):
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax",
                                httponly=True)
        return response

    @app.context_processor
    def _language():
        return {"lang": language()}


def translate_fields(fields, lang: str | None = None):
    """Return a (possibly nested) field-error mapping with every message as text in `lang`
    (by default the reader's language)."""
    return render(fields, lang)
