-- Leased rate limiting (issue 16): an instance takes a block of a window's
-- requests in one statement and spends it in memory, instead of writing the
-- window's row on every request.
--
-- `hits` now counts what has been leased out to every instance (spent or
-- not yet), so it never passes the limit and the limit holds across
-- instances as before; a lease of exactly one request's cost is the old
-- per-request count. `granted` is what the statement that last touched the
-- row granted (0: refused), which its RETURNING cannot otherwise tell (it
-- sees only the new `hits`). `allowed` stays `granted > 0`, so an instance of
-- the previous release keeps counting correctly beside the new ones. No
-- index: an update stays a HOT update.
alter table rate_limit_windows
    add column granted integer not null default 0 check (granted >= 0);
