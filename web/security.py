"""Security settings every response shares: session cookies and HTTP security headers."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

#: Only this site's styles (inline ones in the layout), no scripts but its own, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
                           "frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=(self)",
}


class SessionCookies(SecureCookieSessionInterface):
    """Session cookies marked Secure whenever the site is served over HTTPS (or always, if set)."""

    def open_session(self, app: Flask, request):
        # A request without the cookie (every API call) opens an empty session, as Flask's own
        # does once it has built its signer (some 30 µs), which such a request never uses.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        forced = app.config.get("SECURE_COOKIES") == "1"  # read as on or off by zongzhi.config
        return forced or request.is_secure


def init_app(app: Flask) -> None:
    """Harden the session cookie and add the security headers to every response."""
    defaults = {
        "SESSION_COOKIE_NAME": "zongzhi_session",
        "SESSION_COOKIE_HTTPONLY": True,
        # Another site's form posts arrive without the cookie: a second wall behind CSRF tokens.
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=1),
    }
    app.config.update(defaults)
    app.session_interface = SessionCookies()

    @app.after_request
    def _headers(response):
        # Each header the view did not set itself, as `setdefault` would, looked up in one pass.
        headers = response.headers
        present = {key.lower() for key in headers.keys()}
        for lower, name, value in _HEADERS_BY_LOWER:
            if lower not in present:
                headers.add(name, value)
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # A shared office laptop must not keep residents' pages in its cache for the next user.
        if "cache-control" not in present and not request.path.startswith("/static/") \
                and _signed_in(app):
            headers["Cache-Control"] = "no-store"
        return response


_HEADERS_BY_LOWER = [(name.lower(), name, value) for name, value in HEADERS.items()]


def _signed_in(app: Flask) -> bool:
    # Someone is signed in if this request loaded them (or signed them in); if it did not and
    # came with neither cookie, nobody can be: the API's bearer calls skip loading no one.
    if g.get("_login_user") is None and not (
            request.cookies.get(app.config["SESSION_COOKIE_NAME"])
            or request.cookies.get(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))):
        return False
    return bool(current_user) and current_user.is_authenticated
