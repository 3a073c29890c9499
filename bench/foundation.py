"""Benchmark of the community foundation at a district's real scale, each figure next to a baseline.

What it builds: one bank for a district with 133 welfare stations (公益站) of 5 member residents
each, 9 council reviewers, money in the fund, and a year of 400 applications entered and moved
through the foundation's own services (draft → submitted → screening → in review), of which a
share are scored, decided, paid and completed, plus 150 wishes on the wall.

What it measures, each against a baseline taken in the same run on the same database:

1. listing applications (the API's first page of 50, and a filtered page), over HTTP with a
   bearer token, against a plain SELECT of the same 50 rows. Target: p99 < 50 ms.
2. the public page (/p/<bank>/foundation: funded projects with progress and the wish wall),
   rendered over HTTP, against one SELECT of the funded projects rendered as a bare table.
   Target: p99 < 200 ms.
3. review throughput: reviewers' score submissions (review.submit_scores: lock, panel and
   recusal, every criterion) against plain INSERTs of the same score rows, one committed
   transaction per submission; and council decisions (review.decide) per second.
4. tranches (money.pay_tranche: posting lock, fund split, two ledger legs, links) against
   one ledger.posting.post of a CNY transfer per transaction.
5. the quarterly PDF (public.quarter_report + WeasyPrint) against a one-line PDF.

Run it from the project root:

    .venv/bin/python bench/foundation.py                  # 400 applications, 133 stations
    .venv/bin/python bench/foundation.py --applications 100 --pdf /tmp/q.pdf

SQLite lives in a temporary directory deleted at the end. The script always exits 0: it is a
report, and it prints PASS/FAIL against the targets.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

from sqlalchemy import insert, select  # noqa: E402

import migrations  # noqa: E402
from foundation import workflow as wf  # noqa: E402
from foundation.applications import (create_applicant, create_application, link_reviewer,  # noqa: E402
                                     list_applications, move)
from foundation.common import rules_of  # noqa: E402
from foundation.money import add_progress, complete, pay_tranche  # noqa: E402
from foundation.public import public_projects, quarter_report, wish_wall  # noqa: E402
from foundation.review import decide, panel, submit_scores  # noqa: E402
from foundation.wishes import collect_wish, review_wish  # noqa: E402
from foundation.models import Application, Score  # noqa: E402
from ledger import accounts  # noqa: E402
from ledger import banks  # noqa: E402
from ground.clock import FixedClock
from ground.db import transaction
from ledger.models import CNY, Household, Resident  # noqa: E402
from ledger.posting import Draft, post  # noqa: E402
from web.auth import create_token  # noqa: E402
from ground.tenants import User

CLOCK = FixedClock(at=datetime(2026, 12, 20, 2, 0, tzinfo=timezone.utc))
TODAY = CLOCK.today()
STATIONS, MEMBERS, REVIEWERS = 133, 5, 9

RULES = """\
rules:
  - {code: patrol, name: 夜间巡逻, category: 社会治安, points: 2, unit: 小时}
  - {code: project_volunteer, name: 微项目志愿服务, category: 道德文化, points: 2, unit: 小时}
  - {code: wish_donor, name: 认领微心愿, category: 道德文化, points: 5}
foundation:
  criteria:
    - {code: need, name: 居民需求, weight: 40}
    - {code: feasibility, name: 可行性, weight: 30}
    - {code: participation, name: 居民参与, weight: 20}
    - {code: cost, name: 经费合理, weight: 10}
  quorum: 5
  volunteer_rule: project_volunteer
  donor_rule: wish_donor
