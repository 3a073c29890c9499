"""Pins: each use of another library beyond its documented API, held to what the library does.

Each test names the versions it was checked against. When one fails after an upgrade, the
shortcut it pins no longer does what the code relies on: fix the shortcut (or drop it for the
library's public way), then move the versions named here.

| shortcut | library, versions checked | where |
| --- | --- | --- |
| the C encoder built once (`json.encoder.c_make_encoder`) | CPython 3.11.7, 3.12.1, 3.13.0 | ledger/chain.py |
| a lean user-agent stylesheet (`HTML._ua_stylesheets`) | WeasyPrint 70.0 (rendered); 62.0, 66.0 (the hook read in their source) | reports/paper.py |
| parameters converted from the compiled statement (`binds`, `positiontup`, bind processors), driver errors raised through `DBAPIError.instance` | SQLAlchemy 2.1.9 and 2.0.58, psycopg 3.3.9 | ground/store.py |
| a session's transaction as the key of what it holds | SQLAlchemy 2.1.9 and 2.0.58 | ground/store.py |
| result values converted by the column types' result processors; an instance made as loading makes it (`ClassManager.new_instance`) | SQLAlchemy 2.1.9, SQLModel 0.0.50 | ground/store.py |
| a URL rule's converters (`Rule._converters`) | Werkzeug 3.1.9 | zongzhi/openapi.py |
"""
from __future__ import annotations

import enum
import json
import subprocess
import sys
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from ground.store import Prepared
from ledger import chain

# --- CPython's json: the C encoder built once ------------------------------------------------------


class Size(enum.IntEnum):
    SMALL = 1


class Name(str):
    pass


class Ratio(float):
    pass


BEIJING = timezone(timedelta(hours=8))


def _deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [{"d": value}]
    return value


#: Values where an encoder's choices show: escapes, surrogates, number forms, subclasses, keys
#: of every JSON kind, dates and times in and out of UTC, deep nesting.
TRICKY = [
    None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**40, Size.SMALL,
    0.0, -0.0, 1.5, 0.1 + 0.2, 1e16, 1e-7, 1e308, 5e-324, float("nan"), float("inf"), float("-inf"),
    Ratio(2.5), "", "a", Name("子类"), "中文 𠮷 䶮", "\x00\x1f\x7f\x80\x9f", "\u2028\u2029", "\"\\/\b\f\n\r\t",
    "\ud800", "a\udfffb", "\ue000\uffff", "👍🏽", "\u00e9e\u0301",
    [], {}, (), [[[]]], [1, "2", None, [3.5, {"k": ()}]], tuple(range(20)),
    {"b": 1, "a": 2, "中": 3, "A": 4, "é": 5, "𠮷": 6, "": 7},
    {1: "one", 2: "two", -3: "minus"}, {1.5: "x", 2.25: "y"}, {True: 1, False: 0}, {None: "null"},
    OrderedDict([("z", 1), ("y", 2)]),
    date(2026, 2, 28), datetime(2026, 1, 2, 3, 4, 5, 6), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    datetime(2026, 1, 2, 11, 4, 5, 999999, tzinfo=BEIJING),
    {"when": datetime(2026, 10, 15, 23, 59, tzinfo=BEIJING), "day": date(2026, 10, 15), "seq": [1, 2]},
    ["POST", "/api/v1/hp/deeds", {"residents": [3, 1, 2], "memo": "跨年 \"引号\"", "quantity": 1}],
    (1, 12345, "PTS", 17, 42, 5, "deed", "cleanup", 1, 42, date(2026, 10, 1),
     datetime(2026, 10, 15, 2, 0, 0, 123, tzinfo=timezone.utc), "clerk", None, None, "k", "f" * 64),
    _deep(100),
]


