"""Settings: each ZONGZHI_* environment variable mapped in this one place."""
from __future__ import annotations

import os
import secrets
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
    # redis://…: rate-limit counters shared by several server processes (unset: per process).
    "ZONGZHI_REDIS_URL": ("REDIS_URL", None),
    # amqp://… or redis://…: the cycle's per-bank jobs go to Celery workers (unset: in-process).
    "ZONGZHI_BROKER_URL": ("BROKER_URL", None),
    # The broker's queue for this county's cycle (two counties may share one broker).
    "ZONGZHI_CYCLE_QUEUE": ("CYCLE_QUEUE", "zongzhi.cycle"),
    # How long a worker's claim on a run holds before another may take it over (seconds), and the
    # first wait before a failed run is tried again (doubling each time).
    "ZONGZHI_CYCLE_LEASE_S": ("CYCLE_LEASE_S", None),
    "ZONGZHI_CYCLE_RETRY_S": ("CYCLE_RETRY_S", None),
    # postgresql://…: a streaming replica that serves the public pages while it lags less than
    # ZONGZHI_REPLICA_MAX_LAG_S seconds (the primary serves them otherwise).
    "ZONGZHI_REPLICA_URL": ("REPLICA_URL", None),
    "ZONGZHI_REPLICA_MAX_LAG_S": ("REPLICA_MAX_LAG_S", "5"),
    # "1": on SQLite, a server's concurrent writers commit in groups (ground/store.py); off by
    # default until it has run in the field.
    "ZONGZHI_GROUP_COMMIT": ("GROUP_COMMIT", None),
}

#: Where the embedded default keeps its generated secret key, inside the instance folder.
SECRET_KEY_FILE = "secret_key"

#: Large enough for a long memo to be refused field by field (422), not as a whole (413).
MAX_CONTENT_LENGTH = 4 * 1024 * 1024


def instance_path() -> str:
    """Return the instance folder: ZONGZHI_INSTANCE, or `instance` in the working directory."""
    return str(Path(os.environ.get("ZONGZHI_INSTANCE", "instance")).resolve())


def from_environment(instance_path: str) -> dict:
    """Read the settings from the environment, with defaults for a village office."""
    settings = {key: os.environ.get(var, default) for var, (key, default) in ENVIRONMENT.items()}
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "zongzhi.db")
    return settings


def is_embedded(database_url: str) -> bool:
    """Say whether the database is the embedded SQLite one (a single village office)."""
    return database_url.startswith("sqlite")


def secret_key(database_url: str, instance_path: str) -> str:
    """Return the secret key to use when none is configured.

    On the embedded SQLite default it is generated once and kept in `instance/` (readable by
    its owner only), so sessions outlive a restart and every process of the office shares it.
    With a database server several machines serve the app and must share a key that only the
    operator can give: `zongzhi serve` refuses to start without it (`serve_refusal`), and the
    other commands, which keep no session, get one of their own.
    """
    if not is_embedded(database_url):
        return secrets.token_hex(32)
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        # Written whole to a private file, then linked into place: two processes starting at
        # once never read half a key, and the first to link wins for both.
        draft = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    key = path.read_text("utf-8").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path}: the kept secret key is empty or too short; delete the file "
                           "to have a new one made (everyone signed in will have to sign in again)")
    return key


def serve_refusal(environ=os.environ) -> str | None:
    """Return why the server must not start with these settings, or None if it may."""
    url = environ.get("ZONGZHI_DATABASE_URL") or ""
    if url and not is_embedded(url) and not environ.get("ZONGZHI_SECRET_KEY"):
        return ("ZONGZHI_SECRET_KEY 未设置：使用数据库服务器时必须设置，且每台服务器相同。"
                " ZONGZHI_SECRET_KEY is not set: with a database server it is required, the same on "
                "every server (for example: python3 -c 'import secrets; print(secrets.token_hex(32))').")
    return None
