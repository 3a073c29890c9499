"""Reading a rule file: YAML with line numbers, the schema, then the checks across rules.

Problems are values that know their file and line; they are all collected and reported at
once, and nothing is built from a file that has any.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import yaml
from marshmallow import ValidationError as SchemaError

from ground.i18n import _

from .model import (CAP_PERIODS, DEFAULT_CATEGORIES, Criterion, Cycle, Foundation, Rule, RuleBook,
                    Settings, Title)
from .schemas import RuleFileSchema

MAX_BYTES = 1_000_000
#: How deep a rule file's mappings and lists may nest: the deepest the schema knows is four.
MAX_DEPTH = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule file, and where; the message a gettext string, rendered in
    the reader's language (Chinese on the command line)."""

    source: str
    line: int
    field: str
    message: object

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


class RuleFileInvalid(Exception):
    """A rule file with problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def read_file(path, source: str | None = None) -> str:
    """Return a rule file's text, read no further than MAX_BYTES, or raise RuleFileInvalid
    saying why it cannot be read: missing, a folder, too large, or not UTF-8 text."""
    source = source or str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise RuleFileInvalid([Problem(source, 1, "file", _("是文件夹，不是规则文件"))]) from None
    except OSError as err:
        raise RuleFileInvalid([Problem(source, 1, "file", _("无法读取：%(why)s",
                                                             why=err.strerror or str(err)))]) from None
    if len(raw) > MAX_BYTES:
        raise RuleFileInvalid([Problem(source, 1, "file", _("规则文件超过 %(n)s 字节", n=MAX_BYTES))])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise RuleFileInvalid([Problem(source, line, "file", _("不是 UTF-8 编码的文本"))]) from None


def check(text: str, source: str = "<rules>") -> list[Problem]:
    """Return every problem of a rule file, or an empty list if it is valid."""
    try:
        parse(text, source)
    except RuleFileInvalid as invalid:
        return invalid.problems
    return []


def parse(text: str, source: str = "<rules>") -> RuleBook:
    """Read a rule file into a RuleBook, or raise RuleFileInvalid listing every problem."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise RuleFileInvalid([Problem(source, 1, "file", _("规则文件超过 %(n)s 字节", n=MAX_BYTES))])
    try:
        _plain_structure(text, source)
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        what = getattr(err, "problem", None) or str(err)
        raise RuleFileInvalid([Problem(source, mark.line + 1 if mark else 1, "yaml",
                                       _("YAML 格式错误：%(what)s", what=what))]) from None
    if not isinstance(data, dict):
        raise RuleFileInvalid([Problem(source, 1, "file",
                                       _("规则文件须为包含 rules 的 YAML 映射"))])
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    _walk(root, "", lines, problems, source)
    try:
        loaded = RuleFileSchema().load(data)
    except SchemaError as err:
        problems += [Problem(source, _line_of(path, lines), path, message)
                     for path, message in _flatten(err.normalized_messages())]
        loaded = None
    problems += _cross_check(data, lines, source)
    if problems:
        problems.sort(key=lambda p: (p.line, p.field))
        raise RuleFileInvalid(problems)
    return _build(loaded, text, lines)