def _standard(value, *, sort_keys: bool) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                      default=chain._plain)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="the C encoder is CPython's")
def test_the_canonical_encoder_is_built_from_cpythons_c_encoder():
    # Were c_make_encoder gone, the chain would still encode right, through JSONEncoder.encode,
    # but verify would lose a fifth of its speed: this says so before the bench does.
    assert json.encoder.c_make_encoder is not None
    assert not hasattr(chain._dumps, "__self__") and not hasattr(chain._dumps_sorted, "__self__")


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_the_canonical_encoder_gives_json_dumps_bytes_exactly(value):
    assert chain._dumps(value) == _standard(value, sort_keys=False)
    assert chain.canonical_json(value) == _standard(value, sort_keys=True)


@pytest.mark.parametrize("value", [object(), {1, 2}, Decimal("1.5"), b"bytes", {"a": 1, 2: "b"},
                                   {(1, 2): "tuple key"}, [1, complex(1, 2)]])
def test_the_canonical_encoder_refuses_what_json_dumps_refuses(value):
    for ours, sort_keys in ((chain._dumps, False), (chain.canonical_json, True)):
        try:
            expected = _standard(value, sort_keys=sort_keys)
        except (TypeError, ValueError) as refused:
            with pytest.raises(type(refused)):
                ours(value)
        else:
            assert ours(value) == expected


def test_snapshots_and_fingerprints_use_the_one_canonical_encoder():
    from reports import services

    content = {"bank": {"code": "hp", "name": "和平村"}, "rows": [{"b": 2, "a": 1}], "hash": "ab" * 32}
    assert services.canonical_json is chain.canonical_json
    # The form snapshots were frozen in before there was one encoder: the same bytes.
    assert chain.canonical_json(content) == json.dumps(content, ensure_ascii=False, sort_keys=True,
                                                       separators=(",", ":"), default=str)


# --- WeasyPrint: the lean user-agent stylesheet ----------------------------------------------------

def _pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode("utf-8")


def test_the_lean_user_agent_stylesheet_and_only_it_takes_effect_on_a_rendered_pdf():
    import weasyprint

    from reports import paper
    from web.pdf import render_pdf

    html = ("<html><head><title>TITLEMARK</title><style>.x { color: #000 }</style></head>"
            "<body><p hidden>HIDDENMARK</p><p>BODYMARK</p></body></html>")
    lean = _pdf_text(paper.to_pdf(html, ""))
    # The lean sheet applies (a document's head is not printed) and WeasyPrint's own does not
    # (it hides [hidden]); the plain render shows the full sheet would have.
    assert "BODYMARK" in lean and "TITLEMARK" not in lean and "HIDDENMARK" in lean, lean
    plain = _pdf_text(render_pdf(html))
    assert "BODYMARK" in plain and "HIDDENMARK" not in plain, plain
    # The hook is asked once a render, with the document's forms option (unset: no forms).
    asked = []

    class Probe(paper._LeanHTML):
        def _ua_stylesheets(self, forms=False):
            asked.append(forms)
            return super()._ua_stylesheets(forms)

    Probe(string=html).render()
    assert len(asked) == 1 and not asked[0], (weasyprint.__version__, asked)


# --- SQLAlchemy: statements run on the driver ------------------------------------------------------

