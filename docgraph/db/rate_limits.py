"""Rate-limit windows shared by every instance: leases of a window's requests.

A row per bucket (an API key, or a client address) holds its current window
and ``hits``: what has been leased out of that window to every instance. A
lease is one statement; the instance spends what it was granted in memory
(``docgraph.resolvers.rate_limits``). A lease of exactly the request's cost
is the per-request count.
"""

from __future__ import annotations

import dataclasses
import datetime

from docgraph.db.database import Database

# Leases requests from the bucket `$1`'s window (limit `$4`, a new window lasts
# `$5` seconds) and says how many it granted: `$2` are needed (at least one);
# if fewer than that are left, it grants nothing and counts nothing. Otherwise
# it grants what is needed or, when more, a block: at most `$3`, and at most
# the `$6`th part of what is left (at least 1), so leases shrink as the window
# runs out and its last requests go, one at a time, to whoever asks. A window
# starts at the bucket's first lease. The row lock taken by the upsert
# serialises concurrent leases of one bucket, so `hits` never passes the limit
# across instances. now() is the statement's start: the database's clock, the
# same for every instance. The grant is written out twice: for a new row (the
# whole limit is left) and for an existing one (`kept`: what its window
# already leased, none once it ended).
LEASE = """
insert into rate_limit_windows as w (bucket, window_end, hits, allowed, granted)
select $1, now() + make_interval(secs => $5::float8), fresh.granted, fresh.granted > 0,
       fresh.granted
from (select case when $2::int <= $4::int
                  then least($4::int, greatest($2::int, least($3::int,
                             greatest(1, $4::int / $6::int))))
                  else 0 end as granted) as fresh
on conflict (bucket) do update set (window_end, hits, allowed, granted) = (
    select case when w.window_end <= now() then excluded.window_end else w.window_end end,
           kept.hits + lease.granted, lease.granted > 0, lease.granted
    from (select case when w.window_end <= now() then 0 else w.hits end as hits) as kept,
         lateral (select case when $2::int <= $4::int - kept.hits
                              then least($4::int - kept.hits, greatest($2::int, least($3::int,
                                         greatest(1, ($4::int - kept.hits) / $6::int))))
                              else 0 end as granted) as lease)
returning hits, granted, window_end, extract(epoch from window_end - now())::float8 as resets_in
"""
# Gives back requests leased but never spent (an instance shutting down): `$3[i]`
# to bucket `$1[i]`, if its window is still the one they were leased from (it
# ends at `$2[i]`) and still running.
GIVE_BACK = """
update rate_limit_windows as w set hits = greatest(0, w.hits - back.units)
from unnest($1::text[], $2::timestamptz[], $3::int[]) as back (bucket, window_end, units)
where w.bucket = back.bucket and w.window_end = back.window_end and w.window_end > now()
"""
# Windows that ended a while ago; a later request starts a new one anyway.
PURGE = """
delete from rate_limit_windows where window_end < now() - interval '1 minute'
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """What one lease statement answered."""

    hits: int  # leased out of the window to every instance, this lease included
    granted: int  # to this lease (0: refused, nothing counted)
    window_end: datetime.datetime  # the database's: names the window
    resets_in: float  # seconds from the statement's start to the window's end


async def lease(db: Database, bucket: str, *, need: int, block: int, limit: int,
                window_seconds: int, share: int) -> Lease:
    """Lease ``need`` requests, or a block of up to ``block`` (see ``LEASE``)."""
    row = await db.fetchrow(LEASE, bucket, need, block, limit, float(window_seconds), share)
    assert row is not None
    return Lease(hits=row["hits"], granted=row["granted"], window_end=row["window_end"],
                 resets_in=row["resets_in"])


async def hit(db: Database, bucket: str, *, cost: int, limit: int, window_seconds: int) -> Lease:
    """Count one request of ``cost``: a lease of exactly that (``bench.ratelimit`` times it)."""
    return await lease(db, bucket, need=cost, block=1, limit=limit,
                       window_seconds=window_seconds, share=1)


async def give_back(db: Database, leases: list[tuple[str, datetime.datetime, int]]) -> int:
    """Return unspent requests: (bucket, its window's end, units). Rows updated."""
    if not leases:
        return 0
    buckets, ends, units = zip(*leases, strict=True)
    status = await db.execute(GIVE_BACK, list(buckets), list(ends), list(units))
    return int(status.split()[-1])


async def purge_ended_windows(db: Database) -> int:
    status = await db.execute(PURGE)
    return int(status.split()[-1])
