"""The audit log on screen (操作日志): who did what and when, each entry told in words.

The log itself is the ground floor's (ground/audit.py), written by every floor; reading it out
needs every wing's words (office/audit_labels.py), so the screen lives up here with the office's.
"""
from __future__ import annotations

from flask import render_template

from ground import audit
from ground.db import get_session
from web.api import query_text, query_whole
from web.auth import AUDITORS, scoped_bank

from . import audit_labels
from .views import bp

PAGE = 100


@bp.get("/banks/<bank>/audit")
def audit_log(bank):
    """The audit log of one bank, newest first: who did what and when."""
    bank, _user = scoped_bank(bank, AUDITORS)
    action = (query_text("action") or "").strip() or None
    actor = (query_text("actor") or "").strip() or None
    before = query_whole("before")
    found = audit.entries(get_session(), bank.id, action=action, actor=actor, before=before,
                          limit=PAGE + 1)
    more = len(found) > PAGE
    shown = found[:PAGE]
    names = audit_labels.referenced_names(get_session(), bank, shown)
    return render_template("office/audit.html", bank=bank, action=action or "", actions=audit_labels.ACTIONS,
                           entries=[(e, audit_labels.describe(e, names)) for e in shown],
                           actor=actor or "", next_before=found[PAGE - 1].id if more else None)