def _sent_by_sqlalchemy(session, statement, params):
    """What SQLAlchemy's own execution of the statement sends to the driver: (sql, arguments)."""
    engine = session.get_bind()
    connection = session.connection()
    sent = []

    def capture(conn, cursor, sql, parameters, context, executemany):
        sent.append((sql, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        connection.execute(statement, params)
    except DBAPIError:
        pass  # what was sent is what counts here, not whether the database took it
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(sql, args)] = sent
    return sql, args


def _typed(args):
    # Equal values of different types (True and 1) must not pass for one another.
    items = args.items() if isinstance(args, dict) else enumerate(args)
    return sorted((key, type(value).__name__, repr(value)) for key, value in items)


def _statements(session, make, clock):
    """The posting path's statements and a few others, with the parameters they are run with."""
    from ground import audit
    from ledger import accounts, idempotency, periods, posting, roster
    from ledger.models import PTS
    from stats import upkeep

    bank = make.bank()
    resident = make.resident(bank)
    session.commit()
    issued = accounts.system_account(session, bank.id, PTS, "issued")
    earner = accounts.resident_account(session, resident)
    session.commit()
    at = datetime(2026, 10, 15, 10, 0, 0, 1234, tzinfo=BEIJING)
    transfer = dict(bank_id=bank.id, seq=1, ledger=PTS, debit_id=issued.id, credit_id=earner.id, amount=3,
                    kind="deed", rule_code="cleanup", rule_version=1, doer_id=resident.id,
                    occurred_on=date(2026, 10, 14), recorded_at=at, recorded_by="t", memo="备注",
                    reverses_id=None, idempotency_key=None, request_hash=None,
                    prev_hash="0" * 64, hash="1" * 64)
    return [
        (posting._LOCK, {"bank": bank.id}),
        (Prepared(posting._INSERT.statement, columns=list(transfer)), transfer),
        (posting._MOVE_BALANCE, {"bank": bank.id, "account": earner.id, "delta": 3}),
        (posting._MOVE_HEAD, {"bank": bank.id, "seq": 1, "hash": "1" * 64}),
        (audit._INSERT, {"bank_id": bank.id, "at": at, "actor": "t", "action": "pin", "subject": None,
                         "detail": '{"a":1}'}),
        (idempotency._REMEMBER, {"bank_id": bank.id, "user_id": 0, "key": "k", "request_hash": "h",
                                 "status": 201, "outcome": "{}", "created_at": at}),
        (idempotency._STORED, {"bank": bank.id, "user": 0, "key": "k"}),
        (periods._SEALED, {"bank": bank.id, "month": "2026-10"}),
        (roster._INSERT_HOUSEHOLD, {"bank_id": bank.id, "code": "P1", "name": "户", "active": True,
                                    "created_at": at}),
        (upkeep._PROGRESS_ROW[session.get_bind().dialect.name], {"bank": bank.id}),
    ]


def test_prepared_statements_send_the_driver_what_sqlalchemy_sends(session, make, clock):
    for prepared, params in _statements(session, make, clock):
        connection = session.connection()
        ours_sql, convert = prepared._for(connection.dialect)
        ours_args = convert(dict(params))
        their_sql, their_args = _sent_by_sqlalchemy(session, prepared.statement, params)
        assert ours_sql == their_sql
        assert _typed(ours_args) == _typed(their_args), ours_sql
        session.rollback()


def test_prepared_statements_raise_the_errors_sqlalchemy_raises(session, make, clock):
    from ledger import idempotency

    bank = make.bank()
    session.commit()
    row = {"bank_id": bank.id, "user_id": 0, "key": "k", "request_hash": "h", "status": 201,
           "outcome": "{}", "created_at": clock.now()}
    refused = {}
    for who, run in (("ours", lambda: idempotency._REMEMBER.execute(session, row)),
                     ("theirs", lambda: session.connection().execute(idempotency._REMEMBER.statement, row))):
        run()
        with pytest.raises(DBAPIError) as caught:
            run()
        refused[who] = caught.value
        session.rollback()
    ours, theirs = refused["ours"], refused["theirs"]
    assert type(ours) is type(theirs) and type(ours.orig) is type(theirs.orig)
    assert ours.statement == theirs.statement
    assert getattr(ours.orig, "sqlstate", None) == getattr(theirs.orig, "sqlstate", None)


def test_what_a_transaction_holds_is_let_go_with_it(session, make):
    from ground.store import connection_of, per_transaction

    make.bank()
    session.commit()
    assert session.get_transaction() is None
    assert per_transaction(session, "pin", list) == [] and "pin" not in session.info
    connection = connection_of(session)
    first = session.get_transaction()
    assert first is not None and connection is session.connection()
    kept = per_transaction(session, "pin", list)
    kept.append(1)
    assert per_transaction(session, "pin", list) is kept and connection_of(session) is connection
    for end in (session.commit, session.rollback):
        end()
        assert session.get_transaction() is None
        again = connection_of(session)
        assert session.get_transaction() is not first and again is session.connection()
        assert per_transaction(session, "pin", list) == []
        first = session.get_transaction()


def test_typed_rows_read_alone_give_what_sqlalchemys_own_results_give(app, session, make, clock):
    from sqlalchemy import select

    from ground.store import Prepared
    from ground.tenants import ApiToken, Bank, User

    bank = make.bank()
    user = make.user(bank, "clerk")
    session.add(ApiToken(user_id=user.id, token_hash="h" * 64, created_at=clock.now(),
                         expires_at=clock.now(), last_used_at=clock.now()))
    session.commit()
    statement = (select(User.name, User.active, User.created_at, ApiToken.last_used_at, Bank.head_seq)
                 .join(ApiToken, ApiToken.user_id == User.id).join(Bank, Bank.id == User.bank_id)
                 .where(User.id == user.id))
    theirs = [tuple(row) for row in session.execute(statement)]
    session.rollback()
    ours = Prepared(statement, typed=True).read_alone(app.extensions["zongzhi.engine"])
    assert [tuple(row) for row in ours] == theirs
    assert [type(value) for value in ours[0]] == [type(value) for value in theirs[0]]
    assert isinstance(ours[0].created_at, datetime) and ours[0].active is True
    # The read began nothing in the session, and the connection went back to the pool as it came:
    # idle, and on PostgreSQL no longer in the autocommit the read ran in.
    engine = app.extensions["zongzhi.engine"]
    assert session.get_transaction() is None
    assert engine.pool.checkedout() == 0
    fairy = engine.raw_connection()
    try:
        driver = fairy.driver_connection
        if engine.dialect.name == "postgresql":
            from psycopg.pq import TransactionStatus

            assert driver.autocommit is False and driver.info.transaction_status == TransactionStatus.IDLE
        else:
            assert not driver.in_transaction
    finally:
        fairy.close()


def test_a_detached_instance_is_the_row_it_describes(session, make):
    from sqlalchemy import event, inspect

    from ground.store import detached
    from ground.tenants import Bank, User

    bank = make.bank()
    user = make.user(bank, "clerk")
    session.commit()
    values = {prop.key: getattr(user, prop.key) for prop in inspect(User).column_attrs}
    session.expunge_all()
    made = detached(User, values)
    state = inspect(made)
    assert state.detached and state.key == inspect(User).identity_key_from_primary_key((user.id,))
    assert {key: getattr(made, key) for key in values} == values and made == user
    # Taken into a session, it is the existing row: nothing is inserted, and a change is an UPDATE.
    sent = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *a: sent.append(a[2]))
    try:
        session.add(made)
        session.flush()
        assert sent == []
        made.role = "reviewer"
        session.flush()
        assert [sql.split()[0] for sql in sent] == ["UPDATE"]
    finally:
        session.rollback()
    bank_values = {prop.key: getattr(bank, prop.key) for prop in inspect(Bank).column_attrs}
    assert detached(Bank, bank_values).head_hash == bank.head_hash
    with pytest.raises(KeyError):
        detached(Bank, {"id": bank.id})


# --- Werkzeug: a rule's converters -----------------------------------------------------------------

def test_a_url_rules_converters_are_found_by_name_in_order():
    from werkzeug.routing import AnyConverter, IntegerConverter, Map, Rule, UnicodeConverter

    rule = Rule("/b/<int(min=1):seq>/<any(day,month):kind>/<name>", endpoint="e")
    Map([rule])
    assert list(rule._converters) == ["seq", "kind", "name"]
    seq, kind, name = rule._converters.values()
    assert isinstance(seq, IntegerConverter) and isinstance(name, UnicodeConverter)
    assert isinstance(kind, AnyConverter) and sorted(kind.items) == ["day", "month"]
