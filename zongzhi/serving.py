"""Serving in several processes: gunicorn's pre-forked workers, each with its own threads.

One Python process holds one core at a time however many threads it runs, so a county's server
with several cores serves from several processes (`zongzhi serve --processes N`). gunicorn keeps
them: it listens once, forks the workers, replaces one that dies and stops them all on SIGINT or
SIGTERM. Each worker builds the app itself after the fork, so no database connection is shared
between processes. What must agree across processes already lives outside them: the data in the
database, the secret key in the setting (or the instance folder's key file), and the rate-limit
counters in Redis when ZONGZHI_REDIS_URL is set (per process otherwise, as API.md says).

A single process (the default, and the village office's) stays on waitress, which also runs on
Windows; gunicorn runs on Linux and other POSIX systems only.
"""
from __future__ import annotations

from typing import Callable

#: How long a worker may take over one request before gunicorn replaces it (s): above the
#: longest request the app serves (a county's card sheet renders in well under a minute).
WORKER_TIMEOUT_S = 120


def options(host: str, port: int, *, threads: int, processes: int) -> dict:
    """gunicorn's settings for `processes` workers of `threads` threads on host:port."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": processes,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": WORKER_TIMEOUT_S,
        "graceful_timeout": 30,
        "keepalive": 5,
        # Each worker imports and builds the app after the fork: nothing opened before it.
        "preload_app": False,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "zongzhi",
    }


def serve_processes(build: Callable, host: str, port: int, *, threads: int, processes: int) -> None:
    """Serve the app that `build()` makes from `processes` worker processes until stopped."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError as err:  # gunicorn is not installed on Windows
        raise SystemExit("错误 error: --processes 需要 gunicorn（仅 Linux 等 POSIX 系统）；"
                         "gunicorn is needed for --processes (Linux and other POSIX systems only), "
                         f"and it could not be imported: {err}") from err

    settings = options(host, port, threads=threads, processes=processes)

    class Server(BaseApplication):
        def load_config(self):
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return build()

    Server().run()
