"""The app factory: settings, extensions and blueprints, assembled in one place."""
from __future__ import annotations

from importlib import import_module
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from ledger import replica
from ground import db
from ground.clock import Clock

from . import config as settings

#: The packages with screens or endpoints: each has views.py with one blueprint `bp` (and may
#: have `init_app(app)` there for what else it sets up), registered in floor order.
PACKAGES = ("web", "ledger", "office", "foundation", "redemption", "reports", "cards", "stats",
            "cycle", "field")


def create_app(config: dict | None = None) -> Flask:
    """Create the Zongzhi app; `config` (tests, scripts) overrides the environment."""
    app = Flask(__name__, instance_path=settings.instance_path())
    app.config.update(settings.from_environment(app.instance_path))
    app.config.update(MAX_CONTENT_LENGTH=settings.MAX_CONTENT_LENGTH, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.secret_key(app.config["DATABASE_URL"], app.instance_path)
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app.extensions["zongzhi.clock"] = app.config.get("CLOCK") or Clock(ZoneInfo(app.config["TIMEZONE"]))

    db.init_app(app)
    replica.init_app(app)

    from web import auth, converters, errors, i18n, uploads
    converters.init_app(app)
    errors.init_app(app)
    uploads.init_app(app)  # before CSRF, which reads the form
    i18n.init_app(app)
    auth.init_app(app)
    csrf = CSRFProtect(app)

    for name in PACKAGES:
        views = import_module(f"{name}.views")
        app.register_blueprint(views.bp)
        if hasattr(views, "init_app"):
            views.init_app(app)
    # What reversing an entry must also undo, or refuse, beyond the ledger (ledger.reversals):
    # every session the app makes carries the registry.
    from foundation.reversals import register_undoers as project_undoers
    from ledger.reversals import UNDOERS, Undoers
    from redemption.services import register_undoers as desk_undoers
    undoers = app.extensions["zongzhi.undoers"] = Undoers()
    desk_undoers(undoers)      # a line's goods back on the shelf, a purchase taken off it
    project_undoers(undoers)   # a project's or a wish's money: refused
    app.extensions["zongzhi.sessions"].configure(info={UNDOERS: undoers})
    # The fund's quarterly disclosure includes the community foundation's quarter.
    from foundation.public import disclosure_section
    from redemption.printing import DISCLOSURE_SECTIONS
    if disclosure_section not in DISCLOSURE_SECTIONS:
        DISCLOSURE_SECTIONS.append(disclosure_section)
    # The API authenticates by bearer token, not by cookie, so it has no forms to protect.
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api/"):
            csrf.exempt(blueprint)

    from . import home, openapi
    app.register_blueprint(home.bp)
    openapi.init_app(app)
    return app
