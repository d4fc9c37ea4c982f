-- Narrow rollups of aggregate states, filled by materialized views inside
-- every INSERT into events, so they are as fresh as events. Each is keyed
-- by the line, the funnel step and at most two filter dimensions; the dao
-- picks the smallest one that covers a query. UV is a uniqCombined(17)
-- state (<1% error), merged over any range and filter, never summed.
-- Hours and days are bucketed in the configured time zone (Asia/Shanghai).
CREATE TABLE IF NOT EXISTS agg_line_hour (
    business_line String,
    event         String,
    hour          DateTime,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour, 'Asia/Shanghai')
ORDER BY (business_line, event, hour)
SETTINGS index_granularity = 64;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_line_hour TO agg_line_hour AS
SELECT business_line, event, toStartOfHour(event_time, 'Asia/Shanghai') AS hour,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, event, hour;

CREATE TABLE IF NOT EXISTS agg_line_day (
    business_line String,
    event         String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, day)
SETTINGS index_granularity = 32;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_line_day TO agg_line_day AS
SELECT business_line, event, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, event, day;

CREATE TABLE IF NOT EXISTS agg_platform_day (
    business_line String,
    event         String,
    platform      String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, platform, day)
SETTINGS index_granularity = 32;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_platform_day TO agg_platform_day AS
SELECT business_line, event, platform, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, event, platform, day;

CREATE TABLE IF NOT EXISTS agg_region_day (
    business_line String,
    event         String,
    region        String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, region, day)
SETTINGS index_granularity = 32;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_region_day TO agg_region_day AS
SELECT business_line, event, region, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, event, region, day;

CREATE TABLE IF NOT EXISTS agg_dims_day (
    business_line String,
    event         String,
    platform      String,
    region        String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, platform, region, day)
SETTINGS index_granularity = 64;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_dims_day TO agg_dims_day AS
SELECT business_line, event, platform, region, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM events GROUP BY business_line, event, platform, region, day;

-- Top-N: plain counts per item and day, summed on merge.
CREATE TABLE IF NOT EXISTS agg_item_day (
    business_line String,
    event         String,
    day           Date,
    item          String,
    pv            UInt64
) ENGINE = SummingMergeTree(pv)
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, day, item)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_item_day TO agg_item_day AS
SELECT business_line, event, toDate(event_time, 'Asia/Shanghai') AS day, item, count() AS pv
FROM events GROUP BY business_line, event, day, item;
