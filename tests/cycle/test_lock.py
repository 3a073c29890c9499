"""Two scheduler processes on one database never run the same (job, bank, period) twice."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from cycle import runs
from cycle.models import JobRun
from ground.db import make_engine, session_factory
from ledger import banks
from reports.models import Snapshot
from tests.conftest import RULES
from tests.reports.helpers import at

ROOT = Path(__file__).resolve().parents[2]

SWEEPER = """
import json, sys, time
from datetime import datetime
from zoneinfo import ZoneInfo
from ground.clock import FixedClock
from ground.db import make_engine, session_factory
from cycle import runs

url, start = sys.argv[1], float(sys.argv[2])
sessions = session_factory(make_engine(url))
tz = ZoneInfo("Asia/Shanghai")
clock = FixedClock(tz=tz, at=datetime(2026, 10, 15, 10, tzinfo=tz))
while time.time() < start:
    time.sleep(0.002)
print(json.dumps([[o.job, o.bank, o.period, o.status] for o in runs.sweep(sessions, clock=clock)]))
"""


def test_two_schedulers_started_at_once_share_the_work_without_running_anything_twice(session, database_url):
    for code in ("hp", "xz"):
        banks.create_bank(session, code, f"{code}村综治银行", rules_text=RULES, source_name="t",
                          by="t", clock=at(2026, 8, 1))
    start = time.time() + 3
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", SWEEPER, database_url, str(start)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    done = [{(j, b, p) for j, b, p, status in r if status == "done"} for r in results]
    assert all(status in ("done", "skipped", "busy") for r in results for *_, status in r), [
        o for r in results for o in r if o[3] not in ("done", "skipped", "busy")]
    assert not done[0] & done[1]
    assert results[0] and results[1]
    # what a process left because the other held the bank, the next sweep does
    rest = runs.sweep(session_factory(make_engine(database_url)), clock=at(2026, 10, 15, 10))
    assert all(o.status == "done" for o in rest)
    done.append({(o.job, o.bank, o.period) for o in rest})
    assert not (done[0] | done[1]) & done[2]
    session.expire_all()
    rows = session.execute(select(JobRun.job, JobRun.period, JobRun.status, JobRun.attempts)).all()
    assert len(rows) == len(done[0] | done[1] | done[2])
    assert all(status == "done" and attempts == 1 for _, _, status, attempts in rows), [r for r in rows if r[2] != "done" or r[3] != 1]
    assert session.execute(select(func.count()).select_from(Snapshot)).scalar() == len(
        [1 for j, _, _ in done[0] | done[1] | done[2] if j in ("daily", "monthly", "quarterly")])
