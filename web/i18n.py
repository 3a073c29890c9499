"""The reader's language, and Chinese for the validation messages marshmallow writes in English."""
from __future__ import annotations

import re

from flask import has_request_context, request

LANGUAGES = ("zh", "en")

_MESSAGES = [
    (r"Missing data for required field\.", "缺少必填字段"),
    (r"Unknown field\.", "未知字段"),
    (r"Not a valid integer\.", "须为整数"),
    (r"Not a valid string\.", "须为文本"),
    (r"Not a valid date\.", "须为 YYYY-MM-DD 格式的日期"),
    (r"Not a valid list\.", "须为列表"),
    (r"Not a valid boolean\.", "须为 true 或 false"),
    (r"Invalid input type\.", "输入类型错误"),
    (r"Field may not be null\.", "不能为空"),
    (r"Invalid value\.", "取值无效"),
    (r"Must be one of: (.*)\.", r"须为以下之一：\1"),
    (r"Must be greater than or equal to (\S+)\.?", r"须不小于 \1"),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", r"须在 \1 与 \2 之间"),
    (r"Must be less than or equal to (\S+)\.", r"须不大于 \1"),
    (r"Shorter than minimum length (\d+)\.", r"长度不能少于 \1"),
    (r"Longer than maximum length (\d+)\.", r"长度不能超过 \1"),
    (r"Length must be between (\d+) and (\d+)\.", r"长度须在 \1 到 \2 之间"),
    (r"String does not match expected pattern\.", "格式不正确"),
    (r"Must be a positive integer\.", "须为正整数"),
    (r"Must not be blank\.", "不能为空白"),
]
_COMPILED = [(re.compile("^" + en + "$"), zh) for en, zh in _MESSAGES]


def language() -> str:
    """Return the request's language: Chinese unless the client prefers English."""
    if not has_request_context():
        return "zh"
    asked = request.args.get("lang") or request.accept_languages.best_match(LANGUAGES, default="zh")
    return "en" if asked == "en" else "zh"


def to_chinese(message: str) -> str:
    """Translate one of marshmallow's English messages; leave anything else as it is."""
    for pattern, zh in _COMPILED:
        if pattern.match(message):
            return pattern.sub(zh, message)
    return message


def translate_fields(fields, lang: str):
    """Translate the messages in a (possibly nested) field-error mapping."""
    if lang == "en":
        return fields
    if isinstance(fields, dict):
        return {str(k): translate_fields(v, lang) for k, v in fields.items()}
    if isinstance(fields, list):
        return [translate_fields(v, lang) for v in fields]
    return to_chinese(fields) if isinstance(fields, str) else fields
