"""A guard against guessing card tokens: failed look-ups counted per address, in memory."""
from __future__ import annotations

import threading
import time
from collections import deque


class GuessLimiter:
    """Count failed card look-ups per address; refuse an address with too many in the window.

    Kept in the process's memory: a village server is one process, and a restart forgets
    nothing worth keeping (a guesser starts again from zero with 2^-128 odds per try).
    """

    def __init__(self, limit: int = 10, window_seconds: float = 600.0, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def blocked(self, address: str) -> bool:
        """Say whether this address has failed too often lately."""
        with self._lock:
            now = self.clock()
            failures = self._recent(address, now)
            if not failures:
                self._failures.pop(address, None)
            return len(failures) >= self.limit

    def failed(self, address: str) -> None:
        """Count one failed look-up from this address."""
        with self._lock:
            now = self.clock()
            self._recent(address, now).append(now)
            if len(self._failures) > 10_000:  # forget the quiet ones rather than grow without end
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[key]