def _plain_structure(text: str, source: str) -> None:
    """Refuse, from YAML's events and before anything is built, what would make building it
    run away: an alias (*name), which may stand for a whole tree again and again (a few hundred
    bytes that unfold to gigabytes), and nesting deeper than MAX_DEPTH. A rule file needs
    neither. A syntax error raises YAMLError, with its line, as composing would."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise RuleFileInvalid([Problem(source, event.start_mark.line + 1, "yaml",
                                           _("规则文件不能使用 YAML 别名（*%(name)s）", name=event.anchor))])
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise RuleFileInvalid([Problem(source, event.start_mark.line + 1, "yaml",
                                               _("嵌套超过 %(n)s 层", n=MAX_DEPTH))])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, but a date that does not exist (2026-13-01) stays text for the schema."""

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _walk(node, path: str, lines: dict[str, int], problems: list[Problem], source: str) -> None:
    """Record the line of every path (rules[0].points) and catch keys written twice."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            name = str(key.value)
            child = f"{path}.{name}" if path else name
            if name in seen:
                problems.append(Problem(source, key.start_mark.line + 1, child, _("同一字段写了两次")))
            seen.add(name)
            _walk(value, child, lines, problems, source)
            # A problem with a field points at its key's line, where a reader looks for it.
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{path}[{i}]", lines, problems, source)


def _line_of(path: str, lines: dict[str, int]) -> int:
    # A missing field has no line of its own: use the nearest thing that encloses it.
    while path not in lines and path:
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get(path, 1)


def _flatten(messages, path: str = ""):
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                child = f"{path}[{key}]"
            elif key == "_schema":
                child = path
            else:
                child = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, child)
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                yield from _flatten(message, path)
            else:
                yield path or "file", message
    else:
        yield path or "file", messages


def _cross_check(data: dict, lines: dict[str, int], source: str) -> list[Problem]:
    """The checks no single field can make: categories, caps against points, code versions.

    They read the raw file, each only where the fields it needs have the right type, so one
    malformed field does not hide the problems of its neighbours.
    """
    problems = []
    bank = data.get("bank") if isinstance(data.get("bank"), dict) else {}
    extra = bank.get("categories") if isinstance(bank.get("categories"), list) else []
    categories = set(DEFAULT_CATEGORIES) | {c for c in extra if isinstance(c, str)}

    def add(path: str, message) -> None:
        problems.append(Problem(source, _line_of(path, lines), path, message))

    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    by_code: dict[str, list[tuple[int, dict]]] = {}
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        at = f"rules[{i}]"
        category, points = rule.get("category"), rule.get("points")
        caps = rule.get("caps") if isinstance(rule.get("caps"), dict) else {}
        if isinstance(category, str) and category not in categories:
            add(f"{at}.category", _("未知类别「%(category)s」，可选：%(known)s，或在 bank.categories 中增加",
                                    category=category, known="、".join(sorted(categories))))
        if _is_int(points) and points < 0 and caps:
            add(f"{at}.caps", _("扣分规则不设上限"))
        for period, cap in caps.items():
            if _is_int(points) and _is_int(cap) and 0 < cap < points:
                add(f"{at}.caps.{period}", _("上限 %(cap)s 分小于一次（%(points)s 分）的分值", cap=cap, points=points))
        code = rule.get("code")
        if not isinstance(code, str):
            continue
        span = _validity(rule)
        for j, earlier in by_code.get(code, []):
            if span is None or earlier is None or not _overlap(earlier, span):
                continue
            where = _line_of(f"rules[{j}]", lines)
            if span == earlier == (date.min, date.max):
                add(f"{at}.code", _("规则代码 %(code)s 重复（第 %(line)s 行已有）", code=code, line=where))
            else:
                add(f"{at}.valid_from", _("规则 %(code)s 的有效期与第 %(line)s 行的同代码规则重叠", code=code, line=where))
        by_code.setdefault(code, []).append((i, span))
    cycle = bank.get("cycle") if isinstance(bank.get("cycle"), dict) else {}
    titles = cycle.get("titles") if isinstance(cycle.get("titles"), list) else []
    for k, title in enumerate(titles):
        category = title.get("category") if isinstance(title, dict) else None
        if isinstance(category, str) and category not in categories:
            add(f"bank.cycle.titles[{k}].category", _("未知类别「%(category)s」", category=category))
    months = cycle.get("redemption_months")
    if isinstance(months, list) and len(set(map(repr, months))) != len(months):
        add("bank.cycle.redemption_months", _("月份重复"))
    _check_foundation(data, rules, add)
    return problems


def _check_foundation(data: dict, rules: list, add) -> None:
    """The foundation section: criterion codes once each; credit rules that exist and earn."""
    section = data.get("foundation") if isinstance(data.get("foundation"), dict) else {}
    criteria = section.get("criteria") if isinstance(section.get("criteria"), list) else []
    seen = set()
    for i, criterion in enumerate(criteria):
        code = criterion.get("code") if isinstance(criterion, dict) else None
        if isinstance(code, str) and code in seen:
            add(f"foundation.criteria[{i}].code", _("评审标准 %(code)s 重复", code=code))
        seen.add(code)
    points = {r.get("code"): r.get("points") for r in rules if isinstance(r, dict)}
    for key in ("volunteer_rule", "donor_rule"):
        code = section.get(key)
        if isinstance(code, str) and code not in points:
            add(f"foundation.{key}", _("未知规则 %(code)s", code=code))
        elif isinstance(code, str) and _is_int(points[code]) and points[code] < 0:
            add(f"foundation.{key}", _("规则 %(code)s 是扣分规则，不能用于记功", code=code))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validity(rule: dict) -> tuple[date, date] | None:
    # None when a date is malformed: the schema reports that, and overlap cannot be judged.
    bounds = []
    for key, open_end in (("valid_from", date.min), ("valid_until", date.max)):
        value = rule.get(key)
        if value is None:
            bounds.append(open_end)
        elif isinstance(value, date):
            bounds.append(value)
        else:
            try:
                bounds.append(date.fromisoformat(str(value)))
            except ValueError:
                return None
    return bounds[0], bounds[1]


def _overlap(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def content_hash(text: str) -> str:
    """Return the hash a rule version is known by: sha256 of its text, line endings normalised."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def _build(loaded: dict, text: str, lines: dict[str, int]) -> RuleBook:
    # A section left out of the file takes the model's defaults, field by field.
    bank = {k: v for k, v in loaded["bank"].items() if v is not None}
    cycle = {k: v for k, v in bank.pop("cycle", {}).items() if v is not None}
    bank.pop("name", None)
    if "titles" in cycle:
        cycle["titles"] = tuple(Title(**t) for t in cycle["titles"])
    if "redemption_months" in cycle:
        cycle["redemption_months"] = tuple(sorted(cycle["redemption_months"]))
    extra = tuple(c for c in bank.pop("categories", ()) if c not in DEFAULT_CATEGORIES)
    settings = Settings(**bank, categories=DEFAULT_CATEGORIES + extra, cycle=Cycle(**cycle))
    rules = tuple(Rule(**{**r, "caps": {p: r["caps"][p] for p in CAP_PERIODS if p in r["caps"]}},
                       line=lines.get(f"rules[{i}]", 0))
                  for i, r in enumerate(loaded["rules"]))
    found = {k: v for k, v in loaded["foundation"].items() if v is not None}
    if "criteria" in found:
        found["criteria"] = tuple(Criterion(**c) for c in found["criteria"])
    return RuleBook(source=text, content_hash=content_hash(text), settings=settings, rules=rules,
                    foundation=Foundation(**found))
