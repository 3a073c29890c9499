"""The hash chain: a canonical encoding of a transfer and the hash that links it to the last."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, Sequence

#: The columns a transfer's hash covers, in order. Its own id is not among them: the chain
#: is identified by (bank, seq), which is known before the row is written.
CHAINED_COLUMNS = (
    "bank_id", "seq", "ledger", "debit_id", "credit_id", "amount", "kind",
    "rule_code", "rule_version", "doer_id", "occurred_on", "recorded_at", "recorded_by",
    "memo", "reverses_id", "idempotency_key", "request_hash",
)

def _plain(value: Any) -> Any:
    # Dates and times as the same text on every database and in every session timezone:
    # UTC, "YYYY-MM-DD HH:MM:SS.ffffff", no offset. The encoder calls this only for values
    # JSON has no form of, so the plain ones (most of a transfer) cost nothing extra.
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            offset = value.utcoffset()
            value = (value - offset if offset else value).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no canonical form")


def _encoder(*, sort_keys: bool):
    # The one canonical JSON: text as it is (no \u escapes), no spaces, dates and times as
    # `_plain` gives them, nothing else beyond JSON's own values. On CPython, the C encoder that
    # `JSONEncoder.encode` builds on every call (json.encoder.c_make_encoder, not a documented
    # API) is built once here: the same bytes, without the per-call setup (a fifth of the time
    # verify spends on each transfer). tests/ground/test_pins.py holds it to json.dumps's bytes.
    # Without the C accelerator, the standard encoder does it all.
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                                default=_plain)
    make = json.encoder.c_make_encoder
    if make is None:
        return standard.encode
    once = make(None, standard.default, json.encoder.encode_basestring, standard.indent,
                standard.key_separator, standard.item_separator, standard.sort_keys,
                standard.skipkeys, standard.allow_nan)

    def dumps(value, _join="".join, _once=once) -> str:
        return _join(_once(value, 0))

    return dumps


_dumps = _encoder(sort_keys=False)
_dumps_sorted = _encoder(sort_keys=True)


def canonical_json(value: Any) -> str:
    """Encode data as canonical JSON text with sorted keys: what request fingerprints and the
    reports' frozen snapshots hash (as UTF-8)."""
    return _dumps_sorted(value)


def canonical(values: Sequence[Any]) -> bytes:
    """Encode a transfer's chained values (in CHAINED_COLUMNS order) as canonical UTF-8 JSON."""
    return _dumps(tuple(values)).encode("utf-8")


def link(prev_hash: str, values: Sequence[Any], _sha256=hashlib.sha256) -> str:
    """Return the hash of a transfer: sha256 over the previous hash and its canonical encoding."""
    # One buffer, one digest: verify calls this for every transfer a bank ever posted.
    # The previous hash is hex, so encoding it with the rest as UTF-8 gives the same bytes.
    return _sha256(f"{prev_hash}\n{_dumps(tuple(values))}".encode("utf-8")).hexdigest()


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """Hash a request so a retried one can be told from a different one under the same key.

    surrogatepass: a body may hold a lone surrogate ("\\ud800") in a field no schema reads; it
    is hashed as it came rather than answering 500 (valid text hashes exactly as UTF-8).
    """
    text = canonical_json([method, path, body])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
