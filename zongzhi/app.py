"""The app factory: settings, extensions and blueprints, assembled in one place."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask

from ledger import db
from ledger.clock import Clock

from . import config as settings


def create_app(config: dict | None = None) -> Flask:
    """Create the Zongzhi app; `config` (tests, scripts) overrides the environment."""
    app = Flask(__name__, instance_path=str(Path(os.environ.get("ZONGZHI_INSTANCE", "instance")).resolve()))
    app.config.update(settings.from_environment(app.instance_path))
    app.config.update(MAX_CONTENT_LENGTH=settings.MAX_CONTENT_LENGTH, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app.extensions["zongzhi.clock"] = app.config.get("CLOCK") or Clock(ZoneInfo(app.config["TIMEZONE"]))

    db.init_app(app)

    from web import errors
    errors.init_app(app)

    from ledger.views import bp as ledger_bp
    app.register_blueprint(ledger_bp)

    from . import home, openapi
    app.register_blueprint(home.bp)
    openapi.init_app(app)
    return app
