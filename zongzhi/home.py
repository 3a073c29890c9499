"""The front page: the banks on this server, their totals and the head of each hash chain."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ground.db import get_session
from ledger.models import PTS, Account, Resident, Transfer
from ground.tenants import Bank

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index():
    # Banks are walled from each other: a user sees their own bank, a county admin every bank.
    if not current_user.is_authenticated:
        return redirect(url_for("web.login"))
    session = get_session()
    residents = dict(session.execute(select(Resident.bank_id, func.count())
                                     .where(Resident.active.is_(True)).group_by(Resident.bank_id)).all())
    issued = dict(session.execute(select(Account.bank_id, -Account.balance).where(
        Account.ledger == PTS, Account.code == "issued")).all())
    outstanding = dict(session.execute(select(Account.bank_id, func.sum(Account.balance)).where(
        Account.ledger == PTS, Account.kind != "system").group_by(Account.bank_id)).all())
    last_day = dict(session.execute(select(Transfer.bank_id, func.max(Transfer.occurred_on))
                                    .group_by(Transfer.bank_id)).all())
    banks = [{"bank": b, "residents": residents.get(b.id, 0), "issued": issued.get(b.id, 0),
              "outstanding": outstanding.get(b.id, 0), "last_day": last_day.get(b.id)}
             for b in session.execute(select(Bank).order_by(Bank.code)).scalars()
             if current_user.role == "admin" or b.id == current_user.bank_id]
    return render_template("home.html", banks=banks)
