"""A measured clerk: Chromium (Playwright) drives the office's screens as a person does, and
each flow's keystrokes, clicks and page loads are counted and printed against its target.

    make setup && .venv/bin/python bench/office.py

The village is seeded into a temporary SQLite database deleted at the end; the app is served on
a free local port; the browser is Debian's Chromium (/usr/bin/chromium, or ZONGZHI_CHROMIUM).
Each flow starts signed in on the page where the clerk lands and counts from there: every
character typed and every key pressed is a keystroke, every mouse click a click, every
document the browser loads a page load.

A flow is a function `flow(clerk, village)` that drives `clerk` (a Clerk) and checks its own
outcome; add one to FLOWS with its target to measure another step of the cycle.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

import migrations  # noqa: E402
from ledger import banks, deeds, people as ledger_people  # noqa: E402
from ground.clock import FixedClock
from ledger.posting import Idempotency  # noqa: E402

CHROMIUM = os.environ.get("ZONGZHI_CHROMIUM", "/usr/bin/chromium")
RULES_FILE = ROOT / "seed_data" / "rules" / "default.yaml"
#: Thursday 15 October 2026, 10:00 in the village.
CLOCK = FixedClock(at=datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc))
CLERK, REVIEWER, PASSWORD = "clerk", "reviewer", "bench clerk password"
#: The resident's objection: the clean-up of last week was logged, but 王建国 came for two hours.
OBJECTION = "那天我干了两个小时，只记了一次"
#: An extra window the council decided on: a week before the Double Ninth festival visit.
EXTRA_WINDOW = ("2026-10-19", "2026-10-25")

#: The clean-up crew of the team deed, with the initials a clerk types for each.
TEAM = (("王建国", "wjg"), ("李秀英", "lxy"), ("张伟", "zw"), ("刘洋", "ly"), ("陈静", "cj"))
#: The rest of the village: names whose initials none of the team's share.
OTHERS = ("赵丽", "孙强", "周敏", "吴磊", "郑涛", "冯霞", "何平", "许娟", "马超", "胡军",
          "高峰", "林芳", "贾明", "蒋文", "宋杰", "唐慧", "韩冰", "曹阳", "邓红", "彭辉")


@dataclass
class Count:
    keys: int = 0
    clicks: int = 0
    pages: int = 0


class Clerk:
    """A signed-in page that counts what the person does to it."""

    def __init__(self, page, base: str):
        self.page, self.base, self.count = page, base, Count()
        page.on("load", lambda _page: setattr(self.count, "pages", self.count.pages + 1))

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count.keys += len(text)

    def press(self, key: str, *, opens: bool = False) -> None:
        """Press one key; `opens` waits for the page it submits or opens."""
        self._then(lambda: self.page.keyboard.press(key), opens)
        self.count.keys += 1

    def click(self, selector: str, *, opens: bool = False) -> None:
        """Click what `selector` finds; `opens` waits for the page it opens."""
        self._then(lambda: self.page.click(selector), opens)
        self.count.clicks += 1

    def _then(self, act, opens: bool) -> None:
        if opens:
            with self.page.expect_navigation():
                act()
        else:
            act()


# --- the flows --------------------------------------------------------------------------------

def _posted_for_the_team(clerk: Clerk) -> None:
    status = clerk.page.locator("[role=status]")
    done = status.inner_text() if status.count() else clerk.page.inner_text("main")
    missing = [name for name, _initials in TEAM if name not in done]
    if "已登记" not in done or missing:
        raise AssertionError(f"the team deed was not logged (missing {missing}): {done!r}")


def team_deed_typed(clerk: Clerk, village: dict) -> None:
    """A team never logged before: open 登分, type the five by initials, Enter, the rule's initials, Enter."""
    clerk.click("nav.staff >> text=登分", opens=True)
    clerk.type(" ".join(initials for _name, initials in TEAM))
    clerk.press("Enter", opens=True)
    clerk.type("hjzz")  # 环境整治
    clerk.press("Enter", opens=True)
    _posted_for_the_team(clerk)


def team_deed_again(clerk: Clerk, village: dict) -> None:
    """The team logged last week: open 登分, click it under 最近登记的队伍, Enter posts."""
    clerk.click("nav.staff >> text=登分", opens=True)
    clerk.click(f".teams a:has-text('{TEAM[0][0]}')", opens=True)
    clerk.press("Enter", opens=True)
    _posted_for_the_team(clerk)


def objection_answered(reviewer: Clerk, village: dict) -> None:
    """The reviewer opens 异议, writes why in the uphold box and upholds: the entry is reversed."""
    reviewer.click("nav.staff >> text=异议", opens=True)
    box = f"#uphold-reason-{village['objection']}"
    reviewer.click(box)
    reviewer.type("核实属实，冲正后补登")
    reviewer.click(f"#objection-{village['objection']} button.primary", opens=True)
    answered = reviewer.page.inner_text(f"#objection-{village['objection']}")
    if "支持，已更正" not in answered:
        raise AssertionError(f"the objection was not upheld: {answered!r}")


