"""Throttles that slow attackers and never lock users out, kept in Flask-Limiter's storage.

The counters live where Flask-Limiter keeps its own: in the process's memory by default (a
village server is one process), in Redis when `ZONGZHI_REDIS_URL` is set, so that several
server processes share them. Nothing here ever refuses a right answer for long: sign-in waits
a short, capped delay after repeated failures, and the card page counts only failed look-ups.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerSecond

#: Keys of this app in a storage that others (another app on the same Redis) may share.
PREFIX = "zongzhi"


@dataclass(frozen=True)
class GrowingDelay:
    """After `free` failures under one key, each further attempt waits base·2^k seconds, at most `cap`.

    The failures are forgotten `forget` seconds after the first of them; a success may forget
    them at once (`Throttle.forget`).
    """

    name: str
    free: int
    base: int = 1
    cap: int = 60
    forget: int = 3600

    def after(self, failures: int) -> int:
        """Return how long to wait after this many failures (0: no wait)."""
        if failures < self.free:
            return 0
        return min(self.cap, self.base * 2 ** min(failures - self.free, 30))


#: One account, from any address: its user waits a minute at most, a guesser slows to one try a minute.
ACCOUNT = GrowingDelay("account", free=5)
#: One address, whatever the names: generous, since a village may share one address (a carrier's NAT).
ADDRESS = GrowingDelay("address", free=20)


class Throttle:
    """The app's counters: growing delays for sign-in, failed card look-ups per address."""

    def __init__(self, limiter: Limiter):
        self.limiter = limiter

    @property
    def storage(self):
        return self.limiter.storage

    def _keys(self, delay: GrowingDelay, key: str) -> tuple[str, str]:
        base = f"{PREFIX}/{delay.name}/{key[:200]}"
        return f"{base}/failures", f"{base}/until"

    def wait(self, delay: GrowingDelay, key: str, now: float) -> int:
        """Return the seconds `key` must still wait before its next attempt (0: go ahead)."""
        until = self.storage.get(self._keys(delay, key)[1])
        # Two failures landing together may add their deadlines: never wait beyond the cap.
        return max(0, min(delay.cap, int(until - now + 0.999))) if until else 0

    def failed(self, delay: GrowingDelay, key: str, now: float) -> None:
        """Count one failure under `key`, making the next attempt wait once it has failed enough."""
        failures_key, until_key = self._keys(delay, key)
        failures = self.storage.incr(failures_key, delay.forget)
        seconds = delay.after(failures)
        if seconds:
            # The storage holds counters only: the deadline is stored as a count of seconds,
            # and expires by itself once it has passed.
            # Rounded up: a deadline cut down to the whole second could let the next try in at once.
            self.storage.clear(until_key)
            self.storage.incr(until_key, seconds + 1, amount=math.ceil(now + seconds))

    def forget(self, delay: GrowingDelay, key: str) -> None:
        """Forget the failures under `key` (the account's own owner has just signed in)."""
        for stored in self._keys(delay, key):
            self.storage.clear(stored)

    def card_miss(self, address: str) -> int:
        """Count a failed card look-up from `address`; return the seconds to wait if over the limit, else 0."""
        config = current_app.config
        item = RateLimitItemPerSecond(int(config["CARD_GUESS_LIMIT"]), int(config["CARD_GUESS_WINDOW"]))
        strategy = self.limiter.limiter
        if strategy.hit(item, PREFIX, "card-miss", address):
            return 0
        reset_at = strategy.get_window_stats(item, PREFIX, "card-miss", address).reset_time
        return max(1, int(reset_at - time.time() + 0.999))


def throttle() -> Throttle:
    """Return the app's throttle."""
    return current_app.extensions["zongzhi.throttle"]


def init_app(app: Flask) -> None:
    """Set up Flask-Limiter's storage (Redis when configured) and the app's throttle on it."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    # A moving window: failures are forgotten one by one, never all at once at a clock tick.
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", PREFIX)
    # Twenty failed card look-ups per address in ten minutes; a valid card is never counted.
    app.config.setdefault("CARD_GUESS_LIMIT", 20)
    app.config.setdefault("CARD_GUESS_WINDOW", 600)
    limiter = Limiter(get_remote_address, app=app)
    _without_per_request_checks(app, limiter)
    app.extensions["zongzhi.throttle"] = Throttle(limiter)


def _without_per_request_checks(app: Flask, limiter: Limiter) -> None:
    """Take Flask-Limiter's own hooks off every request: no route declares a limit here.

    The throttles count failures, which only the view can tell, so they ask the storage
    themselves; Flask-Limiter's hooks would look for declared limits on every request and find
    none, for about 0.1 ms a request (measured: 116-133 µs, a twelfth of a balance read over
    HTTP). A route that one day declares `@limiter.limit(...)` needs them back.
    """
    def ours(hook) -> bool:
        return getattr(hook, "__self__", None) is limiter or limiter in getattr(hook, "args", ())

    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for name, funcs in hooks.items():
            hooks[name] = [hook for hook in funcs if not ours(hook)]
