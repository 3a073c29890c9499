"""The demo village: 和平村, about 120 residents in 40 households, three months of deeds.

Everything goes through the same services a clerk and a reviewer use, on the days the deeds
happened, so the demo ledger verifies like a real one. The names and the deeds are drawn from
a fixed random seed: every fresh demo is the same village.
"""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import banks, deeds, people as ledger_people, reversals
from ground.clock import Clock, FixedClock
from ground.errors import CapExceeded
from ledger.models import Resident
from ground.tenants import Bank
from cards.services import issue_cards
from ground.errors import ZongzhiError
from redemption.services import catalog, fund, redeeming, windows
from web.auth import create_token, create_user
from ground.tenants import User

BANK_CODE = "heping"
BANK_NAME = "和平村综治银行"
RULES_FILE = Path(__file__).resolve().parent / "rules" / "default.yaml"
USERS = (  # name, role, password
    ("clerk", "clerk", "heping-clerk"),
    ("reviewer", "reviewer", "heping-reviewer"),
    ("supervisor", "supervisor", "heping-supervisor"),
    ("desk", "desk", "heping-desk"),
    ("county", "admin", "county-admin"),
)

SURNAMES = ["熊", "熊", "熊", "万", "万", "刘", "刘", "黄", "胡", "李", "陈", "曾", "涂", "邹", "喻"]
GIVEN_MALE = ["建国", "国强", "志明", "长根", "水生", "春生", "德华", "细伢", "火根", "冬生", "伟",
              "军", "勇", "俊杰", "浩然", "子轩", "家豪", "明亮", "光荣", "根发"]
GIVEN_FEMALE = ["秀英", "桂英", "春花", "冬梅", "小红", "丽萍", "美华", "金凤", "玉兰", "月娥",
                "芳", "婷", "思琪", "雨涵", "欣怡", "佳怡", "淑珍", "翠萍"]


class NotTheDemo(Exception):
    """The database holds banks or users of its own: the demo village is not planted among them
    (its logins, an admin's among them, are printed for anyone to read)."""


def seed_if_empty(session: Session, *, clock: Clock) -> dict:
    """Seed the demo village into an empty database, or find it seeded before; return what to
    print: logins and a token. Raise NotTheDemo for a database that holds anything else."""
    bank = session.execute(select(Bank).where(Bank.code == BANK_CODE)).scalar_one_or_none()
    if bank is None:
        if session.execute(select(Bank.id).limit(1)).first() or session.execute(select(User.id).limit(1)).first():
            raise NotTheDemo("the database is not empty")
        bank = _seed(session, clock)
    ours = dict(session.execute(select(User.name, User.bank_id).where(
        User.name.in_([name for name, _role, _password in USERS]))).all())
    if any(name not in ours or ours[name] != (None if role == "admin" else bank.id)
           for name, role, _password in USERS):
        raise NotTheDemo("the demo bank's users are not the demo's")
    resident_id = session.execute(select(Resident.id).where(Resident.bank_id == bank.id)
                                  .order_by(Resident.id).limit(1)).scalar_one()
    token = create_token(session, "clerk", clock=clock)
    # A card's token is known only when it is issued: each demo start reissues this one card.
    [card] = issue_cards(session, bank, resident_ids=[resident_id], by="demo", clock=clock)
    return {"bank_code": bank.code, "bank_name": bank.name, "clerk": "clerk",
            "clerk_password": dict((n, p) for n, _, p in USERS)["clerk"],
            "logins": [(role, name, password) for name, role, password in USERS],
            "clerk_token": token, "resident_id": resident_id, "card_token": card.token}


def _seed(session: Session, clock: Clock) -> Bank:
    rng = random.Random(20261001)
    today = clock.today()
    start = today - timedelta(days=91)
    opening = _at(start - timedelta(days=1), clock)
    bank = banks.create_bank(session, BANK_CODE, BANK_NAME, rules_text=RULES_FILE.read_text("utf-8"),
                             source_name="seed_data/rules/default.yaml", by="demo", clock=opening)
    for name, role, password in USERS:
        if session.execute(select(User.id).where(User.name == name)).first() is None:
            create_user(session, name, bank_code=None if role == "admin" else BANK_CODE, role=role,
                        password=password, clock=opening)
    people = _register(session, bank, rng, opening)
    adults = [r for r in people if r["adult"]]
    day = start
    while day <= today:
        _one_day(session, bank, rng, day, adults, _at(day, clock), fresh=day > today - timedelta(days=5))
        day += timedelta(days=1)
    _desk(session, bank, rng, start, today, clock, [p["id"] for p in adults])
    issue_cards(session, bank, whole_bank=True, by="demo", clock=opening)
    return bank


