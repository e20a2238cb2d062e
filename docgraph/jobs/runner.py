"""Work that runs after a response, off the request path (image previews, for one).

``BackgroundJobs`` keeps a reference to every task (so none is garbage
collected mid-flight), runs at most ``concurrency`` at a time (and, in each
named lane, at most that lane's own number: text extraction, which may take a
minute, never holds up image previews), logs failures
instead of losing them, and cancels what is left when the app stops. A job
keeps the request id of the request that spawned it (for its logs) but not
its statement counter: its SQL is not the request's cost.

A job's kind is its name's first word (``preview``, ``scan``). An ``observer``
(metrics and traces, when either is on; :class:`JobObserver`) hears of each
job queued, running and finished, and of retries by kind; the periodic loops of
``jobs.maintenance`` report to it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from docgraph.errors import AppError
from docgraph.resolvers.context import without_statement_count

log = logging.getLogger("docgraph.jobs.runner")


class JobObserver(Protocol):
    """Hears of background work, by kind."""

    def queued(self, kind: str) -> None:
        """A job waits for a slot."""

    def unqueued(self, kind: str) -> None:
        """A queued job went away without running (cancelled at shutdown)."""

    def running(self, kind: str, *, queued: bool = True) -> AbstractContextManager[None]:
        """The block runs one job (a queued one, unless ``queued`` is false: a periodic
        round); an exception leaving it is the job's failure."""

    def retried(self, kind: str, count: int) -> None:
        """``count`` tries of work of that kind that had failed or were lost ran again."""


def job_kind(name: str) -> str:
    """A job's kind: its name's first word (``preview 1f0c…`` is a ``preview``)."""
    return name.split(" ", 1)[0]


@contextlib.contextmanager
def observed(observer: JobObserver | None, kind: str) -> Iterator[None]:
    """A periodic round of ``kind``, observed as a job when an observer listens."""
    if observer is None:
        yield
        return
    with observer.running(kind, queued=False):
        yield


class BackgroundJobs:
    def __init__(self, concurrency: int = 2, lanes: Mapping[str, int] | None = None,
                 observer: JobObserver | None = None) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes = {name: asyncio.Semaphore(max(1, size))
                       for name, size in (lanes or {}).items()}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lane_tasks: dict[str, set[asyncio.Task[Any]]] = {name: set() for name in self._lanes}
        self.observer = observer

    def spawn(self, name: str, job: Coroutine[Any, Any, Any],
              lane: str | None = None) -> asyncio.Task[Any]:
        """Run ``job`` in the background; ``name`` identifies it in logs. In a ``lane``
        it waits for that lane's slots instead of the common ones."""
        context = contextvars.copy_context()
        context.run(without_statement_count)
        slots = self._slots if lane is None else self._lanes[lane]
        if self.observer is not None:
            self.observer.queued(job_kind(name))
        task = asyncio.create_task(self._run(name, job, slots), name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if lane is not None:
            self._lane_tasks[lane].add(task)
            task.add_done_callback(self._lane_tasks[lane].discard)
        return task

    def pending(self, lane: str | None = None) -> int:
        """How many jobs were started and have not finished (all of them, or a lane's)."""
        return len(self._tasks if lane is None else self._lane_tasks.get(lane, ()))

    async def _run(self, name: str, job: Coroutine[Any, Any, Any],
                   slots: asyncio.Semaphore) -> Any:
        observer = self.observer
        started = False
        try:
            async with slots:
                started = True
                if observer is None:
                    return await job
                with observer.running(job_kind(name)):
                    return await job
        except asyncio.CancelledError:
            raise
        except AppError as exc:
            log.warning("background job %s failed: %s: %s", name, exc.code, exc.message)
        except Exception:
            log.exception("background job %s failed", name)
        finally:
            job.close()  # never awaited if cancelled while waiting for a slot
            if observer is not None and not started:
                observer.unqueued(job_kind(name))
        return None

    async def wait(self) -> None:
        """Wait until every job started so far has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
