"""The rule file's shape (marshmallow): each field's type and range, before cross-checks."""
from __future__ import annotations

import re
from datetime import date, datetime, time

import marshmallow
from marshmallow import RAISE, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from ground.i18n import _

from . import bounds
from .model import ACCOUNT_UNITS, EVIDENCE_MODES, EXPIRY_MODES, NOTICE_MODES, UNITS

#: marshmallow's own messages, by the English it writes them in, as gettext strings: a schema
#: derived from `Schema` below gives its fields and their validators these instead.
_FIELD_MESSAGES = {
    "Missing data for required field.": _("缺少必填字段"),
    "Field may not be null.": _("不能为空"),
    "Invalid value.": _("取值无效"),
    "Invalid input.": _("取值无效"),
    "Not a valid string.": _("须为文本"),
    "Not a valid utf-8 string.": _("须为有效的 UTF-8 文本"),
    "Not a valid integer.": _("须为整数"),
    "Not a valid date.": _("须为 YYYY-MM-DD 格式的日期"),
    "Not a valid number.": _("须为数字"),
    "Number too large.": _("数值过大"),
    "Special numeric values (nan or infinity) are not permitted.": _("须为有限的数字"),
    "Not a valid boolean.": _("须为 true 或 false"),
    "Not a valid list.": _("须为列表"),
    "Not a valid tuple.": _("须为数组"),
    "Not a valid mapping type.": _("须为键值映射"),
    "Invalid type.": _("须为 JSON 对象"),
    "Not a valid email address.": _("须为有效的电子邮件地址"),
    "Not a valid URL.": _("须为有效的网址"),
    "Not a valid UUID.": _("须为有效的 UUID"),
    "String does not match expected pattern.": _("格式不正确"),
    "Must be one of: {choices}.": _("须为以下之一：{choices}"),
    "Must be equal to {other}.": _("须等于 {other}"),
}
#: "Not a valid {obj_type}." of the date and time fields, by their object type.
_TEMPORAL_MESSAGES = {
    "date": _("须为 YYYY-MM-DD 格式的日期"),
    "time": _("须为 HH:MM 格式的时间"),
    "datetime": _("须为日期时间（ISO 8601）"),
    "naive datetime": _("须为不带时区的日期时间"),
    "aware datetime": _("须为带时区的日期时间"),
}
#: validate.Range's messages, by whether its bounds are inclusive (min, max).
_RANGE_MESSAGES = {
    "min": {True: _("须不小于 {min}"), False: _("须大于 {min}")},
    "max": {True: _("须不大于 {max}"), False: _("须小于 {max}")},
    "all": {(True, True): _("须在 {min} 与 {max} 之间"), (False, False): _("须大于 {min} 且小于 {max}"),
            (True, False): _("须不小于 {min} 且小于 {max}"), (False, True): _("须大于 {min} 且不大于 {max}")},
}
_LENGTH_MESSAGES = {"message_min": _("长度不能少于 {min}"), "message_max": _("长度不能超过 {max}"),
                    "message_all": _("长度须在 {min} 到 {max} 之间"), "message_equal": _("长度须为 {equal}")}


def _gettext_messages(field: fields.Field) -> None:
    """Give a bound field, the fields inside it and their validators marshmallow's messages as
    gettext strings, wherever it still has marshmallow's English ones."""
    for key, message in field.error_messages.items():
        if not isinstance(message, str):
            continue
        if message == "Not a valid {obj_type}." and getattr(field, "OBJ_TYPE", None) in _TEMPORAL_MESSAGES:
            field.error_messages[key] = _TEMPORAL_MESSAGES[field.OBJ_TYPE]
        elif message in _FIELD_MESSAGES and "{" not in message:  # a field formats only text
            field.error_messages[key] = _FIELD_MESSAGES[message]
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            if validator.error is None:
                validator.message_min = _RANGE_MESSAGES["min"][validator.min_inclusive]
                validator.message_max = _RANGE_MESSAGES["max"][validator.max_inclusive]
                validator.message_all = _RANGE_MESSAGES["all"][validator.min_inclusive, validator.max_inclusive]
        elif isinstance(validator, validate.Length):
            if validator.error is None:
                for name, message in _LENGTH_MESSAGES.items():
                    setattr(validator, name, message)
        elif isinstance(getattr(validator, "error", None), str) and validator.error in _FIELD_MESSAGES:
            validator.error = _FIELD_MESSAGES[validator.error]
    inner = [getattr(field, name, None) for name in ("inner", "key_field", "value_field")]
    for child in [*inner, *getattr(field, "tuple_fields", ())]:
        if isinstance(child, fields.Field):
            _gettext_messages(child)


