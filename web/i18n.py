"""The reader's language, and field messages translated for it."""
from __future__ import annotations

from flask import has_request_context, request

from rules.messages import to_chinese

LANGUAGES = ("zh", "en")


def language() -> str:
    """Return the request's language: Chinese unless the client prefers English."""
    if not has_request_context():
        return "zh"
    asked = request.args.get("lang") or request.accept_languages.best_match(LANGUAGES, default="zh")
    return "en" if asked == "en" else "zh"


def translate_fields(fields, lang: str):
    """Translate the messages in a (possibly nested) field-error mapping."""
    if lang == "en":
        return fields
    if isinstance(fields, dict):
        return {str(k): translate_fields(v, lang) for k, v in fields.items()}
    if isinstance(fields, list):
        return [translate_fields(v, lang) for v in fields]
    return to_chinese(fields) if isinstance(fields, str) else fields
