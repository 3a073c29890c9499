"""A small bench village for the HTTP benchmarks: banks, residents with accounts, a clerk's token.

Shared by ``bench/http.py`` and ``bench/profile_deed.py`` (not a benchmark itself). Banks are
opened through the service; residents and their points accounts go in in bulk, as
``bench/ledger.py`` builds its county.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

from sqlalchemy import insert, select  # noqa: E402

from ledger import banks as ledger_banks  # noqa: E402
from ground.clock import Clock, FixedClock
from ground.db import transaction
from ledger.models import PTS, Account, Household, Resident  # noqa: E402

#: No caps on the rule the benchmarks post, so no deed is refused however many are sent.
RULES = """\
rules:
  - {code: cleanup, name: 环境整治, category: 环境卫生, points: 3, unit: 次}
  - {code: patrol, name: 夜间巡逻, category: 社会治安, points: 2, unit: 小时, caps: {day: 8}}
"""

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"


@dataclass
class Village:
    code: str
    id: int
    residents: list[int] = field(default_factory=list)
    token: str = ""


def wall_clock() -> Clock:
    """The real clock: a served app dates its deeds today."""
    from zoneinfo import ZoneInfo
    return Clock(ZoneInfo("Asia/Shanghai"))


def fixed_clock() -> FixedClock:
    return FixedClock(at=datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc))


def build(sf, *, banks: int, residents: int, clock: Clock) -> list[Village]:
    """Open `banks` banks of `residents` residents each, a clerk and an API token per bank."""
    from web.auth import create_token, create_user

    villages = []
    for b in range(banks):
        code = f"b{b:02d}"
        with sf() as session:
            bank = ledger_banks.create_bank(session, code, f"第{b}村综治银行", rules_text=RULES,
                                            source_name="bench.yaml", by="bench", clock=clock)
            village = Village(code, bank.id)
            now = clock.now()
            with transaction(session):
                homes = session.execute(
                    insert(Household.__table__).returning(Household.__table__.c.id, sort_by_parameter_order=True),
                    [dict(bank_id=bank.id, code=f"H{h:04d}", name="家", active=True, created_at=now)
                     for h in range(max(1, residents // 3))]).scalars().all()
                people = [dict(bank_id=bank.id, household_id=homes[i % len(homes)],
                               name=SURNAMES[i % len(SURNAMES)] + "民", phone=None, active=True,
                               created_at=now, pinyin="min", initials="m") for i in range(residents)]
                village.residents = session.execute(
                    insert(Resident.__table__).returning(Resident.__table__.c.id, sort_by_parameter_order=True),
                    people).scalars().all()
                session.execute(insert(Account.__table__), [
                    dict(bank_id=bank.id, ledger=PTS, code=f"resident:{rid}", name="民", kind="resident",
                         resident_id=rid, household_id=None, balance=0) for rid in village.residents])
            create_user(session, f"clerk-{code}", bank_code=code, role="clerk",
                        password="bench password", clock=clock)
            village.token = create_token(session, f"clerk-{code}", clock=clock)
            assert session.execute(select(Account.id).where(Account.bank_id == bank.id)).first()
        villages.append(village)
    return villages


def yesterday(clock: Clock) -> str:
    return (clock.today() - timedelta(days=1)).isoformat()
