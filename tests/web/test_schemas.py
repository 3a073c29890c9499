"""Every answer schema dumps exactly what marshmallow would: the base Schema's quicker way of
reading values off an object changes no answer, for any schema of the project.

The quicker way leans on marshmallow's own parts below its documented surface (`Schema._serialize`,
`Field._serialize`, `_CHECK_ATTRIBUTE`); these tests pin it to what marshmallow does, checked
against marshmallow 4.4."""
from __future__ import annotations

import importlib
from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import marshmallow
import pytest
from marshmallow import fields

from rules.schemas import Schema


#: The modules that hold the project's request and answer shapes.
SCHEMA_MODULES = ("cards", "field", "foundation", "ledger", "redemption", "reports", "rules", "stats")


def _schemas() -> list[type]:
    for package in SCHEMA_MODULES:
        importlib.import_module(f"{package}.schemas")
    found, todo = [], [Schema]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            todo.append(sub)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _value(field: fields.Field, depth: int, shape: str):
    """A value of the field's type: "full" (every value there), "none" (None), "sparse" (half gone)."""
    if shape == "none":
        return None
    if isinstance(field, fields.Nested):
        schema = field.schema
        item = _thing(schema, depth + 1, shape)
        return [item, _thing(schema, depth + 1, shape)] if field.many else item
    if isinstance(field, fields.List):
        return [_value(field.inner, depth + 1, shape), _value(field.inner, depth + 1, shape)]
    if isinstance(field, fields.Dict):
        inner = field.value_field
        return {"a": _value(inner, depth + 1, shape) if inner is not None else "二"}
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Decimal):
        return Decimal("12.50")
    if isinstance(field, fields.Float):
        return 1.5
    if isinstance(field, fields.Integer):
        return 7
    if isinstance(field, fields.AwareDateTime) or isinstance(field, fields.DateTime):
        return datetime(2026, 10, 5, 8, 30, tzinfo=timezone.utc)
    if isinstance(field, fields.Date):
        return date(2026, 10, 5)
    return "王大"


def _thing(schema: marshmallow.Schema, depth: int = 0, shape: str = "full") -> SimpleNamespace:
    thing = SimpleNamespace()
    for n, (name, field) in enumerate(schema.dump_fields.items()):
        if depth > 3 or (shape == "sparse" and n % 2):
            continue
        source = name if field.attribute is None else field.attribute
        if "." not in source:
            setattr(thing, source, _value(field, depth, shape))
    return thing


@pytest.mark.parametrize("cls", _schemas(), ids=lambda c: c.__qualname__)
@pytest.mark.parametrize("shape", ["full", "none", "sparse"])
def test_every_schema_dumps_an_object_as_marshmallow_does(cls, shape):
    schema = cls()
    thing = _thing(schema, shape=shape)
    assert schema.dump(thing) == marshmallow.Schema._serialize(schema, thing)


class _Toy(Schema):
    id = fields.Integer()
    name = fields.String(attribute="title")
    shown = fields.String(data_key="label")
    counted = fields.Integer(dump_default=3)
    later = fields.Date(dump_default=lambda: date(2026, 1, 1))
    inner = fields.Integer(attribute="box.size")
    said = fields.Method("_say")
    gone = fields.String()

    def _say(self, obj):
        return f"say {obj['id'] if isinstance(obj, dict) else obj.id}"


def test_a_renamed_missing_defaulted_dotted_or_computed_field_dumps_as_marshmallow_does():
    thing = SimpleNamespace(id=5, title="标题", shown="看", box=SimpleNamespace(size=9))
    assert _Toy().dump(thing) == {"id": 5, "name": "标题", "label": "看", "counted": 3,
                                  "later": "2026-01-01", "inner": 9, "said": "say 5"}
    assert _Toy().dump(thing) == marshmallow.Schema._serialize(_Toy(), thing)


def test_a_mapping_and_a_list_take_marshmallows_own_way():
    schema = _Toy()
    row = {"id": 1, "title": "一", "box": {"size": 2}}
    assert schema.dump(row) == marshmallow.Schema._serialize(schema, row)
    things = [SimpleNamespace(id=n, title=str(n), box=SimpleNamespace(size=n)) for n in range(3)]
    assert schema.dump(things, many=True) == [marshmallow.Schema._serialize(schema, t) for t in things]