#: The demo's shelf: (sku, name, points, cost in fen, units bought, limit per window).
CATALOG = (
    ("rice5", "大米 5kg", 30, 3500, 40, 2),
    ("oil", "菜籽油 1.8L", 20, 2800, 30, 2),
    ("soap", "洗衣皂 4块", 5, 600, 80, None),
    ("towel", "毛巾", 4, 500, 0, None),
    ("kettle", "电热水壶", 60, 8900, 5, 1),
)


def _desk(session, bank, rng, start: date, today: date, clock, ids: list[int]) -> None:
    """The fund's receipts, a stocked shelf, and a morning of redemptions in the last window."""
    opening = _at(start - timedelta(days=1), clock)
    for source, donor, fen, restriction in (("town", "和平镇人民政府", 500_000, None),
                                            ("village", "和平村村委会", 200_000, None),
                                            ("sponsor", "县农商行", 300_000, "goods"),
                                            ("donor", "熊建国", 20_000, "projects")):
        fund.record_receipt(session, bank, source=source, donor=donor,
                                     received_on=start - timedelta(days=1), amount_fen=fen,
                                     restriction=restriction, memo=None, by="clerk", clock=opening)
    for sku, name, points, cost, bought, limit in CATALOG:
        catalog.create_item(session, bank, sku=sku, name=name, points=points, cost_fen=cost,
                                  limit_per_window=limit, by="clerk", clock=opening)
        if bought:
            catalog.stock_in(session, bank, sku, quantity=bought, source="purchase",
                                   cost_fen=None, donor=None, by="clerk", clock=opening)
    catalog.stock_in(session, bank, "towel", quantity=60, source="donation", cost_fen=30_000,
                           donor="县纺织厂", donor_source="sponsor", by="clerk", clock=opening)
    # The last day of the last window inside the demo's three months, if there is one.
    window = next((w for w in reversed(windows.windows_in_force(session, bank, start.year,
                                                                      today.year))
                   if start <= w.opens_on <= today), None)
    if window is None:
        return
    morning = _at(min(window.closes_on, today), clock)
    for who in rng.sample(ids, min(25, len(ids))):
        items = [(sku, 1) for sku, *_ in rng.sample(CATALOG, rng.randint(1, 2))]
        try:
            redeeming.redeem(session, bank, resident_id=who, items=items, by="desk", clock=morning)
        except ZongzhiError:
            continue  # not enough points yet, or a limit: the desk moves on to the next


def _at(day: date, clock: Clock) -> FixedClock:
    """A clock standing at 20:00 of that day in the village, when the clerk logs the day."""
    evening = datetime.combine(day, time(20, 0), tzinfo=clock.tz).astimezone(timezone.utc)
    return FixedClock(tz=clock.tz, at=evening)


def _register(session, bank, rng, clock) -> list[dict]:
    people = []
    for n in range(1, 41):
        surname = SURNAMES[(n * 7) % len(SURNAMES)]
        head = surname + rng.choice(GIVEN_MALE)
        household = ledger_people.create_household(session, bank, code=f"{n:03d}", name=f"{head}户",
                                                   clock=clock)
        members = [(head, True), (rng.choice(SURNAMES) + rng.choice(GIVEN_FEMALE), True)]
        members += [(surname + rng.choice(GIVEN_MALE + GIVEN_FEMALE), rng.random() < 0.5)
                    for _ in range(rng.choice([0, 1, 1, 2]))]
        if rng.random() < 0.3:
            members.append((surname + rng.choice(["长根", "老根", "秀英", "桂英"]), True))
        members = _named_apart(members, surname, rng)
        for name, adult in members:
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if adult and rng.random() < 0.7 else None
            resident = ledger_people.create_resident(session, bank, name=name, household=household.code,
                                                     phone=phone, clock=clock)
            people.append({"id": resident.id, "adult": adult})
    return people


