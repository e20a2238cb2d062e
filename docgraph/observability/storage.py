"""Object-storage calls, timed and traced: installed on one store when observability is on.

The store's calls that reach storage (``stat``, ``read_head``, ``checksum_sha256``,
``write``, ``delete``, ``move``, ``ready``, ``purge_incomplete``, and the streams
``read`` and ``list_older_than``) are replaced on that store object by timed ones
(its class, and any other store, keep theirs: nothing changes when it is off).
Signing a URL is no call (no I/O): not measured. A failure is what the store
reports as such (``Unavailable``, or an unexpected exception); a missing object
(``NotFound``) or a refused argument is an answer, not a failure.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from docgraph.errors import AppError
from docgraph.observability.metrics import Metrics
from docgraph.storage.base import ObjectStore

CALLS = ("stat", "read_head", "checksum_sha256", "write", "delete", "move", "ready",
         "purge_incomplete")
STREAMS = ("read", "list_older_than")


def is_failure(exc: BaseException) -> bool:
    if isinstance(exc, AppError):
        return exc.status >= 500
    return isinstance(exc, Exception)


def instrument_store(store: ObjectStore, metrics: Metrics | None, tracer: Tracer | None) -> None:
    """Time (``metrics``) and trace (``tracer``) ``store``'s calls."""
    if metrics is None and tracer is None:
        return
    for name in CALLS:
        setattr(store, name, _call(getattr(store, name), store.backend, name, metrics, tracer))
    for name in STREAMS:
        setattr(store, name, _stream(getattr(store, name), store.backend, name, metrics,
                                     tracer))


def _call(method: Callable[..., Any], backend: str, name: str, metrics: Metrics | None,
          tracer: Tracer | None) -> Callable[..., Any]:
    seconds = metrics.storage_seconds.labels(backend, name) if metrics else None
    errors = metrics.storage_errors.labels(backend, name) if metrics else None
    attributes = {"docgraph.storage.backend": backend, "docgraph.storage.operation": name}

    async def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            if tracer is None:
                return await method(*args, **kwargs)
            with tracer.start_as_current_span(
                    f"storage {name}", kind=SpanKind.CLIENT, attributes=attributes,
                    record_exception=False, set_status_on_exception=False) as span:
                try:
                    return await method(*args, **kwargs)
                except BaseException as exc:
                    if is_failure(exc):
                        span.record_exception(exc)
                        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
        except BaseException as exc:
            if errors is not None and is_failure(exc):
                errors.inc()
            raise
        finally:
            if seconds is not None:
                seconds.observe(time.perf_counter() - started)

    return call


def _stream(method: Callable[..., AsyncIterator[Any]], backend: str, name: str,
            metrics: Metrics | None, tracer: Tracer | None) -> Callable[..., AsyncIterator[Any]]:
    seconds = metrics.storage_seconds.labels(backend, name) if metrics else None
    errors = metrics.storage_errors.labels(backend, name) if metrics else None
    attributes = {"docgraph.storage.backend": backend, "docgraph.storage.operation": name}

    async def stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        started = time.perf_counter()
        # Not made current: a generator's consumer may resume it in another context.
        span = tracer.start_span(f"storage {name}", kind=SpanKind.CLIENT,
                                 attributes=attributes) if tracer else None
        try:
            async for item in method(*args, **kwargs):
                yield item
        except BaseException as exc:
            if is_failure(exc):
                if errors is not None:
                    errors.inc()
                if span is not None:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            if seconds is not None:
                seconds.observe(time.perf_counter() - started)
            if span is not None:
                span.end()

    return stream