class Schema(marshmallow.Schema):
    """Every request and answer schema's base: marshmallow's messages as gettext strings.

    A reason marshmallow gives ("Missing data for required field.") reaches the reader in their
    language ("缺少必填字段" by default) through the catalogue, like every other message.
    """

    error_messages = {"type": _("输入类型错误"), "unknown": _("未知字段")}
    #: Whether this instance's fields have their gettext messages yet: given on its first load,
    #: so that a schema only ever dumped (an answer's) never spends the time.
    _messages_given = False

    def _do_load(self, *args, **kwargs):
        if not self._messages_given:
            for field in self.fields.values():
                _gettext_messages(field)
            self._messages_given = True
        return super()._do_load(*args, **kwargs)

    def _serialize(self, obj, *, many: bool = False):
        """marshmallow's, with each field's value read straight off an object that is not a
        mapping: what `Field.serialize` and `Schema.get_attribute` then do, in one `getattr`.

        An answer of one transfer spent more time in marshmallow's layers of access (the field's
        `get_value`, the schema's accessor, `utils.get_value`) than in formatting its values;
        a page of 500 transfers, 500 times that. Each value still goes through its field's own
        `_serialize`, so the answer is exactly marshmallow's (tests/web/test_schemas.py). A
        mapping, a dotted attribute, a field that reads its value its own way (Method, Function,
        one overriding `serialize` or `get_value`) and a schema overriding `get_attribute` take
        marshmallow's way.
        """
        if many or obj is None or hasattr(obj, "__getitem__"):
            return super()._serialize(obj, many=many)
        plan = self.__dict__.get("_dump_plan")
        if plan is None:
            plan = self._dump_plan = self._plan_dump()
        ret = self.dict_class()
        for name, key, source, field in plan:
            if source is None:
                value = field.serialize(name, obj, accessor=self.get_attribute)
            else:
                value = getattr(obj, source, marshmallow.missing)
                if value is marshmallow.missing:
                    default = field.dump_default
                    value = default() if callable(default) else default
                if value is not marshmallow.missing:
                    value = field._serialize(value, name, obj)
            if value is not marshmallow.missing:
                ret[key] = value
        return ret

    def _plan_dump(self) -> list[tuple]:
        # (name, key in the answer, attribute read, or None for marshmallow's way, field)
        plain = type(self).get_attribute is marshmallow.Schema.get_attribute
        plan = []
        for name, field in self.dump_fields.items():
            source = name if field.attribute is None else field.attribute
            direct = (plain and field._CHECK_ATTRIBUTE and "." not in source
                      and type(field).serialize is fields.Field.serialize
                      and type(field).get_value is fields.Field.get_value)
            plan.append((name, name if field.data_key is None else field.data_key,
                         source if direct else None, field))
        return plan


class StrictInteger(fields.Integer):
    """A whole number written as one (not "2", not 2.5, not true), within `min`..`max`.

    Every integer from outside has a bound: by default ±(2^53 − 1), the most a JSON reader holds
    exactly, so no id or amount can overflow the database's 64-bit columns.
    """

    def __init__(self, *, min: int = -bounds.MAX_WHOLE, max: int = bounds.MAX_WHOLE, **kw):  # noqa: A002
        super().__init__(strict=True, **kw)
        self.bounds = (min, max)
        self.metadata.setdefault("minimum", min)
        self.metadata.setdefault("maximum", max)

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool):
            raise SchemaError([bounds.NOT_WHOLE])
        number = super()._deserialize(value, attr, data, **kw)
        problem = bounds.whole_problem(number, min=self.bounds[0], max=self.bounds[1])
        if problem:
            raise SchemaError([problem])
        return number


