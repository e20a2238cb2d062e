"""Background jobs, counted and traced: a ``jobs.runner.JobObserver``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from docgraph.observability.metrics import Metrics

if TYPE_CHECKING:
    from docgraph.observability.tracing import Tracing


class JobsObserver:
    """Gauges of jobs queued and running, counts of outcomes and retries, a span per job."""

    def __init__(self, metrics: Metrics | None, tracing: Tracing | None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def queued(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.jobs_queued.labels(kind).inc()

    def unqueued(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.jobs_queued.labels(kind).dec()

    @contextlib.contextmanager
    def running(self, kind: str, *, queued: bool = True) -> Iterator[None]:
        metrics = self.metrics
        if metrics is not None:
            if queued:
                metrics.jobs_queued.labels(kind).dec()
            metrics.jobs_running.labels(kind).inc()
        started = time.perf_counter()
        outcome = "failed"
        try:
            if self.tracing is None:
                yield
            else:
                with self.tracing.job(kind):
                    yield
            outcome = "succeeded"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            if metrics is not None:
                metrics.jobs_running.labels(kind).dec()
                metrics.jobs_finished.labels(kind, outcome).inc()
                metrics.job_seconds.labels(kind).observe(time.perf_counter() - started)

    def retried(self, kind: str, count: int) -> None:
        if self.metrics is not None:
            self.metrics.job_retries.labels(kind).inc(count)
