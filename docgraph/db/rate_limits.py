"""Rate-limit windows: one statement per request, shared by every instance."""

from __future__ import annotations

import dataclasses
import math

from docgraph.db.database import Database

# Counts `$2` (the request's cost) against the bucket `$1` (limit `$3`, window
# `$4` seconds) and says whether the request may pass. A window starts at the
# bucket's first request; a request that would go over the limit is refused
# and counts nothing. The row lock taken by the upsert serialises concurrent
# requests of one bucket, so the limit holds across instances exactly.
# now() is the statement's start: the database's clock, the same for every
# instance.
HIT = """
insert into rate_limit_windows as w (bucket, window_end, hits, allowed)
values ($1, now() + make_interval(secs => $4::float8),
        case when $2::int <= $3::int then $2::int else 0 end, $2::int <= $3::int)
on conflict (bucket) do update set
    window_end = case when w.window_end <= now() then excluded.window_end
                      else w.window_end end,
    hits = case when w.window_end <= now() then excluded.hits
                when w.hits + $2::int <= $3::int then w.hits + $2::int
                else w.hits end,
    allowed = case when w.window_end <= now() then excluded.allowed
                   else w.hits + $2::int <= $3::int end
returning hits, allowed, extract(epoch from window_end - now())::float8 as resets_in
"""
# Windows that ended a while ago; a later request starts a new one anyway.
PURGE = """
delete from rate_limit_windows where window_end < now() - interval '1 minute'
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """The outcome of one request against its bucket."""

    limit: int
    hits: int
    allowed: bool
    resets_in: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.hits)

    @property
    def reset_seconds(self) -> int:
        """Whole seconds until the window resets (rounded up)."""
        return max(0, math.ceil(self.resets_in))


async def hit(db: Database, bucket: str, *, cost: int, limit: int, window_seconds: int) -> Hit:
    row = await db.fetchrow(HIT, bucket, cost, limit, float(window_seconds))
    assert row is not None
    return Hit(limit=limit, hits=row["hits"], allowed=row["allowed"],
               resets_in=row["resets_in"])


async def purge_ended_windows(db: Database) -> int:
    status = await db.execute(PURGE)
    return int(status.split()[-1])
