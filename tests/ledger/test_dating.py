"""The days an entry may be dated: inside the bank's open months, within `cycle.backdate_days`.

The rule is one pure function (`periods.dating_problem`) behind one check (`periods.check_dated`)
that every dated write goes through: deeds over the API and through review, fund receipts, and
any date in a request comes through one bounded field (years 2000–2099).
"""
from __future__ import annotations

import importlib
from datetime import date

import pytest
from marshmallow import Schema
from sqlalchemy import func, select

from ledger import periods
from ground.errors import TooOld, ValidationError
from ledger.models import PendingDeed, Transfer
from rules.schemas import BoundedDate

from ..conftest import RULES

TODAY = date(2026, 10, 15)


# --- the pure rule ----------------------------------------------------------------------------

def test_a_day_backdate_days_ago_may_be_dated_and_one_more_is_too_old():
    assert periods.dating_problem(date(2026, 8, 31), today=TODAY, backdate_days=45) is None
    problem = periods.dating_problem(date(2026, 8, 30), today=TODAY, backdate_days=45)
    assert isinstance(problem, TooOld) and problem.code == "too_old" and problem.status == 422
    assert problem.field_texts() == {"occurred_on": ["不能早于 2026-08-31（最多补登 45 天前的记录）"]}
    assert "2026-08-31" in problem.text("zh") and "2026-08-31" in problem.text("en")


def test_today_may_be_dated_and_tomorrow_may_not():
    assert periods.dating_problem(TODAY, today=TODAY, backdate_days=1) is None
    tomorrow = periods.dating_problem(date(2026, 10, 16), today=TODAY, backdate_days=45, field="received_on")
    assert isinstance(tomorrow, ValidationError) and not isinstance(tomorrow, TooOld)
    assert list(tomorrow.fields) == ["received_on"]


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1999, 12, 31)])
def test_days_of_another_age_are_too_old(day):
    assert isinstance(periods.dating_problem(day, today=TODAY, backdate_days=366), TooOld)


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "2026-02-30",
                                  "20261015", "2026-1-5", "٢٠٢٦-١٠-١٥", ""])
def test_a_day_typed_in_a_query_outside_the_cycles_years_is_a_422_naming_the_field(text):
    if not text:
        assert periods.parse_day(text, field="day", default=TODAY) == TODAY
        return
    with pytest.raises(ValidationError) as refused:
        periods.parse_day(text, field="day")
    assert list(refused.value.fields) == ["day"]


def test_every_request_schema_takes_its_dates_through_the_bounded_field():
    """A new request schema with a plain fields.Date would take 0001-01-01 again: none may."""
    plain = []
    for module in ("ledger.schemas", "redemption.schemas", "foundation.schemas", "reports.schemas",
                   "cards.schemas"):
        for name, schema in vars(importlib.import_module(module)).items():
            if isinstance(schema, type) and issubclass(schema, Schema) and name.endswith("In"):
                plain += [f"{module}.{name}.{field}" for field, kind in schema._declared_fields.items()
                          if kind.__class__.__name__ in ("Date", "DateTime")
                          and not isinstance(kind, BoundedDate)]
    assert plain == []


# --- over the API, on both databases ------------------------------------------------------------

@pytest.fixture
def village(make):
    bank = make.bank()
    return {"bank": bank, "wang": make.resident(bank, "王大"), "clerk": make.token(bank, "clerk")}


def _deed(client, village, lang="zh", **body):
    body = {"rule": "cleanup", "residents": [village["wang"].id], "occurred_on": "2026-10-14", **body}
    return client.post("/api/v1/banks/hp/deeds", json=body,
                       headers={**village["clerk"], "Accept-Language": lang})


def _written(session) -> tuple[int, int]:
    session.rollback()
    return (session.execute(select(func.count()).select_from(Transfer)).scalar(),
            session.execute(select(func.count()).select_from(PendingDeed)).scalar())


