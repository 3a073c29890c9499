"""A server killed (kill -9) in the middle of a burst of deeds loses nothing it acknowledged.

The real `zongzhi serve` runs on SQLite with its group commit on; eight clients post deeds,
each with an idempotency key, as fast as it answers; the process is killed without warning
while they do. Every deed answered 201 must then be in the ledger, exactly as answered, the
chain intact, and its key must replay the same answer from the restarted server.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ground.db import make_engine, session_factory
from ledger.models import Transfer
from ground.tenants import Bank
from ledger.verify import verify_bank

from .. import served


CLIENTS = 8
ZONGZHI = str(Path(sys.executable).parent / "zongzhi")


def _serve(url: str, port: int, instance: Path) -> subprocess.Popen:
    env = {**os.environ, "ZONGZHI_DATABASE_URL": url, "ZONGZHI_SECRET_KEY": "crash test", "ZONGZHI_GROUP_COMMIT": "1",
           "ZONGZHI_INSTANCE": str(instance), "ZONGZHI_PUBLIC_URL": "http://127.0.0.1"}
    proc = subprocess.Popen([ZONGZHI, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server stopped on its own"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not answer within a minute")


@pytest.fixture
def village(tmp_path):
    return served.village(f"sqlite:///{tmp_path}/crash.db", CLIENTS)


def _post(conn, village, resident, key):
    body = json.dumps({"rule": "cleanup", "residents": [resident], "occurred_on": village["today"]})
    conn.request("POST", "/api/v1/banks/hp/deeds", body=body, headers={
        "Authorization": f"Bearer {village['token']}", "Content-Type": "application/json",
        "Idempotency-Key": key})
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read() or b"null")


def test_a_server_killed_mid_burst_keeps_every_deed_it_acknowledged(village, tmp_path):
    port = served.free_port()
    server = _serve(village["url"], port, tmp_path)
    acknowledged: dict[str, list[dict]] = {}
    stop = threading.Event()

    def client(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(100_000):
            if stop.is_set():
                return
            key = f"c{n}-{i}"
            try:
                status, body = _post(conn, village, village["residents"][n], key)
            except (OSError, http.client.HTTPException):
                return  # the server is gone: whatever was in flight was never acknowledged
            assert status == 201, body
            acknowledged[key] = body["transfers"]

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        server.kill()
        server.wait()
    assert len(acknowledged) >= 150, "the burst never got going"

    engine = make_engine(village["url"])
    try:
        with session_factory(engine)() as session:
            bank = session.get(Bank, village["bank_id"])
            assert verify_bank(session, bank).ok
            stored = {t.id: t for t in session.execute(
                select(Transfer).where(Transfer.bank_id == bank.id)).scalars()}
            for key, transfers in acknowledged.items():
                for answered in transfers:
                    kept = stored.get(answered["id"])
                    assert kept is not None, f"deed {key} was acknowledged and lost"
                    assert (kept.seq, kept.idempotency_key, kept.doer_id) == \
                        (answered["seq"], key, answered["resident"])
    finally:
        engine.dispose()

    # The restarted server honours every acknowledged key: the same answer, nothing new written.
    server = _serve(village["url"], port, tmp_path)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        before = len(stored)
        for key in list(acknowledged)[::25]:
            n = int(key[1:].split("-")[0])
            status, body = _post(conn, village, village["residents"][n], key)
            assert status == 201 and body["transfers"] == acknowledged[key]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)  # waitress lets its threads finish first: slower on a loaded machine
    engine = make_engine(village["url"])
    try:
        with session_factory(engine)() as session:
            assert session.query(Transfer).count() == before
    finally:
        engine.dispose()