def _named_apart(members: list[tuple[str, bool]], surname: str, rng) -> list[tuple[str, bool]]:
    """One household's members with no two of the same name: a family never gives a child a
    parent's or a sibling's name, so a drawn name already taken is drawn again."""
    taken, apart = set(), []
    for name, adult in members:
        while name in taken:
            name = surname + rng.choice(GIVEN_MALE + GIVEN_FEMALE)
        taken.add(name)
        apart.append((name, adult))
    return apart


def _one_day(session, bank, rng, day: date, adults: list[dict], clock, *, fresh: bool) -> None:
    ids = [p["id"] for p in adults]

    def deed(rule, who, quantity=1, memo=None):
        try:
            return deeds.post_deed(session, bank, rule_code=rule, resident_ids=who,
                                   quantity=quantity, occurred_on=day, memo=memo, by="clerk",
                                   clock=clock)
        except CapExceeded:
            return None

    if day.weekday() in (1, 4, 5):  # the patrol team goes out three nights a week
        deed("night_patrol", rng.sample(ids, rng.randint(4, 8)), rng.choice([2, 3]), "夜间巡逻 东西片")
    if day.weekday() == 6:  # Sunday clean-up of the lanes
        deed("cleanup", rng.sample(ids, rng.randint(6, 15)), 1, "村道清扫")
        for who in rng.sample(ids, 12):
            deed("front_door", [who])
    if rng.random() < 0.5:
        deed("volunteer", rng.sample(ids, rng.randint(1, 3)), rng.randint(1, 4),
             rng.choice(["敬老院帮扶", "留守儿童辅导", "防疫值守", "帮五保户收稻"]))
    for who in rng.sample(ids, rng.randint(3, 10)):
        deed("sorting", [who])
    if rng.random() < 0.25:
        deed("good_deed", [rng.choice(ids)], 1, rng.choice(["拾金不昧", "护送迷路老人回家", "帮邻居修屋顶"]))
    if day.day in (12, 26):
        deed("law_class", rng.sample(ids, rng.randint(10, 20)), 1, "普法讲座")
    if rng.random() < 0.15:
        _mediation(session, bank, rng, day, ids, clock, decide=not fresh)
    if rng.random() < 0.06:
        rule, memos = rng.choice(list(PENALTY_MEMOS.items()))
        deed(rule, [rng.choice(ids)], 1, rng.choice(memos))
    if rng.random() < 0.04:
        outcome = deed("cleanup", [rng.choice(ids)], 1, "登记")
        if outcome and outcome.transfers:
            reversals.reverse_transfer(session, bank, outcome.transfers[0].id,
                                       reason="登记错人，当天未参加清扫", by="clerk", clock=clock)


#: The penalties the demo's villagers incur, each with what the clerk writes of one.
PENALTY_MEMOS = {"littering": ["河边乱扔垃圾", "路边丢弃农药瓶"],
                 "dumping": ["柴堆占道", "建筑垃圾堆在村道上"],
                 "straw_burning": ["田间焚烧秸秆", "违规燃放烟花"]}


def _mediation(session, bank, rng, day, ids, clock, *, decide: bool) -> None:
    """A mediation is logged, then a reviewer approves most and rejects a few; some stay pending."""
    try:
        outcome = deeds.post_deed(session, bank, rule_code="mediation",
                                  resident_ids=[rng.choice(ids)], quantity=1, occurred_on=day,
                                  memo="调解邻里宅基地纠纷", by="clerk", clock=clock)
    except CapExceeded:
        return
    if not decide:
        return  # recent ones still wait in the reviewer's queue
    reviewer_clock = replace(clock, at=clock.at + timedelta(days=1))
    for pending in outcome.pending:
        approve = rng.random() < 0.8
        deeds.decide_pending(session, bank, pending.id, approve=approve,
                             reason=None if approve else "双方未签调解协议，暂不记分",
                             by="reviewer", clock=reviewer_clock)
