"""Where an HTTP deed's time goes: a profile of POST /api/v1/banks/{bank}/deeds, by stage.

The app is called as waitress calls it (its WSGI callable, an environ built once per request
outside the clock), on SQLite in a temporary directory (or PostgreSQL with --postgres-url),
under cProfile. The stages are the functions each request passes through, their inclusive time
per request:

    flask      everything that is not one of the stages below (routing, request and app
               contexts, teardown, the WSGI answer)
    auth       web.auth.current_user + scoped_bank (token digest, user, bank)
    validate   marshmallow's DeedIn.load and the Idempotency-Key fingerprint
    posting    ledger.deeds.post_deed without its commit (lock, reads, caps, drafts, post, audit)
    commit     the write transaction's COMMIT (the fsync, or joining a group commit)
    answer     the JSON answer (transfers_json, jsonify)

    .venv/bin/python bench/profile_deed.py [--requests 2000] [--team 1] [--top 25]

It prints the stages and the functions that cost most (cumulative), then exits 0.
"""
from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/ledger.py is named like the package: put the project root first and drop bench/.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]
_spec = importlib.util.spec_from_file_location("bench_village", BENCH_DIR / "village.py")
village = sys.modules["bench_village"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(village)

SORT = "cumulative"

STAGES = {
    "auth": [("web/auth.py", "scoped_bank")],  # which calls current_user
    "validate": [("web/api.py", "load"), ("web/api.py", "idempotency")],
    "posting": [("ledger/deeds.py", "post_deed")],
    "commit": [("sqlalchemy/orm/session.py", "commit")],
    "answer": [("ledger/answers.py", "deed_answer")],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--team", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--postgres-url")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative or tottime")
    args = parser.parse_args()

    import migrations
    from werkzeug.test import EnvironBuilder

    from zongzhi.app import create_app

    with tempfile.TemporaryDirectory(prefix="zongzhi-profile-") as tmp:
        url = args.postgres_url or f"sqlite:///{tmp}/profile.db"
        migrations.upgrade(url)
        clock = village.wall_clock()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "profile"})
        [bank] = village.build(app.extensions["zongzhi.sessions"], banks=1, residents=max(200, args.team * 10),
                               clock=clock)
        headers = {"Authorization": f"Bearer {bank.token}", "Content-Type": "application/json"}
        path = f"/api/v1/banks/{bank.code}/deeds"
        day = village.yesterday(clock)
        residents, at = bank.residents, 0

        def environ():
            nonlocal at
            ids = [residents[(at + k) % len(residents)] for k in range(args.team)]
            at += args.team
            body = json.dumps({"rule": "cleanup", "residents": ids, "occurred_on": day})
            return EnvironBuilder(path=path, method="POST", headers=headers, data=body).get_environ()

        def call(env):
            status = []
            out = b"".join(app(env, lambda s, h, e=None: status.append(s)))
            assert status[0].startswith("201"), out[:300]

        for _ in range(50):  # warm-up: compiled statements, caches, the token's last use
            call(environ())
        envs = [environ() for _ in range(args.requests)]
        t0 = time.perf_counter()
        for env in envs[: args.requests // 2]:
            call(env)
        plain = (time.perf_counter() - t0) / (args.requests // 2)
        # CPU time, not wall time: on a shared machine the waits for a core would swamp the rest.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for env in envs[args.requests // 2:]:
            call(env)
        profiler.disable()
        n = args.requests - args.requests // 2
        stats = pstats.Stats(profiler)
        total = sum(row[3] for key, row in stats.stats.items() if key[2] == "__call__" and "flask/app.py" in key[0])
        if not total:
            total = stats.total_tt
        staged = {}
        for stage, wanted in STAGES.items():
            staged[stage] = sum(row[3] for (file, _line, name), row in stats.stats.items()
                                if any(file.endswith(f) and name == w for f, w in wanted))
        staged["posting"] -= staged["commit"]  # the commit runs inside post_deed's transaction
        staged["flask"] = total - sum(staged.values())
        print(f"{url.split(':')[0]}: {n} deeds of a team of {args.team}; unprofiled "
              f"{plain * 1000:.2f} ms a deed ({1 / plain:,.0f}/s on one thread); profiled:")
        for stage in ("flask", "auth", "validate", "posting", "commit", "answer"):
            print(f"  {stage:9} {staged[stage] / n * 1000:6.3f} ms  {staged[stage] / total:5.1%}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        app.extensions["zongzhi.engine"].dispose()


if __name__ == "__main__":
    main()