def whole(*, min: int = 1, max: int = bounds.MAX_WHOLE, **kw) -> StrictInteger:  # noqa: A002
    """An id, count, quantity or amount: a whole number from `min` (1 unless zero makes sense)."""
    return StrictInteger(min=min, max=max, **kw)


class YamlDate(fields.Date):
    """A date as YAML gives it (already a date) or as ISO text."""

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise SchemaError([_TEMPORAL_MESSAGES["date"]])
        return super()._deserialize(value, attr, data, **kw)


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BoundedDate(fields.Date):
    """A day from outside: ISO text (YYYY-MM-DD, not a number, not a list) in the years the
    cycle knows, 2000–2099, so 0001-01-01 or 9999-12-31 is refused here, naming the field."""

    def __init__(self, **kw):
        super().__init__(format="iso", **kw)
        self.metadata.setdefault("example", "2026-10-15")

    def _deserialize(self, value, attr, data, **kw):
        # Python's ISO parser also takes 20261015 and other scripts' digits; the API says YYYY-MM-DD.
        if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
            raise SchemaError([_TEMPORAL_MESSAGES["date"]])
        day = super()._deserialize(value, attr, data, **kw)
        problem = bounds.day_problem(day)
        if problem:
            raise SchemaError([problem])
        return day


def day_field(**kw) -> BoundedDate:
    """A date in a request (occurred_on, received_on, opens_on …): ISO text within 2000–2099."""
    return BoundedDate(**kw)


class ClockTime(fields.Field):
    """A time of day written "HH:MM"."""

    def _deserialize(self, value, attr, data, **kw):
        # YAML 1.1 reads an unquoted 21:00 as the sexagesimal number 1260.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        try:
            return time.fromisoformat(value) if isinstance(value, str) and len(value) == 5 else None
        except ValueError:
            pass
        raise SchemaError([_TEMPORAL_MESSAGES["time"]])


class SafeText(fields.String):
    """Text from outside: no control characters (newline only where `multiline`, where a browser's
    CRLF counts as one), no unpaired surrogates, at most `max_len` characters, and not blank
    unless `allow_blank`."""

    def __init__(self, max_len: int, *, multiline: bool = False, allow_blank: bool = False, **kw):
        super().__init__(**kw)
        self.max_len, self.multiline, self.allow_blank = max_len, multiline, allow_blank
        self.metadata.setdefault("maxLength", max_len)

    def _deserialize(self, value, attr, data, **kw):
        text = super()._deserialize(value, attr, data, **kw)
        if self.multiline:
            text = bounds.newlines(text)
        problem = bounds.text_problem(text, max_len=self.max_len, multiline=self.multiline,
                                      allow_blank=self.allow_blank)
        if problem:
            raise SchemaError([problem])
        return text


def text_field(max_len: int, **kw) -> SafeText:
    """A one-line text field that is neither empty, blank, unsafe, nor longer than `max_len`."""
    return SafeText(max_len, **kw)


def note_field(max_len: int, **kw) -> SafeText:
    """An optional memo or reason: may run over several lines, may be left out or null."""
    kw.setdefault("load_default", None)
    return SafeText(max_len, multiline=True, allow_blank=True, allow_none=True, **kw)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CapsSchema(_Strict):
    day = StrictInteger(validate=validate.Range(min=1))
    week = StrictInteger(validate=validate.Range(min=1))
    month = StrictInteger(validate=validate.Range(min=1))
    year = StrictInteger(validate=validate.Range(min=1))