def extra_window_opened(reviewer: Clerk, village: dict) -> None:
    """The reviewer opens 兑换期 and adds the council's extra window: two dates typed, one click."""
    reviewer.click("nav.staff >> text=兑换期", opens=True)
    for field, day in zip(("opens_on", "closes_on"), EXTRA_WINDOW):
        reviewer.click(f"label[for={field}]")  # focuses the date's first part
        # Headless Chromium shows dates as mm/dd/yyyy whatever the locale (a Chinese desktop shows
        # yyyy/mm/dd): the same eight digits, each part moving on to the next by itself.
        year, month, day_ = day.split("-")
        reviewer.type(month + day_ + year)
    reviewer.click("form.office button.primary", opens=True)
    listed = reviewer.page.inner_text("main")
    if "2026年10月19日" not in listed:
        raise AssertionError(f"the extra window is not listed: {listed[:400]!r}")


@dataclass(frozen=True)
class Flow:
    name: str
    run: object
    #: The most keystrokes and clicks the flow may take (None: measured, no target).
    keys: int | None
    clicks: int | None
    #: Who does it: the clerk, or the council's reviewer for what only the council decides.
    who: str = CLERK


FLOWS = (
    Flow("team deed, five people typed by initials (baseline)", team_deed_typed, None, None),
    Flow("team deed, five people (a team logged before)", team_deed_again, 12, 2),
    Flow("an objection upheld, with the reason", objection_answered, None, None, REVIEWER),
    Flow("an extra desk window opened", extra_window_opened, None, None, REVIEWER),
)


# --- the village, the server and the browser --------------------------------------------------

def seed(url: str) -> dict:
    """Open the bank, its households, residents and clerk; the team's clean-up of last week."""
    from ground.db import make_engine, session_factory
    from reports.objections import file_objection
    from web.auth import create_user

    engine = make_engine(url)
    session = session_factory(engine)()
    try:
        bank = banks.create_bank(session, "heping", "和平村综治银行", rules_text=RULES_FILE.read_text(),
                                 source_name=RULES_FILE.name, by="bench", clock=CLOCK)
        people = {}
        for n, name in enumerate([name for name, _initials in TEAM] + list(OTHERS)):
            code = f"H{n // 3 + 1:02d}"
            if n % 3 == 0:
                ledger_people.create_household(session, bank, code=code, name=None, clock=CLOCK)
            people[name] = ledger_people.create_resident(session, bank, name=name, household=code,
                                                         phone=None, clock=CLOCK)
        for name, initials in TEAM:
            found = ledger_people.find_residents(session, bank, initials, limit=8)
            assert [r.name for r in found] == [name], f"{initials} finds {[r.name for r in found]}"
        clerk = create_user(session, CLERK, bank_code=bank.code, role="clerk", password=PASSWORD,
                            clock=CLOCK)
        last_week = FixedClock(at=CLOCK.now() - timedelta(days=7))
        create_user(session, REVIEWER, bank_code=bank.code, role="reviewer", password=PASSWORD,
                    clock=CLOCK)
        posted = deeds.post_deed(session, bank, rule_code="cleanup",
                           resident_ids=[people[name].id for name, _initials in TEAM], quantity=1,
                           occurred_on=last_week.today(), memo=None, by=CLERK, clock=last_week,
                           idem=Idempotency("bench-last-week", "bench", user_id=clerk.id))
        entry = next(t for t in posted.transfers if t.doer_id == people[TEAM[0][0]].id)
        objection = file_objection(session, bank, resident_id=people[TEAM[0][0]].id,
                                   transfer_id=entry.id, month=None, text=OBJECTION,
                                   filed_by="resident", clock=CLOCK)
        return {"bank": bank.code, "people": {name: r.id for name, r in people.items()},
                "objection": objection.id}
    finally:
        session.close()
        engine.dispose()


def serve(url: str):
    """Serve the app on a free local port in a thread; return (base URL, server)."""
    from werkzeug.serving import make_server

    from zongzhi.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app({"DATABASE_URL": url, "CLOCK": CLOCK, "SECRET_KEY": "bench"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def measure(browser, base: str, village: dict, flow: Flow) -> Count:
    """Sign the flow's person in (not counted) and run the flow on the page where they land."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("#name", flow.who)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        if not page.locator("nav.staff").count():
            raise SystemExit(f"{flow.who} could not sign in: {page.url} {page.inner_text('main')[:200]}")
        clerk = Clerk(page, base)
        flow.run(clerk, village)
        return clerk.count
    finally:
        context.close()


def verdict(count: Count, flow: Flow) -> str:
    if flow.keys is None:
        return "measured, no target"
    ok = count.keys <= flow.keys and count.clicks <= flow.clicks
    return f"{'PASS' if ok else 'FAIL'} (target ≤ {flow.keys} keys, ≤ {flow.clicks} clicks)"


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="zongzhi-bench-office-"))
    url = f"sqlite:///{folder / 'office.db'}"
    server = None
    try:
        migrations.upgrade(url)
        village = seed(url)
        base, server = serve(url)
        print(f"office bench: clerk in Chromium on {base}, SQLite in {folder}")
        print(f"{'flow':<56} {'keys':>5} {'clicks':>6} {'pages':>5}  verdict")
        failed = False
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                for flow in FLOWS:
                    count = measure(browser, base, village, flow)
                    line = verdict(count, flow)
                    failed |= line.startswith("FAIL")
                    print(f"{flow.name:<56} {count.keys:>5} {count.clicks:>6} {count.pages:>5}  {line}")
            finally:
                browser.close()
        return 1 if failed else 0
    finally:
        if server is not None:
            server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
