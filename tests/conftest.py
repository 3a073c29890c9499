"""Fixtures: a fresh database per test, on SQLite and (when configured) on PostgreSQL.

The schema is built once per run by the real migrations; each test then starts from a copy
(SQLite) or from emptied tables (PostgreSQL), so the suite stays fast and every test is alone.
"""
from __future__ import annotations

import os
import shutil
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import migrations
from ground.clock import FixedClock
from ground.db import normalize_url
from zongzhi.tables import metadata

from . import caches

caches.install()

POSTGRES_URL = os.environ.get("ZONGZHI_TEST_POSTGRES_URL")
CHROMIUM = "/usr/bin/chromium"

#: Wednesday 15 October 2026, 10:00 in the village.
NOW = datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc)

#: A small rule file most tests share; each test that needs others writes its own.
RULES = textwrap.dedent("""\
    bank:
      account_unit: person
    rules:
      - code: patrol
        name: 夜间巡逻
        category: 社会治安
        points: 2
        unit: 小时
        caps: {day: 8, month: 60}
      - code: cleanup
        name: 环境整治
        category: 环境卫生
        points: 3
        unit: 次
      - code: mediation
        name: 调解纠纷
        category: 矛盾纠纷调解
        points: 10
        unit: 次
        review: true
        notice: category_only
        caps: {month: 30}
      - code: litter
        name: 乱扔垃圾
        category: 环境卫生
        points: -5
        unit: 次
    """)

HOUSEHOLD_RULES = RULES.replace("account_unit: person", "account_unit: household")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request, tmp_path_factory, worker_id):
    """The database under test: a template to copy (SQLite) or a migrated database (PostgreSQL)."""
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("template") / "template.db"
        migrations.upgrade(f"sqlite:///{template}")
        yield {"name": "sqlite", "template": template}
        return
    if not POSTGRES_URL:
        pytest.skip("ZONGZHI_TEST_POSTGRES_URL is not set")
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"zongzhi_test_{worker_id}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(POSTGRES_URL).rsplit("/", 1)[0] + f"/{name}"
    migrations.upgrade(url)
    # One connection, kept for the whole run, empties the database before each test (a test
    # that ends every other connection may end this one too: the pool then opens another).
    keeper = create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    yield {"name": "postgresql", "url": url, "keeper": keeper}
    keeper.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


#: Empties the PostgreSQL database in one round trip. A connection the last test leaked must not
#: hold a lock that makes this wait forever, so every other connection is ended first. Emptying
#: the append-only table needs its guard off; only the test harness does this. DELETE, not
#: TRUNCATE: a test fills a few small tables, and DELETE on an empty table costs nothing while
#: TRUNCATE pays a fixed price for each of them. Only the sequences a test used are restarted
#: (one never used, or restarted, has no last value).
EMPTY_POSTGRESQL = """\
DO $$
DECLARE name text;
BEGIN
  PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid();
  SET LOCAL session_replication_role = replica;
  FOREACH name IN ARRAY ARRAY[{tables}]::text[] LOOP
    EXECUTE 'DELETE FROM ' || quote_ident(name);
  END LOOP;
  FOR name IN SELECT sequencename FROM pg_sequences
      WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
    EXECUTE 'ALTER SEQUENCE ' || quote_ident(name) || ' RESTART';
  END LOOP;
END $$""".format(tables=", ".join(f"'{t.name}'" for t in reversed(metadata.sorted_tables)))


@pytest.fixture
def database_url(backend, tmp_path):
    """A URL to an empty, fully migrated database for this test alone."""
    if backend["name"] == "sqlite":
        path = tmp_path / "zongzhi.db"
        shutil.copy(backend["template"], path)
        return f"sqlite:///{path}"
    with backend["keeper"].begin() as conn:
        conn.exec_driver_sql(EMPTY_POSTGRESQL)
    return backend["url"]


@pytest.fixture
def clock():
    return FixedClock(at=NOW)


@pytest.fixture
def app(database_url, clock, tmp_path):
    from zongzhi.app import create_app

    app = create_app({"DATABASE_URL": database_url, "CLOCK": clock, "TESTING": True,
                      "SECRET_KEY": "test"})
    yield app
    app.extensions["zongzhi.engine"].dispose()


@pytest.fixture
def app_context(app):
    """The app's context, for what renders outside a request (printed paper, say)."""
    with app.app_context():
        yield app


@pytest.fixture
def session(app):
    s = app.extensions["zongzhi.sessions"]()
    yield s
    s.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def signed_in(app):
    """Return a function that signs a test client in as a user, as the sign-in page does.

    The session is opened on record and its secret put in the client's cookie; without a
    client, a fresh one is made.
    """
    from web.auth import SESSION_SECRET, start_session

    def sign(user, client=None):
        client = client or app.test_client()
        db = app.extensions["zongzhi.sessions"]()
        try:
            secret = start_session(db, user, lifetime=app.config["PERMANENT_SESSION_LIFETIME"],
                                   clock=app.extensions["zongzhi.clock"])
        finally:
            db.close()
        with client.session_transaction() as s:
            s["_user_id"] = str(user.id)
            s["_fresh"] = True
            s[SESSION_SECRET] = secret
        return client

    return sign


@pytest.fixture
def make(session, clock):
    """Small factories for test data: banks, households, residents, users with tokens."""
    return Factory(session, clock)


class Factory:
    def __init__(self, session, clock):
        self.session, self.clock = session, clock
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def bank(self, code="hp", name="和平村综治银行", rules=RULES):
        from ledger import banks

        return banks.create_bank(self.session, code, name, rules_text=rules,
                                 source_name="test.yaml", by="test", clock=self.clock)

    def household(self, bank, code=None, name=None):
        from ledger import people

        return people.create_household(self.session, bank, code=code or f"H{self._next():03d}",
                                       name=name, clock=self.clock)

    def resident(self, bank, name="张三", household=None, phone=None):
        from ledger import people

        household = household or self.household(bank)
        return people.create_resident(self.session, bank, name=name, household=household.code,
                                      phone=phone, clock=self.clock)

    def user(self, bank, role="clerk", name=None):
        from web.auth import create_user

        return create_user(self.session, name or f"{role}{self._next()}",
                           bank_code=bank.code if bank else None, role=role,
                           password="correct horse battery", clock=self.clock)

    def token(self, bank, role="clerk") -> dict:
        """Create a user of the bank with the role and return the Authorization header for it."""
        from web.auth import create_token

        user = self.user(bank, role)
        return {"Authorization": f"Bearer {create_token(self.session, user.name, clock=self.clock)}"}

    def deed(self, bank, rule, residents, *, quantity=1, occurred_on=None, memo=None, idem=None):
        from ledger import deeds

        return deeds.post_deed(self.session, bank, rule_code=rule,
                               resident_ids=[r.id for r in residents], quantity=quantity,
                               occurred_on=occurred_on or self.clock.today(), memo=memo,
                               by="test", clock=self.clock, idem=idem)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free local port, for the browser; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def playwright():
    """Playwright itself, once per test worker: its sync API may run only once in a process."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    """Headless Chromium (Debian's), driven by Playwright; one per test worker."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    yield chromium
    chromium.close()


@pytest.fixture
def artifacts():
    """The folder where browser tests leave screenshots for a person to look at (not committed)."""
    folder = Path(__file__).resolve().parent / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder


def pytest_collection_modifyitems(items):
    """Run the slow tests first (keeping the order within each group), so that with several
    workers none of them starts last and leaves the other workers idle while it runs."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
