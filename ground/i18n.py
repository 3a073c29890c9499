"""Messages in the reader's language: gettext strings whose msgid is the Chinese text.

Every message a person reads, an error's, a field's reason or a screen's words, is written once,
in Chinese, as `_("找不到该居民")` or `_("还可得 %(left)d 分", left=left)`: a lazy gettext string
that becomes text only where it is shown, in the language of whoever reads it. That is
Flask-Babel's locale: Accept-Language on the API, the language switch on screens (web/i18n.py),
and Chinese outside a request (the command line, the cycle's jobs). The English is in each
package's translations/en/LC_MESSAGES/messages.po, compiled to .mo by `make setup`.

Only Flask-Babel lies beneath: every floor, `rules/` too, marks its messages with `_` from here.
Flask-Babel (and so Flask) is imported when a message is first rendered, not when one is made:
a command that reads the database (`zongzhi verify`) and never fails starts without Flask.
"""
from __future__ import annotations

import sys

#: The languages a reader may choose, and the locale Flask-Babel knows each by.
LOCALES = {"zh": "zh_Hans_CN", "en": "en"}


class Message:
    """A lazy gettext string: Flask-Babel's `LazyString` in behaviour (it acts as the text it
    renders to), but text to a template, which escapes it like any other, rather than markup
    (a message may hold what someone typed), and made without importing Flask."""

    __slots__ = ("_func", "_args", "_kwargs")

    def __init__(self, func, *args, **kwargs):
        self._func, self._args, self._kwargs = func, args, kwargs

    def __str__(self) -> str:
        return str(self._func(*self._args, **self._kwargs))

    def __getattr__(self, attr):
        # str's methods (format, startswith ...), on the rendered text; never __html__.
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(str(self), attr)

    def __repr__(self) -> str:
        return f"l'{self}'"

    def __len__(self) -> int:
        return len(str(self))

    def __getitem__(self, key):
        return str(self)[key]

    def __iter__(self):
        return iter(str(self))

    def __contains__(self, item) -> bool:
        return item in str(self)

    def __add__(self, other):
        return str(self) + other

    def __radd__(self, other):
        return other + str(self)

    def __mod__(self, other):
        return str(self) % other

    def __eq__(self, other) -> bool:
        return str(self) == other

    def __lt__(self, other) -> bool:
        return str(self) < other

    def __hash__(self) -> int:
        return hash(str(self))


def _gettext(msgid: str, **values) -> str:
    babel = sys.modules.get("flask_babel")
    if babel is None:
        # No app was ever built in this process (a command reading the database): no request,
        # no catalogue, the Chinese msgid itself, as Flask-Babel renders outside an app.
        return msgid % values if values else msgid
    return babel.gettext(msgid, **values)


def _(msgid: str, **values) -> Message:
    """Return a message to show later: `msgid` in Chinese, with %(name)s placeholders filled
    from `values` after translation (values may be messages themselves)."""
    return Message(_gettext, msgid, **values)


def as_record(message) -> dict:
    """Return a message as data to keep (its msgid and values), to be shown later in whichever
    language its reader reads; anything else (text, a message written some other way) as its
    Chinese text."""
    if isinstance(message, Message) and message._func is _gettext and len(message._args) == 1:
        return {"msgid": message._args[0],
                "values": {k: as_record(v) if is_message(v) else v for k, v in message._kwargs.items()}}
    return {"text": str(render(message, "zh"))}


def from_record(record: dict):
    """Return the message `as_record` kept (or its text)."""
    if "msgid" in record:
        return _(record["msgid"], **{k: from_record(v) if isinstance(v, dict) else v
                                     for k, v in record.get("values", {}).items()})
    return record.get("text", "")


def in_language(write) -> Message:
    """Return text written by `write(lang)` ("zh" or "en") when it is shown, in the language it
    is shown in: a month or a date inside a message (`formatting.month(2026, 11, lang)`)."""
    return Message(lambda: write(current_language()))


def is_message(value) -> bool:
    """Say whether `value` is a message still to be rendered (rather than plain text)."""
    if isinstance(value, Message):
        return True
    # lazy_gettext's strings, on the screens' own labels: only where Flask-Babel is loaded.
    babel = sys.modules.get("flask_babel")
    return babel is not None and isinstance(value, babel.LazyString)


def current_language() -> str:
    """Return the language messages render in now: "en" or "zh" (outside a request, "zh")."""
    babel = sys.modules.get("flask_babel")
    locale = babel.get_locale() if babel is not None else None
    return "en" if locale is not None and locale.language == "en" else "zh"


def render(value, lang: str | None = None):
    """Return a message, or every message in a (nested) mapping or list, as plain text.

    In `lang` ("zh" or "en") when given, else in the current request's language; anything
    that is not a message (a number, text already written) is left as it is.
    """
    if lang is not None and (lang != "zh" or "flask_babel" in sys.modules):
        from flask_babel import force_locale
        with force_locale(LOCALES.get(lang, LOCALES["zh"])):
            return render(value)
    if isinstance(value, dict):
        return {str(k): render(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v) for v in value]
    if is_message(value):
        return str(value)
    return value
