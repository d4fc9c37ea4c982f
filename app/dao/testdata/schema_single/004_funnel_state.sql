-- The live home funnel (steps view, click, cart, order; window 3600 s) of
-- today and yesterday, answered as "state at a cut + the rows after it":
--
-- funnel_events    the funnel rows sorted by time (events is sorted by
--                  line, event, platform, region, time, so any time slice
--                  of a day reads the whole day there); the rows after a
--                  cut are one primary-key range here.
-- funnel_counts    rows per line, day and 10-second bucket: a query checks
--                  that no row arrived before the cut since the snapshot
--                  was taken (else it falls back to agg_funnel_user_day),
--                  and sizes the tail.
-- funnel_snapshots one row per snapshot: cut, rows before it, users per
--                  step reached, and the state it uses.
--
-- Each state is two tables the job creates at run time (app/dao/
-- funnelstate.go): funnel_state_<id> (MergeTree: every user's level and
-- windowFunnel carry at the cut) and funnel_join_<id> (the same in a
-- Join-engine table, a hash in RAM keyed by user). Tables, not partitions:
-- a Join table cannot be emptied on 18.16, and dropping a partition waits
-- for readers while blocking new ones, which deadlocks a query that reads
-- the table twice. The dash_precompute job builds and advances them.
CREATE TABLE IF NOT EXISTS funnel_events (
    business_line String,
    event_time    DateTime,
    user_id       UInt64,
    step          UInt8
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(event_time, 'Asia/Shanghai')
ORDER BY (business_line, event_time)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_funnel_events TO funnel_events AS
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4)) AS step
FROM events WHERE event IN ('view', 'click', 'cart', 'order');

CREATE TABLE IF NOT EXISTS funnel_counts (
    business_line String,
    day           Date,
    bucket        DateTime,
    n             UInt64
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, day, bucket)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_funnel_counts TO funnel_counts AS
SELECT business_line, toDate(event_time, 'Asia/Shanghai') AS day,
       toDateTime(intDiv(toUInt32(event_time), 10) * 10) AS bucket, count() AS n
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
GROUP BY business_line, day, bucket;

CREATE TABLE IF NOT EXISTS funnel_snapshots (
    business_line String,
    day           Date,
    snap          UInt64,
    state         UInt64,
    cut           DateTime,
    rows_before   UInt64,
    users1        UInt64,
    users2        UInt64,
    users3        UInt64,
    users4        UInt64,
    lag           UInt32,
    clean         UInt32,
    created_at    DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, day, snap)
SETTINGS index_granularity = 256;

-- Backfill yesterday and today (the views above only see new inserts),
-- today in three-hour slices so that each statement stays well inside the
-- migration's per-statement deadline. A row inserted between the views'
-- creation and these statements is copied twice: harmless, windowFunnel
-- ignores a repeated (time, step) and the counts only detect changes.
INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now() - 86400, 'Asia/Shanghai') AND event_time < toStartOfDay(now(), 'Asia/Shanghai');

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 10800;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 10800 AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 21600;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 21600 AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 32400;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 32400 AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 43200;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 43200 AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 54000;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 54000 AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 64800;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 64800 AND event_time < toStartOfDay(now(), 'Asia/Shanghai') + 75600;

INSERT INTO funnel_events (business_line, event_time, user_id, step)
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4))
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now(), 'Asia/Shanghai') + 75600;

INSERT INTO funnel_counts (business_line, day, bucket, n)
SELECT business_line, toDate(event_time, 'Asia/Shanghai') AS day,
       toDateTime(intDiv(toUInt32(event_time), 10) * 10) AS bucket, count()
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
  AND event_time >= toStartOfDay(now() - 86400, 'Asia/Shanghai')
GROUP BY business_line, day, bucket;
