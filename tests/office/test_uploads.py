"""The roster screen refuses oversized and hostile files with the form and a message, never a 500."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from ledger.models import Household, Resident
from tests.ledger.test_uploads import sheet, workbook

from .conftest import text

ROSTER = "/banks/hp/roster"


def _counts(session):
    session.rollback()
    return [session.execute(select(func.count()).select_from(m)).scalar() for m in (Household, Resident)]


def test_a_roster_over_its_size_is_refused_with_413_before_it_is_read(clerk, village, session):
    before = _counts(session)
    answer = clerk.post(ROSTER, data={"file": (io.BytesIO(b"x" * (8 * 2**20 + 1)), "名册.csv")},
                        content_type="multipart/form-data")
    assert answer.status_code == 413 and "文件不能超过 8 MB" in text(answer)
    assert _counts(session) == before


def test_a_workbook_declaring_the_whole_grid_is_refused_with_the_limit_on_the_form(clerk, village, session):
    before = _counts(session)
    bomb = workbook(sheet(dimension="A1:XFD1048576"))
    answer = clerk.post(ROSTER, data={"file": (io.BytesIO(bomb), "名册.xlsx")}, content_type="multipart/form-data")
    assert answer.status_code == 422 and "20000" in text(answer) and 'name="file"' in text(answer)
    assert _counts(session) == before


def test_a_csv_field_past_128_kb_is_refused_not_a_server_error(clerk, village, session):
    data = "姓名,户号,备注\n王大,E01,".encode() + b"x" * (200 * 1024)
    answer = clerk.post(ROSTER, data={"file": (io.BytesIO(data), "名册.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 422 and "1000 个字符" in text(answer)


def test_the_ledger_workbook_downloads_even_with_a_control_character_in_a_memo(clerk, village, session, clock):
    from ledger import accounts
    from ledger.models import CNY
    from ledger.posting import Draft, post

    bank = village["bank"]
    town = accounts.system_account(session, bank.id, CNY, "source:town")
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    post(session, bank.id, [Draft(CNY, town.id, fund.id, 100, "grant", clock.today(), memo="坏\x01字")],
         by="clerk", clock=clock)
    session.commit()
    answer = clerk.get("/banks/hp/ledger.xlsx")
    assert answer.status_code == 200 and answer.data.startswith(b"PK")
