"""Mail the pages send (a requested preference link, an unsubscribe notice), after the answer.

A page that sent its mail while answering would take longer for an address that gets one: the
time would tell who is on a list. So a page only hands the job over, once its response has
gone out (`after_response`), and one thread of this process sends the jobs in order.

The queue lives in memory: a job still waiting when the process stops is lost. That costs a
recipient one link they can ask for again, which is better than keeping their address on disk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from starlette.background import BackgroundTask

log = logging.getLogger(__name__)

Job = Callable[[], object]


class MailQueue:
    """Jobs run one at a time on a thread of their own, never inside a request."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="comms-web-mail")
        self._pending = 0  # handed over by a page and not done yet (queued after its response)
        self._idle = threading.Condition()

    def after_response(self, job: Job) -> BackgroundTask:
        """Set as a response's `background`: the job is queued once the response was sent."""
        with self._idle:
            self._pending += 1
        return BackgroundTask(self._executor.submit, self._run, job)

    def drain(self, timeout: float = 30) -> bool:
        """Wait until every job handed over so far is done (tests); False on a timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _run(self, job: Job) -> None:
        try:
            job()
        except Exception as exc:  # a lost mail must not stop the next one; no address in the log
            log.error("web mail job failed: %s", type(exc).__name__)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()
