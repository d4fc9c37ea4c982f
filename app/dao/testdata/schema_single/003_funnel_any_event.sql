-- The ordered funnel of the home page (steps view, click, cart, order;
-- window 3600 s) as windowFunnel states per line, day and user, filled
-- inside every INSERT like the other rollups. Merging a user's states
-- gives exactly the level windowFunnel computes on the raw rows (the state
-- is the user's matching (time, step) pairs), without the GROUP BY over
-- the raw day. Other steps or windows are answered from events.
CREATE TABLE IF NOT EXISTS agg_funnel_user_day (
    business_line String,
    day           Date,
    user_id       UInt64,
    funnel        AggregateFunction(windowFunnel(3600), DateTime, UInt8, UInt8, UInt8, UInt8)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, day, user_id)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_funnel_user_day TO agg_funnel_user_day AS
SELECT business_line, toDate(event_time, 'Asia/Shanghai') AS day, user_id,
       windowFunnelState(3600)(event_time, event = 'view', event = 'click', event = 'cart', event = 'order') AS funnel
FROM events WHERE event IN ('view', 'click', 'cart', 'order')
GROUP BY business_line, day, user_id;

-- Platform or region filters without an event filter: the same states
-- over all events, one state per day instead of one per funnel step, so a
-- 90-day range merges a quarter of the states.
CREATE TABLE IF NOT EXISTS agg_platform_any_day (
    business_line String,
    platform      String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, platform, day)
SETTINGS index_granularity = 32;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_platform_any_day TO agg_platform_any_day AS
SELECT business_line, platform, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, platform, day;

CREATE TABLE IF NOT EXISTS agg_region_any_day (
    business_line String,
    region        String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, region, day)
SETTINGS index_granularity = 32;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_region_any_day TO agg_region_any_day AS
SELECT business_line, region, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, region, day;
