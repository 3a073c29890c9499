"""Signing in and out of the screens."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, Flask, current_app, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ground.db import get_session

from . import nav, security, throttle
from .api import clock
from .auth import SESSION_SECRET, TooManyAttempts, sign_in, sign_out
from .i18n import language

bp = Blueprint("web", __name__, template_folder="templates")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        try:
            signed_in = sign_in(get_session(), request.form.get("name", "").strip(),
                                request.form.get("password", ""), address=request.remote_addr or "",
                                throttle=throttle.throttle(), clock=clock(),
                                lifetime=current_app.config["PERMANENT_SESSION_LIFETIME"])
        except TooManyAttempts as refused:
            return (render_template("login.html", error=refused.text(language())), 429,
                    {"Retry-After": str(refused.retry_after)})
        if signed_in is not None:
            user, secret = signed_in
            session.clear()  # nothing from before signing in carries over into the new session
            login_user(user)
            session[SESSION_SECRET] = secret
            return redirect(_safe_next(request.args.get("next"))
                            or nav.landing(user, nav.users_bank(user)) or url_for("home.index"))
        error, status = _("用户名或密码不正确"), 401
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    """Sign out: the session ends on the server too, so a copy of its cookie is worth nothing."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    sign_out(get_session(), user, session.get(SESSION_SECRET), clock=clock())
    logout_user()
    session.clear()
    return redirect(url_for("web.login"))


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: never send someone who just signed in to another host.
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def init_app(app: Flask) -> None:
    security.init_app(app)
    nav.init_app(app)
    throttle.init_app(app)
