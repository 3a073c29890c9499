"""A year's open data: aggregate CSV files with a README, public, and no resident named anywhere."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest


def _zip(client, path="/api/v1/banks/hp/open-data/2026.zip") -> zipfile.ZipFile:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(answer.data))


def _rows(archive, name) -> list[dict]:
    data = archive.read(name)
    assert data.startswith("\ufeff".encode("utf-8")), f"{name} has no byte-order mark for Excel"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_years_zip_holds_the_figures_as_csv_and_a_readme_of_every_field(client, village):
    archive = _zip(client)  # no login: public, like the notice
    assert sorted(archive.namelist()) == ["README.txt", "categories.csv", "months.csv", "penalties.csv"]
    months = {r["month"]: r for r in _rows(archive, "months.csv")}
    assert list(months) == [f"2026-{m:02d}" for m in range(1, 11)]
    october = months["2026-10"]
    assert (october["residents"], october["active_residents"], october["participation_percent"],
            october["points"], october["penalty_points"], october["redeemed_points"], october["fund_fen"],
            october["objections_filed"]) == ("3", "1", "33.3", "36", "5", "30", "75000", "1")
    assert months["2026-09"]["points"] == "3" and months["2026-09"]["participation_percent"] == "100.0"
    # Nothing is sealed yet: every month's figures may still change, this one's above all.
    assert {r["sealed"] for r in months.values()} == {"0"}
    categories = {(r["month"], r["category"]): r["points"] for r in _rows(archive, "categories.csv")}
    assert categories["2026-10", "环境卫生"] == "30" and categories["2026-10", "社会治安"] == "6"
    assert _rows(archive, "penalties.csv") == [
        {"month": "2026-10", "rule": "litter", "rule_name": "乱扔垃圾", "points": "5"}]
    readme = archive.read("README.txt").decode("utf-8-sig")
    for name in ("months.csv", "categories.csv", "penalties.csv"):
        header = archive.read(name).decode("utf-8-sig").splitlines()[0].split(",")
        assert all(f"  {column}:" in readme for column in header), (name, header)


def test_no_name_or_household_of_any_resident_appears_in_any_file(client, village, session):
    from sqlalchemy import select

    from ledger.models import Household, Resident

    archive = _zip(client)
    text = "".join(archive.read(name).decode("utf-8-sig") for name in archive.namelist())
    names = session.execute(select(Resident.name, Resident.phone).where(Resident.bank_id == village.bank.id)).all()
    households = session.execute(select(Household.code, Household.name)).all()
    leaked = [value for row in (*names, *households) for value in row if value and value in text]
    assert leaked == []


@pytest.mark.parametrize("path", ["/api/v1/banks/nope/open-data/2026.zip",
                                  "/api/v1/banks/hp/open-data/2027.zip",
                                  "/api/v1/banks/hp/open-data/1999.zip",
                                  "/api/v1/banks/hp/open-data/20266.zip"])
def test_an_unknown_bank_or_a_year_to_come_answers_404(client, make, path):
    make.bank()
    assert client.get(path).status_code == 404


def test_a_past_year_has_all_twelve_months(client, make):
    make.bank()
    archive = _zip(client, "/api/v1/banks/hp/open-data/2025.zip")
    assert len(_rows(archive, "months.csv")) == 12


def test_a_sealed_month_is_marked_final_and_the_month_still_running_is_not(client, village, session, clock):
    from ledger import periods

    periods.seal_month(session, village.bank.id, "2026-09", by="test", clock=clock)
    session.commit()
    months = {r["month"]: r["sealed"] for r in _rows(_zip(client), "months.csv")}
    assert months["2026-09"] == "1" and months["2026-10"] == "0" and months["2026-08"] == "0"
