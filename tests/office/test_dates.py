"""Days typed into the office's screens: an absurd one is a 422 page naming it, never a 500."""
from __future__ import annotations

from sqlalchemy import func, select

from ledger.models import Transfer

from .conftest import text

ABSURD = ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "2026-02-30", "20261015", "٢٠٢٦-١٠-١٥"]


def test_the_day_register_of_an_absurd_day_is_a_422_page_naming_it(clerk, village):
    for day in ABSURD:
        answer = clerk.get("/banks/hp/register", query_string={"day": day})
        assert answer.status_code == 422, day
        assert any(why in text(answer) for why in (f"{day} 不是一个存在的日期", f"{day} 不在 2000–2099 年之间",
                                                   "格式须为 YYYY-MM-DD")), day


def test_a_residents_history_filtered_by_an_absurd_day_is_a_422_page(clerk, village):
    wang = village["people"]["王大"]
    for field in ("since", "until"):
        for day in ("0001-01-01", "9999-12-31"):
            answer = clerk.get(f"/banks/hp/residents/{wang.id}", query_string={field: day})
            assert answer.status_code == 422, (field, day)
            assert f"{day} 不在 2000–2099 年之间" in text(answer), (field, day)


def test_a_penalty_dated_outside_the_open_months_is_refused_on_the_screen_and_posts_nothing(
        clerk, village, session):
    for day, why in [("0001-01-01", "0001-01-01 不在 2000–2099 年之间"),
                     ("9999-12-31", "9999-12-31 不在 2000–2099 年之间"),
                     ("2026-08-30", "不能早于 2026-08-31（最多补登 45 天前的记录）")]:
        answer = clerk.post("/banks/hp/penalties/new", data={
            "r": [str(village["people"]["王大"].id)], "rule": "litter", "quantity": "1",
            "occurred_on": day, "memo": "河边倒垃圾", "idem": f"pen-{day}"})
        assert answer.status_code == 422, day
        assert why in text(answer), day
    session.rollback()
    assert session.execute(select(func.count()).select_from(Transfer)).scalar() == 0
