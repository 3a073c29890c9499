"""Schema migrations (Alembic): every table from the first one on, upgraded in place."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def config(url: str) -> Config:
    """Return an Alembic config for this project's migrations against `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    from ground.db import normalize_url

    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Create or migrate the schema at `url`; running it again changes nothing.

    Each package's tables grow on a branch of their own from the first schema, so the target
    is every head.
    """
    command.upgrade(config(url), revision)


def heads() -> tuple[str, ...]:
    """Return the newest revision of every branch, as the scripts define them."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(config("sqlite://")).get_heads()))


def current(url: str) -> tuple[str, ...]:
    """Return the revisions the database at `url` is at (one per branch)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from ground.db import normalize_url

    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        revs = MigrationContext.configure(conn).get_current_heads()
    engine.dispose()
    return tuple(sorted(revs))
