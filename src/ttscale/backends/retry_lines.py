"""The WARNING lines that make an HTTP client's retries visible: one line per burst of failures
(with the concurrency limit before and after it), at most one every ``RETRY_LINE_EVERY_S`` seconds
during a long outage, never silence."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from ttscale.backends.adaptive_limit import AdaptiveLimit

RETRY_LINE_EVERY_S = 10.0  # at most one retry WARNING per this many seconds (one per burst)

log = logging.getLogger(__name__)


class RetryableFailure(Protocol):
    """A failure the client will retry: its message, and whether it was a timeout."""

    timed_out: bool


class RetryLines:
    """The WARNING lines that make retries visible: one per burst, not one per attempt.

    ``failed`` notes each retryable failure (with the limit it was sent under);
    ``retrying`` is called before every retry and writes the pending failures
    as one line, unless a line went out less than ``every_s`` ago: the
    failures of requests that fail together (a burst) go on one line, and a
    long outage gets a line every ``every_s`` seconds, never silence.
    """

    def __init__(self, where: str, limit: AdaptiveLimit, every_s: float = RETRY_LINE_EVERY_S) -> None:
        self._where, self._limit, self._every_s = where, limit, every_s
        self._lock = threading.Lock()
        self._pending = 0
        self._all_timed_out = True
        self._first_at = 0.0
        self._limit_before = limit.max_concurrency
        self._reason = ""
        self._last_line_at: float | None = None
        self.lines = 0

    def failed(self, exc: RetryableFailure, sent_under_limit: int) -> None:
        with self._lock:
            if self._pending == 0:
                self._first_at, self._limit_before, self._all_timed_out = time.monotonic(), sent_under_limit, True
            self._pending += 1
            self._all_timed_out &= exc.timed_out
            self._reason = str(exc)

    def retrying(self) -> None:
        with self._lock:
            now = time.monotonic()
            if not self._pending or (self._last_line_at is not None and now - self._last_line_at < self._every_s):
                return
            count, what = self._pending, "timed out" if self._all_timed_out else "failed"
            seconds, before, reason = now - self._first_at, self._limit_before, self._reason
            self._pending, self._last_line_at = 0, now
            self.lines += 1
        after = self._limit.limit
        change = f"{before} \u2192 {after}" if after != before else f"{after}"
        log.warning("openai %s: %d request%s %s in the last %.*f s (%s); retrying with backoff, concurrency %s",
                    self._where, count, "s" * (count != 1), what, 1 if seconds < 10 else 0, seconds, reason,
                    change)  # fmt: skip
