"""Web servers keep no state: two `zongzhi serve` processes on one database and one Redis count
one client's failed sign-ins together, and a session begun on one is good on the other."""
from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from .. import served

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/13"
PASSWORD = "correct horse battery"


@pytest.fixture
def servers(database_url, tmp_path):
    """Two `zongzhi serve` processes sharing the database, the secret key and Redis."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    import redis

    # This Redis database is the test's own, but its counters outlive a run: the address's
    # failures from earlier runs would slow this one down before it starts.
    stored = redis.Redis.from_url(REDIS)
    stored.delete(*stored.keys("LIMITS:zongzhi/address/127.0.0.1/*") or ["none"])
    stored.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ZONGZHI_DATABASE_URL": database_url,
           "ZONGZHI_SECRET_KEY": "k" * 64, "ZONGZHI_REDIS_URL": REDIS, "ZONGZHI_INSTANCE": str(tmp_path),
           "ZONGZHI_PUBLIC_URL": "http://127.0.0.1"}
    procs, bases = [], []
    for _ in range(2):
        port = served.free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "zongzhi.cli", "serve", "--port", str(port)],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for proc, base in zip(procs, bases):
            while True:
                try:
                    urllib.request.urlopen(base + "/login", timeout=2).close()
                    break
                except OSError:  # not listening yet, or not yet answering
                    assert proc.poll() is None, proc.stderr.read().decode()
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
        yield bases
    finally:  # stopped whether they started or not
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Client:
    """One browser: its cookies go to whichever server it asks."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, url) -> tuple[int, str]:
        try:
            with self.opener.open(url, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def sign_in(self, base, name, password) -> tuple[int, dict]:
        _, page = self.get(base + "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": token}).encode()
        try:
            with self.opener.open(urllib.request.Request(base + "/login", data=data), timeout=10) as answer:
                return answer.status, dict(answer.headers)
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers)


def test_two_servers_count_one_clients_failed_sign_ins_together_and_share_sessions(servers, make):
    first, second = servers
    bank = make.bank()
    name = f"wang{uuid.uuid4().hex[:8]}"  # the counters live in a Redis other runs share
    make.user(bank, "clerk", name=name)
    make.session.commit()
    guesser = Client()
    # five failures, split between the servers: either alone has seen too few to slow anyone
    for base in (first, second, first, second, first):
        assert guesser.sign_in(base, name, "wrong password")[0] == 401
    status, headers = guesser.sign_in(second, name, PASSWORD)
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 2  # a second, rounded up
    time.sleep(int(headers["Retry-After"]) + 0.2)
    owner = Client()
    assert owner.sign_in(second, name, PASSWORD)[0] == 200  # followed to the bank's page
    # signed in on one server, the same cookie is good on the other
    status, page = owner.get(first + f"/banks/{bank.code}/")
    assert status == 200 and "和平村综治银行" in page
