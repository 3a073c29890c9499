"""Settings: each ZONGZHI_* environment variable mapped in this one place."""
from __future__ import annotations

import os
from pathlib import Path

#: environment variable -> (config key, default)
ENVIRONMENT = {
    "ZONGZHI_DATABASE_URL": ("DATABASE_URL", None),
    "ZONGZHI_SECRET_KEY": ("SECRET_KEY", None),
    "ZONGZHI_TIMEZONE": ("TIMEZONE", "Asia/Shanghai"),
    # Where residents' phones reach this server: the address printed in card QR codes
    # (default: the address the clerk's browser used when the cards were printed).
    "ZONGZHI_PUBLIC_URL": ("PUBLIC_URL", None),
    # "1": session cookies only over HTTPS even when the proxy does not say so.
    "ZONGZHI_SECURE_COOKIES": ("SECURE_COOKIES", None),
}

#: Large enough for a long memo to be refused field by field (422), not as a whole (413).
MAX_CONTENT_LENGTH = 4 * 1024 * 1024


def from_environment(instance_path: str) -> dict:
    """Read the settings from the environment, with defaults for a village office."""
    settings = {key: os.environ.get(var, default) for var, (key, default) in ENVIRONMENT.items()}
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "zongzhi.db")
    return settings


def default_database_url() -> str:
    """Return the database URL the command line uses when nothing is configured."""
    return os.environ.get("ZONGZHI_DATABASE_URL") or "sqlite:///" + str(Path("instance").resolve() / "zongzhi.db")
