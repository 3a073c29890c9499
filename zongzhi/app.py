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
from . import plugins

#: The modules with screens or endpoints, registered floor by floor in this order: each holds a
#: blueprint `bp` (its own, or its package's views' when it adds routes to them) and may have
#: `init_app(app)` for what else it sets up. Nothing imports them but this factory.
BLUEPRINTS = ("web.views", "ledger.views",
              "office.views", "office.users", "office.rules", "office.audit", "foundation.views",
              "redemption.views", "redemption.screens", "reports.views", "reports.screens",
              "cards.views", "stats.views", "cycle.views", "field.views", "field.pages")


def create_app(config: dict | None = None) -> Flask:
    """Create the Zongzhi app; `config` (tests, scripts) overrides the environment."""
    app = Flask(__name__, instance_path=settings.instance_path())
    app.config.update(settings.from_environment(app.instance_path))
    app.config.update(MAX_CONTENT_LENGTH=settings.MAX_CONTENT_LENGTH, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    if config:
        app.config.update(config)
    settings.check(app.config)
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
    formatting_filters(app)
    auth.init_app(app)
    csrf = CSRFProtect(app)

    # Every module's routes are on its blueprint before the blueprint is registered.
    modules = [import_module(name) for name in BLUEPRINTS]
    for module in modules:
        if module.bp.name not in app.blueprints:
            app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
    # What the wings add to the floors beneath them (the deeds' attachments, the disclosure's
    # sections): installed here, not by whatever happens to be imported.
    plugins.install()
    # What reversing an entry must also undo, or refuse, beyond the ledger (ledger.reversals):
    # every session the app makes carries the registry.
    from ledger.reversals import UNDOERS
    undoers = app.extensions["zongzhi.undoers"] = plugins.undoers()
    app.extensions["zongzhi.sessions"].configure(info={UNDOERS: undoers})
    # The API authenticates by bearer token, not by cookie, so it has no forms to protect.
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api/"):
            csrf.exempt(blueprint)

    from . import home, openapi
    app.register_blueprint(home.bp)
    openapi.init_app(app)
    return app


def formatting_filters(app: Flask) -> None:
    """How figures, money and times read on every page, screen or paper: the ledger's formatting
    in the reader's language, as Jinja filters."""
    from ledger import formatting
    from ledger.people import RELATION_NAMES
    from web.i18n import language

    app.jinja_env.globals["quarter_title"] = lambda year, number: formatting.quarter(year, number, language())
    app.jinja_env.filters.update(
        yuan=lambda fen: formatting.yuan(fen, language()),
        day=lambda d: formatting.day(d, language(), _tz(app)),
        points=formatting.points,
        signed_points=formatting.signed_points,
        mask_phone=formatting.mask_phone,
        mask_name=formatting.mask_name,
        when=lambda moment: formatting.when(moment, _tz(app), language()),
        relation=lambda code: str(RELATION_NAMES.get(code, code or "")),
    )


def _tz(app: Flask):
    """The bank's time zone (`ZONGZHI_TIMEZONE`), which every time on screen is read in."""
    return app.extensions["zongzhi.clock"].tz