class RuleSchema(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,39}\Z", error=_("须为小写字母开头的字母、数字或下划线，最长 40 个字符")))
    name = text_field(50, required=True)
    category = text_field(20, required=True)
    points = StrictInteger(required=True, validate=[
        validate.Range(min=-10_000, max=10_000),
        validate.NoneOf([0], error=_("不能为 0"))])
    unit = fields.String(load_default="次", validate=validate.OneOf(UNITS))
    caps = fields.Nested(CapsSchema, load_default=dict)
    review = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    notice = fields.String(load_default="full", validate=validate.OneOf(NOTICE_MODES))
    evidence = fields.String(load_default="optional", validate=validate.OneOf(EVIDENCE_MODES))
    valid_from = YamlDate(load_default=None)
    valid_until = YamlDate(load_default=None)
    description = fields.String(load_default="", validate=validate.Length(max=500))

    @validates_schema
    def _validity_in_order(self, data, **kw):
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            raise SchemaError([_("有效期结束日早于开始日")], "valid_until")


class TitleSchema(_Strict):
    name = text_field(20, required=True)
    count = StrictInteger(required=True, validate=validate.Range(min=1, max=1000))
    unit = fields.String(load_default="person", validate=validate.OneOf(ACCOUNT_UNITS))
    category = fields.String(load_default=None)
    #: A threshold title (星级文明户): only those with at least this many points, up to `count`.
    min_points = StrictInteger(load_default=None, validate=validate.Range(min=1))


class CycleSchema(_Strict):
    day_close = ClockTime(load_default=time(21, 0))
    notice_day = StrictInteger(load_default=1, validate=validate.Range(min=1, max=28))
    notice_time = ClockTime(load_default=time(8, 0))
    objection_days = StrictInteger(load_default=7, validate=validate.Range(min=1, max=28))
    redemption_months = fields.List(StrictInteger(validate=validate.Range(min=1, max=12)),
                                    load_default=lambda: [1, 4, 7, 10],
                                    validate=validate.Length(min=1, max=12))
    redemption_days = StrictInteger(load_default=7, validate=validate.Range(min=1, max=28))
    commendation_month = StrictInteger(load_default=1, validate=validate.Range(min=1, max=12))
    commendation_day = StrictInteger(load_default=10, validate=validate.Range(min=1, max=28))
    backdate_days = StrictInteger(load_default=45, validate=validate.Range(
        min=bounds.BACKDATE_DAYS_MIN, max=bounds.BACKDATE_DAYS_MAX))
    titles = fields.List(fields.Nested(TitleSchema), load_default=None)


class BankSchema(_Strict):
    name = fields.String(load_default=None)
    account_unit = fields.String(load_default="person", validate=validate.OneOf(ACCOUNT_UNITS))
    negative_balance_may_redeem = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    categories = fields.List(text_field(20), load_default=list)
    point_value_fen = StrictInteger(load_default=10, validate=validate.Range(min=0, max=100_000))
    coverage_warning_percent = StrictInteger(load_default=100,
                                             validate=validate.Range(min=0, max=1000))
    cycle = fields.Nested(CycleSchema, load_default=dict)
    #: year_end: what is left of a year's points expires after the annual commendation.
    expiry = fields.String(load_default=None, validate=validate.OneOf(EXPIRY_MODES))


class CriterionSchema(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,39}\Z", error=_("须为小写字母开头的字母、数字或下划线，最长 40 个字符")))
    name = text_field(20, required=True)
    weight = StrictInteger(required=True, validate=validate.Range(min=1, max=100))


class FoundationSchema(_Strict):
    criteria = fields.List(fields.Nested(CriterionSchema), load_default=None,
                           validate=validate.Length(min=1, max=20))
    quorum = StrictInteger(load_default=None, validate=validate.Range(min=1, max=100))
    volunteer_rule = fields.String(load_default=None)
    donor_rule = fields.String(load_default=None)
    claim_days = StrictInteger(load_default=None, validate=validate.Range(min=1, max=90))


class RuleFileSchema(_Strict):
    bank = fields.Nested(BankSchema, load_default=dict)
    foundation = fields.Nested(FoundationSchema, load_default=dict)
    rules = fields.List(fields.Nested(RuleSchema), required=True,
                        validate=validate.Length(min=1, error=_("至少要有一条规则")))