"""
_START = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _START:6.1f}s] {message}", flush=True)


def timed(fn, repeat: int) -> list[float]:
    """Run fn once to warm up (templates compile, caches fill), then `repeat` times; return ms."""
    fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def line(name: str, ms: list[float], base: list[float], target_ms: float | None = None) -> None:
    p50, p99, b50 = pct(ms, 50), pct(ms, 99), pct(base, 50)
    verdict = "" if target_ms is None else ("  PASS" if p99 < target_ms else "  FAIL") + f" (p99 < {target_ms:g} ms)"
    print(f"  {name:<34} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   baseline p50 {b50:6.2f} ms"
          f"  ({p50 / b50 if b50 else 0:5.1f}×){verdict}")


def rate_line(name: str, count: int, seconds: float, base_count: int, base_seconds: float) -> None:
    ours, base = count / seconds, base_count / base_seconds
    print(f"  {name:<34} {ours:9.1f}/s   baseline {base:9.1f}/s   ({ours / base * 100:5.1f}% of baseline)")


def build(app, applications: int, rng: random.Random):
    """The district: stations, members, reviewers, fund, a year of applications, wishes."""
    sf = app.extensions["zongzhi.sessions"]
    session = sf()
    bank = banks.create_bank(session, "nanan", "南岸区社区基金", rules_text=RULES,
                             source_name="bench", by="bench", clock=CLOCK)
    with transaction(session):
        homes = [Household(bank_id=bank.id, code=f"H{i:04d}", name="", created_at=CLOCK.now())
                 for i in range(STATIONS * MEMBERS)]
        session.add_all(homes)
        session.flush()
        people = [Resident(bank_id=bank.id, household_id=h.id, name=f"居民{i}", created_at=CLOCK.now())
                  for i, h in enumerate(homes)]
        session.add_all(people)
        session.flush()
        reviewers = [User(name=f"lishi{i}", bank_id=bank.id, role="reviewer", created_at=CLOCK.now())
                     for i in range(REVIEWERS)]
        clerk = User(name="clerk", bank_id=bank.id, role="clerk", created_at=CLOCK.now())
        session.add_all([*reviewers, clerk])
        town = accounts.system_account(session, bank.id, CNY, "source:town")
        drafts = [Draft(ledger=CNY, debit_id=town.id,
                        credit_id=accounts.system_account(session, bank.id, CNY, code).id, amount=amount,
                        kind="receipt", occurred_on=TODAY - timedelta(days=300))
                  for code, amount in (("fund:projects", 3_000_000_000), ("fund", 1_000_000_000))]
        post(session, bank.id, drafts, by="bench", clock=CLOCK)
    for i, reviewer in enumerate(reviewers[:3]):  # a few reviewers live in the district
        link_reviewer(session, bank, user_id=reviewer.id, resident_id=people[i * 7].id,
                      by="bench", clock=CLOCK)
    stations = [create_applicant(
        session, bank, kind="station", name=f"第{i + 1}社区公益站", phone=None,
        members=[p.id for p in people[i * MEMBERS:(i + 1) * MEMBERS]], by="bench", clock=CLOCK)
        for i in range(STATIONS)]
    say(f"{STATIONS} stations, {len(people)} residents, {REVIEWERS} reviewers")
    ids = []
    t = time.perf_counter()
    for n in range(applications):
        amount = rng.randrange(5_000, 200_000) * 100
        a = create_application(
            session, bank, applicant_id=rng.choice(stations).id, title=f"微项目{n + 1}：楼栋整治",
            purpose="居民反映强烈的小事", budget=[("材料", amount - 50_000), ("人工", 50_000)],
            amount_requested=amount, starts_on=TODAY, ends_on=TODAY + timedelta(days=90), by="clerk",
            clock=CLOCK)
        for action in ("submit", "screen", "review"):
            move(session, bank, a.id, action, user=clerk, note=None, clock=CLOCK)
        ids.append(a.id)
    seconds = time.perf_counter() - t
    say(f"{applications} applications entered and sent to review: {applications / seconds:.1f}/s "
        f"(4 transactions each)")
    for n in range(150):
        w = collect_wish(session, bank, resident_id=people[rng.randrange(len(people))].id,
                         title=f"心愿{n}", description="一个小心愿", estimated_value=None,
                         by="clerk", clock=CLOCK)
        review_wish(session, bank, w.id, "verify", reason=None, by="lishi0", clock=CLOCK)
        review_wish(session, bank, w.id, "publish", reason=None, by="clerk", clock=CLOCK)
    tokens = {u.name: create_token(session, u.name, clock=CLOCK) for u in [clerk, *reviewers]}
    return session, bank, ids, clerk, reviewers, tokens


def score_and_decide(session, bank, ids, reviewers, rng):
    """Every reviewer not recused scores; the council decides; return timings."""
    codes = [c.code for c in rules_of(session, bank).criteria]
    scored = decided = 0
    t_score = t_decide = 0.0
    awarded = []
    for app_id in ids:
        application = session.get(Application, app_id)
        seats = panel(session, application)
        for seat in seats:
            if seat.recused:
                continue
            user = next(r for r in reviewers if r.id == seat.user_id)
            t = time.perf_counter()
            submit_scores(session, bank, app_id, user=user, scores={c: rng.randrange(6) for c in codes},
                          comments={}, clock=CLOCK)
            t_score += time.perf_counter() - t
            scored += 1
        outcome = wf.AWARDED if rng.random() < 0.3 else wf.DECLINED
        application = session.get(Application, app_id)
        t = time.perf_counter()
        decide(session, bank, app_id, user=reviewers[-1], met_on=TODAY,
               attendees=[f"理事{i}" for i in range(7)], votes_for=5 if outcome == wf.AWARDED else 2,
               votes_against=2 if outcome == wf.AWARDED else 5, abstaining=0, minutes="议定",
               outcome=outcome, amount=application.amount_requested * 8 // 10 if outcome == wf.AWARDED else None,
               reason=None if outcome == wf.AWARDED else "与往年项目重复", clock=CLOCK)
        t_decide += time.perf_counter() - t
        decided += 1
        if outcome == wf.AWARDED:
            awarded.append(app_id)
    return scored, t_score, decided, t_decide, awarded


def baseline_scores(session, bank, ids, reviewers, count: int) -> float:
    """Plain INSERTs of the same shape, one committed transaction per reviewer's submission."""
    t = time.perf_counter()
    for n in range(count):
        with transaction(session):
            session.execute(insert(Score), [dict(
                bank_id=bank.id, application_id=ids[n % len(ids)], user_id=reviewers[n % len(reviewers)].id,
                criterion=f"b{n}_{c}", weight=10, score=3, comment=None, at=CLOCK.now()) for c in range(4)])
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--applications", type=int, default=400)
    parser.add_argument("--pdf", help="also write the quarterly PDF here, to look at")
    args = parser.parse_args()
    rng = random.Random(6)
    tmp = Path(tempfile.mkdtemp(prefix="zongzhi-foundation-bench-"))
    try:
        url = f"sqlite:///{tmp / 'bench.db'}"
        migrations.upgrade(url)
        from zongzhi.app import create_app

        app = create_app({"DATABASE_URL": url, "CLOCK": CLOCK, "FOUNDATION_FILES": str(tmp / "files")})
        with app.app_context():
            run(app, args, rng)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(app, args, rng) -> None:
    session, bank, ids, clerk, reviewers, tokens = build(app, args.applications, rng)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['clerk']}"}

    say("review and decision throughput")
    scored, t_score, decided, t_decide, awarded = score_and_decide(session, bank, ids, reviewers, rng)
    base_seconds = baseline_scores(session, bank, ids, reviewers, 500)
    rate_line("score submissions (4 criteria)", scored, t_score, 500, base_seconds)
    rate_line("council decisions", decided, t_decide, 500, base_seconds)

    say("tranches, progress, completions")
    t = time.perf_counter()
    for app_id in awarded:
        amount = session.get(Application, app_id).amount_awarded
        pay_tranche(session, bank, app_id, amount=amount // 2, memo=None, user=clerk, clock=CLOCK)
    t_tranche = time.perf_counter() - t
    fund = accounts.system_account(session, bank.id, CNY, "fund")
    spent = accounts.system_account(session, bank.id, CNY, "spent:goods")
    t = time.perf_counter()
    for _ in range(len(awarded)):
        with transaction(session):
            post(session, bank.id, [Draft(ledger=CNY, debit_id=fund.id, credit_id=spent.id, amount=1,
                                          kind="bench", occurred_on=TODAY)], by="bench", clock=CLOCK)
    rate_line("tranches (pay_tranche)", len(awarded), t_tranche, len(awarded), time.perf_counter() - t)
    for n, app_id in enumerate(awarded):
        add_progress(session, bank, app_id, reported_on=TODAY, percent=50, text="过半",
                     photos=[], user=clerk, clock=CLOCK, instance_path=app.config["FOUNDATION_FILES"])
        if n % 3 == 0:
            half = session.get(Application, app_id).disbursed
            complete(session, bank, app_id, spent=[("材料", half - 100)], report="完工",
                     user=clerk, clock=CLOCK)

    say("listing and pages")
    first_ids = [a.id for a in list_applications(session, bank, limit=50)]
    session.rollback()

    def baseline_list():
        session.execute(select(Application).where(Application.bank_id == bank.id)
                        .order_by(Application.id.desc()).limit(51)).scalars().all()
        session.rollback()

    api = f"/api/v1/banks/{bank.code}/foundation/applications"
    assert client.get(api, headers=auth).get_json()["items"][0]["id"] == first_ids[0]
    base = timed(baseline_list, 200)
    line("GET applications (50)", timed(lambda: client.get(api, headers=auth), 200), base, 50)
    line("GET applications?state=in_progress", timed(
        lambda: client.get(api + "?state=in_progress", headers=auth), 200), base, 50)

    from flask import render_template_string

    def baseline_public():
        rows = session.execute(select(Application).where(
            Application.bank_id == bank.id, Application.state.in_(wf.FUNDED))).scalars().all()
        # Rendered as a request would be: the layout's context builds URLs, which needs one.
        with app.test_request_context(f"/p/{bank.code}/foundation"):
            render_template_string("<table>{% for a in rows %}<tr><td>{{ a.title }}</td>"
                                   "<td>{{ a.amount_awarded }}</td></tr>{% endfor %}</table>", rows=rows)
        session.rollback()

    public = client.get(f"/p/{bank.code}/foundation")
    print(f"  public page: {len(public.data) // 1024} KiB, {len(public_projects(session, bank))} projects, "
          f"{len(wish_wall(session, bank))} wishes")
    session.rollback()
    line("GET /p/<bank>/foundation", timed(lambda: client.get(f"/p/{bank.code}/foundation"), 50),
         timed(baseline_public, 50), 200)

    say("quarterly PDF")
    from web.pdf import render_pdf

    pdf_url = f"/api/v1/banks/{bank.code}/foundation/reports/{TODAY.year}-Q4.pdf"
    ours = timed(lambda: client.get(pdf_url, headers=auth), 2)
    base = timed(lambda: render_pdf("<p>综治银行</p>"), 2)
    line("quarterly PDF", ours, base)
    if args.pdf:
        Path(args.pdf).write_bytes(client.get(pdf_url, headers=auth).data)
        print(f"  wrote {args.pdf}")
    totals = quarter_report(session, bank, TODAY.year, 4)["totals"]
    print(f"  quarter totals: {totals}")
    print(f"  figures: {len(ids)} applications, {scored} score submissions, {decided} decisions, "
          f"{len(awarded)} awards")


if __name__ == "__main__":
    main()