def test_a_deed_one_day_beyond_backdate_days_is_too_old_and_writes_nothing(client, village, session):
    refused = _deed(client, village, occurred_on="2026-08-30")
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["error"] == "too_old"
    assert body["fields"] == {"occurred_on": ["不能早于 2026-08-31（最多补登 45 天前的记录）"]}
    assert "最早只能补登到 2026-08-31" in body["message"]
    english = _deed(client, village, lang="en", occurred_on="2026-08-30").get_json()
    assert "the earliest day allowed is 2026-08-31" in english["message"]
    assert english["fields"] == {"occurred_on": ["Must not be before 2026-08-31 (at most 45 days back)."]}
    assert _written(session) == (0, 0)
    assert _deed(client, village, occurred_on="2026-08-31").status_code == 201
    assert _written(session) == (1, 0)


def test_a_deed_for_review_dated_too_far_back_is_refused_and_nothing_waits(client, village, session):
    refused = _deed(client, village, rule="mediation", occurred_on="2026-07-01")
    assert refused.status_code == 422 and refused.get_json()["error"] == "too_old"
    assert _written(session) == (0, 0)


def test_the_rule_files_backdate_days_sets_the_limit(client, make, session):
    bank = make.bank(rules=RULES.replace("  account_unit: person\n",
                                         "  account_unit: person\n  cycle: {backdate_days: 10}\n"))
    village = {"bank": bank, "wang": make.resident(bank, "王大"), "clerk": make.token(bank, "clerk")}
    refused = _deed(client, village, occurred_on="2026-10-04")
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["occurred_on"] == ["不能早于 2026-10-05（最多补登 10 天前的记录）"]
    assert _written(session) == (0, 0)
    assert _deed(client, village, occurred_on="2026-10-05").status_code == 201


ABSURD = ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "20261014", 20261014, None,
          ["2026-10-14"], {"y": 2026}, "2026-10-14T00:00:00", "٢٠٢٦-١٠-١٤"]


def test_an_absurd_date_is_a_422_naming_occurred_on_and_writes_nothing(client, village, session):
    for day in ABSURD:
        for rule in ("cleanup", "mediation"):  # posted at once, or held for review
            answer = _deed(client, village, rule=rule, occurred_on=day)
            assert answer.status_code == 422, (rule, day)
            assert list(answer.get_json()["fields"]) == ["occurred_on"], (rule, day)
    assert _written(session) == (0, 0)


def test_the_service_refuses_a_deed_dated_year_one_even_without_the_schema(make, session):
    bank = make.bank()
    wang = make.resident(bank, "王大")
    with pytest.raises(TooOld):
        make.deed(bank, "cleanup", [wang], occurred_on=date(1, 1, 1))
    assert _written(session) == (0, 0)


def test_an_approval_is_measured_from_the_day_the_deed_was_submitted(make, session, clock):
    from dataclasses import replace
    from datetime import timedelta

    from ledger import deeds

    bank = make.bank()
    wang = make.resident(bank, "王大")
    [waiting] = make.deed(bank, "mediation", [wang], occurred_on=date(2026, 9, 1)).pending
    later = replace(clock, at=clock.at + timedelta(days=10))  # now 55 days after the deed
    outcome = deeds.decide_pending(session, bank, waiting.id, approve=True, reason=None,
                                   by="reviewer", clock=later)
    assert outcome.posted and outcome.transfers[0].occurred_on == date(2026, 9, 1)


def test_a_rule_file_with_a_bad_backdate_days_is_reported_with_its_line(tmp_path):
    from click.testing import CliRunner

    from zongzhi.cli import main

    for value in ("0", "367", "\"45\"", "4.5", "true"):
        path = tmp_path / "rules.yaml"
        path.write_text(RULES.replace("  account_unit: person\n", "  account_unit: person\n  cycle:\n"
                                      f"    backdate_days: {value}\n"), encoding="utf-8")
        checked = CliRunner().invoke(main, ["rules", "check", str(path)])
        assert checked.exit_code == 1, (value, checked.output)
        assert f"{path}:4: bank.cycle.backdate_days:" in checked.output, (value, checked.output)
    path.write_text(RULES.replace("  account_unit: person\n",
                                  "  account_unit: person\n  cycle: {backdate_days: 366}\n"), encoding="utf-8")
    assert CliRunner().invoke(main, ["rules", "check", str(path)]).exit_code == 0
