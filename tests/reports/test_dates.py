"""Periods asked of the notices, registers, commendations and objections: absurd ones are 4xx, never 500."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from reports.models import Objection

MONTHS = ["0001-01", "9999-12", "1999-12", "2100-01", "2026-13", "2026-00"]
DAYS = ["0001-01-01", "9999-12-31", "2100-01-01", "2026-02-30"]
YEARS = ["0001", "9999", "1999", "2100"]


@pytest.fixture
def office(make):
    bank = make.bank()
    return {"bank": bank, "wang": make.resident(bank, "王大"), "clerk": make.token(bank, "clerk")}


def test_absurd_periods_in_paths_and_queries_are_4xx_naming_them(client, office):
    api = "/api/v1/banks/hp"
    asked = ([(f"{api}/notices/{m}", "month") for m in MONTHS]
             + [(f"{api}/notices/{m}.pdf", "month") for m in MONTHS]
             + [(f"{api}/objections?month={m}", "month") for m in MONTHS]
             + [(f"{api}/registers/{d}", "day") for d in DAYS]
             + [(f"{api}/registers/{d}.pdf", "day") for d in DAYS]
             + [(f"{api}/commendations/{y}", "year") for y in YEARS]
             + [(f"{api}/commendations/{y}.pdf", "year") for y in YEARS])
    for url, field in asked:
        answer = client.get(url, headers=office["clerk"])
        assert answer.status_code in (404, 422), url
        if answer.status_code == 422:
            assert field in answer.get_json()["fields"], url


def test_an_objection_for_an_absurd_month_is_refused_and_nothing_is_filed(client, office, session):
    for month in MONTHS + ["٢٠٢٦-٠٩"]:
        answer = client.post("/api/v1/banks/hp/objections", headers=office["clerk"], json={
            "resident": office["wang"].id, "month": month, "text": "漏记了一次巡逻"})
        assert answer.status_code == 422, month
        assert "month" in answer.get_json()["fields"], month
    session.rollback()
    assert session.execute(select(func.count()).select_from(Objection)).scalar() == 0
