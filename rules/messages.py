"""Chinese for the validation messages marshmallow writes in English."""
from __future__ import annotations

import re

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
    (r"Must not be zero\.", "不能为 0"),
    (r"Not a valid time\.", "须为 HH:MM 格式的时间"),
    (r"Must not contain control characters or unpaired surrogates\.", "不能含控制字符或不成对的代理字符"),
    (r"Not a valid mapping type\.", "须为键值映射"),
    (r"Must be a date from (\S+) to (\S+)\.", r"须为 \1 至 \2 之间的日期（YYYY-MM-DD）"),
    (r"Must not be later than today \((\S+)\)\.", r"日期不能晚于今天（\1）"),
    (r"Must not be before (\S+) \(at most (\d+) days back\)\.", r"不能早于 \1（最多补登 \2 天前的记录）"),
    (r"Month (\S+) is sealed\.", r"\1 已封账"),
]
_COMPILED = [(re.compile("^" + en + "$"), zh) for en, zh in _MESSAGES]



def to_chinese(message: str) -> str:
    """Translate one of marshmallow's English messages; leave anything else as it is."""
    for pattern, zh in _COMPILED:
        if pattern.match(message):
            return pattern.sub(zh, message)
    return message
