"""Settings: each ZONGZHI_* environment variable mapped in this one place."""
from __future__ import annotations

import math
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

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

#: What each setting that is a URL may name, by scheme (the part before "://").
URL_SCHEMES = {
    "DATABASE_URL": ("sqlite", "postgresql", "postgresql+psycopg", "postgres"),
    "REPLICA_URL": ("postgresql", "postgresql+psycopg", "postgres"),
    "BROKER_URL": ("amqp", "amqps", "pyamqp", "redis", "rediss"),
    "REDIS_URL": ("redis", "rediss", "redis+unix"),
    "PUBLIC_URL": ("http", "https"),
}
#: Settings in seconds: (least, most). A lease shorter than a job would hand a live worker's run
#: to another; the tests' workers use 2 s, and a day is more than any job needs.
SECONDS = {
    "REPLICA_MAX_LAG_S": (0.1, 3600),
    "CYCLE_LEASE_S": (1, 86400),
    "CYCLE_RETRY_S": (0.1, 86400),
}
#: Settings that are on or off, and the words each may be given as.
SWITCHES = ("SECURE_COOKIES", "GROUP_COMMIT")
ON, OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
#: A setting's longest value, and the queue name's characters (RabbitMQ's and Redis's alike).
SETTING_MAX = 2000
QUEUE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,200}")


class SettingError(ValueError):
    """A setting that cannot be used as it is given: one line per problem, each naming its
    ZONGZHI_* variable and what it must be (never the value of a URL, which may hold a password)."""


def check(settings: dict) -> dict:
    """Refuse settings that cannot be used (SettingError, every problem at once); return them with
    each switch read as "1" (on) or "" (off).

    Called before anything is built from them, so a mistyped setting stops a command or a server
    with a line that names it, not a traceback from deep inside a library, and never starts a
    server that quietly ignores it (a replica never used because its lag bound is "nan").
    """
    problems = []
    variable = {key: var for var, (key, _default) in ENVIRONMENT.items()}
    for key, var in variable.items():
        value = settings.get(key)
        if isinstance(value, str) and (len(value) > SETTING_MAX or "\x00" in value):
            problems.append(f"{var}: 至多 {SETTING_MAX} 个字符，不含 NUL at most {SETTING_MAX} characters, no NUL")
            settings[key] = None
    for key, schemes in URL_SCHEMES.items():
        value = settings.get(key)
        if not value:
            continue
        scheme = str(value).split("://", 1)[0] if "://" in str(value) else ""
        # A database or broker URL without a host means this machine's socket; the public
        # address is for residents' phones, and needs one.
        if scheme not in schemes:
            shown = f"（{scheme}://）" if scheme and len(scheme) < 30 else ""
            problems.append(f"{variable[key]}: 须为 {' / '.join(s + '://…' for s in schemes)} 的地址{shown} "
                            f"must be a URL starting {', '.join(s + '://' for s in schemes)}")
        elif key == "PUBLIC_URL" and (not urlsplit(str(value)).netloc or any(c.isspace() for c in str(value))):
            # Printed in every QR code: it needs a host, and a space no phone would follow.
            problems.append(f"{variable[key]}: 须写明主机，且不含空白，如 http://192.168.1.20:8000 "
                            f"needs a host and no spaces, such as http://192.168.1.20:8000")
    for key, (least, most) in SECONDS.items():
        value = settings.get(key)
        if value is None or value == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (least <= number <= most):  # NaN fails every comparison
            problems.append(f"{variable[key]}: 须为 {least:g} 到 {most:g} 之间的秒数 "
                            f"must be a number of seconds from {least:g} to {most:g}")
    for key in SWITCHES:
        word = str(settings.get(key) or "").strip().lower()
        if word in ON:
            settings[key] = "1"
        elif word in OFF:
            settings[key] = ""
        else:
            problems.append(f"{variable[key]}: 须为 1 或 0 must be 1 (on) or 0 (off)")
    timezone = settings.get("TIMEZONE")
    if timezone is not None and not _known_zone(str(timezone)):
        problems.append(f"{variable['TIMEZONE']}: 须为时区名称，如 Asia/Shanghai "
                        "must be a time zone name such as Asia/Shanghai")
    queue = settings.get("CYCLE_QUEUE")
    if queue is not None and not QUEUE_NAME.fullmatch(str(queue)):
        problems.append(f"{variable['CYCLE_QUEUE']}: 须为 1 到 200 个字母、数字或 ._:- "
                        "must be 1 to 200 letters, digits or ._:-")
    if problems:
        raise SettingError("\n".join(problems))
    return settings


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


#: Where the embedded default keeps its generated secret key, inside the instance folder.
SECRET_KEY_FILE = "secret_key"

#: Large enough for a long memo to be refused field by field (422), not as a whole (413).
MAX_CONTENT_LENGTH = 4 * 1024 * 1024


def instance_path() -> str:
    """Return the instance folder: ZONGZHI_INSTANCE, or `instance` in the working directory."""
    return str(Path(os.environ.get("ZONGZHI_INSTANCE", "instance")).resolve())


def from_environment(instance_path: str) -> dict:
    """Read the settings from the environment, with defaults for a village office. A variable
    set empty (`ZONGZHI_TIMEZONE=` in a service file) is taken as unset."""
    settings = {key: os.environ.get(var) or default for var, (key, default) in ENVIRONMENT.items()}
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
