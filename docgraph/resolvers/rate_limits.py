"""Counting requests against rate-limit windows shared by every instance, through leases.

A fixed window starts at a client's first request; PostgreSQL keeps, per
bucket (an API key, or a client address for traffic without a valid key),
the window's end and how many of its requests have been leased out to every
instance. A process (each worker of ``docgraph serve`` is its own lessee)
leases a block of the window in one statement (``docgraph.db.rate_limits``)
and spends it in memory, so most requests send no SQL for their count:

* a request spends from this process's lease when the lease holds its cost
  and has not run out; otherwise it leases what it lacks, or a block when that
  is more (at most ``lease`` requests, and at most a ``LEASE_SHARE``-th of what
  the window has left, so the last requests of a window are leased one at a
  time to whoever asks). If the window has fewer left than it lacks, it is
  refused and counts nothing. One statement at a time per bucket per process:
  concurrent requests wait for it and then spend from it.
* The database never leases more than the limit, and a process spends only
  what it leased, so the limit holds across instances: never more requests
  than the limit in a window. The lease belongs to its window: the process
  takes the window to end ``resets_in`` after it *sent* the statement, never
  later than the database's end, and does not spend from it after that.
* What a process holds unspent, other processes cannot have: once a window's
  requests are all leased, a process may refuse while others still hold
  some. Each holds fewer than ``lease`` after its own request, and the leases
  shrink as the window runs out; :meth:`RateLimiter.give_back` returns what a
  process holds when it shuts down.

``X-RateLimit-Remaining`` is the limit, less what every instance had leased
at this process's last statement, plus what this process holds unspent: with
one lessee it is exact; it never rises within a window (each process answers
the lowest figure it has answered). ``lease == 1`` is the exact per-request
count: every request sends its one statement.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import math
import time

from docgraph.db import rate_limits
from docgraph.db.database import Database
from docgraph.errors import Unavailable
from docgraph.resolvers.auth import Principal

__all__ = ["LEASE_SHARE", "Hit", "RateLimiter"]

log = logging.getLogger("docgraph.rate_limits")

# A lease takes at most this part of what the window has left (at least one request).
LEASE_SHARE = 8


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """The outcome of one request against its bucket, as its response's headers say it."""

    limit: int
    remaining: int
    allowed: bool
    resets_in: float

    @property
    def reset_seconds(self) -> int:
        """Whole seconds until the window resets (rounded up)."""
        return max(0, math.ceil(self.resets_in))


@dataclasses.dataclass(slots=True, eq=False)
class _Lease:
    """This process's part of one bucket's window."""

    window_end: datetime.datetime  # the database's: names the window
    deadline: float  # time.monotonic() after which nothing is spent: not after window_end
    limit: int
    hits: int  # leased out to every instance, as of this process's last statement
    unspent: int  # leased to this process, not spent yet
    remaining: int  # the lowest X-RateLimit-Remaining answered in this window

    def answer(self, allowed: bool, now: float) -> Hit:
        remaining = max(0, min(self.limit, self.limit - self.hits + self.unspent))
        self.remaining = min(self.remaining, remaining)
        return Hit(limit=self.limit, remaining=self.remaining, allowed=allowed,
                   resets_in=self.deadline - now)


class _Bucket:
    __slots__ = ("lease", "lock")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.lease: _Lease | None = None

    def current(self, limit: int, now: float) -> _Lease | None:
        """The lease, if it is still to be spent from (its window running, same limit)."""
        lease = self.lease
        if lease is None or lease.deadline <= now or lease.limit != limit:
            return None
        return lease


class RateLimiter:
    """Counts requests against buckets' windows; one per process (see the module's notes)."""

    # Buckets whose lease ran out are forgotten once the map has grown this much.
    PRUNE_FROM = 4096

    def __init__(self, db: Database, *, lease: int, window_seconds: int) -> None:
        self.db = db
        self.block = lease
        self.window_seconds = window_seconds
        self._buckets: dict[str, _Bucket] = {}
        self._prune_at = self.PRUNE_FROM

    async def count_for_key(self, principal: Principal, *, cost: int, limit: int) -> Hit:
        """Count ``cost`` requests against the key's window (its own limit, or the default)."""
        return await self._count(f"k:{principal.key_id}", cost, limit)

    async def count_for_address(self, address: str, *, limit: int) -> Hit:
        """Count one request without a valid key against its client address's window."""
        return await self._count(f"a:{address}", 1, limit)

    async def _count(self, name: str, cost: int, limit: int) -> Hit:
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:
                self._prune()
            bucket = self._buckets[name] = _Bucket()
        lease = bucket.current(limit, time.monotonic())
        if lease is not None and lease.unspent >= cost:
            lease.unspent -= cost
            return lease.answer(True, time.monotonic())
        async with bucket.lock:
            return await self._lease(name, bucket, cost, limit)

    async def _lease(self, name: str, bucket: _Bucket, cost: int, limit: int) -> Hit:
        """Spend from the lease if a request ahead leased enough; else lease (one statement)."""
        sent = time.monotonic()
        lease = bucket.current(limit, sent)
        if lease is not None and lease.unspent >= cost:
            lease.unspent -= cost
            return lease.answer(True, sent)
        # This request takes what the running lease still holds (no request spends it
        # meanwhile) and leases the rest. A lease past its deadline holds nothing to
        # count on, unless the database answers with the same window.
        held = 0
        if lease is not None:
            held, lease.unspent = lease.unspent, 0
        try:
            got = await rate_limits.lease(self.db, name, need=cost - held, block=self.block,
                                          limit=limit, window_seconds=self.window_seconds,
                                          share=LEASE_SHARE)
        except BaseException:
            if lease is not None:
                lease.unspent += held
            raise
        # The window ends resets_in after the statement started, which was after `sent`.
        deadline = sent + got.resets_in
        lease = bucket.lease
        if lease is not None and lease.window_end == got.window_end and lease.limit == limit:
            lease.hits = got.hits
            lease.unspent += held + got.granted
            lease.deadline = max(lease.deadline, deadline)
        else:
            # A new window (or a key whose limit changed): what was held is void.
            lease = bucket.lease = _Lease(window_end=got.window_end, deadline=deadline,
                                          limit=limit, hits=got.hits, unspent=got.granted,
                                          remaining=limit)
        # Granted by the database while the window ran: spent even if its end has come
        # since, as a request counted by the database is let through.
        allowed = lease.unspent >= cost
        if allowed:
            lease.unspent -= cost
        return lease.answer(allowed, time.monotonic())

    def _prune(self) -> None:
        now = time.monotonic()
        for name in [name for name, bucket in self._buckets.items()
                     if not bucket.lock.locked()
                     and (bucket.lease is None or bucket.lease.deadline <= now)]:
            del self._buckets[name]
        self._prune_at = max(self.PRUNE_FROM, 2 * len(self._buckets))

    async def give_back(self) -> int:
        """Return what this process holds unspent to its windows (at shutdown); forget it.

        One statement. Best effort: with the database unreachable, the requests
        held stay counted until their windows end.
        """
        held = [(name, bucket.lease.window_end, bucket.lease.unspent)
                for name, bucket in self._buckets.items()
                if bucket.lease is not None and bucket.lease.unspent > 0]
        self._buckets.clear()
        try:
            return await rate_limits.give_back(self.db, held)
        except Unavailable:
            log.warning("could not give back %d unspent rate-limit leases", len(held))
            return 0
