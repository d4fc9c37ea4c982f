CREATE TABLE IF NOT EXISTS wings.events_local ON CLUSTER wings_cluster (
    event_time    DateTime,
    business_line String,
    event         String,
    user_id       UInt64,
    item          String,
    platform      String,
    region        String,
    value         Float64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/wings/events_local', '{replica}')
PARTITION BY toYYYYMMDD(event_time, 'Asia/Shanghai')
ORDER BY (business_line, event, platform, region, event_time)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS wings.events ON CLUSTER wings_cluster AS wings.events_local ENGINE = Distributed(wings_cluster, wings, events_local, cityHash64(user_id));

CREATE TABLE IF NOT EXISTS wings.agg_line_hour_local ON CLUSTER wings_cluster (
    business_line String,
    event         String,
    hour          DateTime,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_line_hour_local', '{replica}')
PARTITION BY toYYYYMM(hour, 'Asia/Shanghai')
ORDER BY (business_line, event, hour)
SETTINGS index_granularity = 64;

CREATE TABLE IF NOT EXISTS wings.agg_line_hour ON CLUSTER wings_cluster AS wings.agg_line_hour_local ENGINE = Distributed(wings_cluster, wings, agg_line_hour_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_line_hour ON CLUSTER wings_cluster TO wings.agg_line_hour_local AS
SELECT business_line, event, toStartOfHour(event_time, 'Asia/Shanghai') AS hour,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, event, hour;

CREATE TABLE IF NOT EXISTS wings.agg_line_day_local ON CLUSTER wings_cluster (
    business_line String,
    event         String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_line_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, day)
SETTINGS index_granularity = 32;

CREATE TABLE IF NOT EXISTS wings.agg_line_day ON CLUSTER wings_cluster AS wings.agg_line_day_local ENGINE = Distributed(wings_cluster, wings, agg_line_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_line_day ON CLUSTER wings_cluster TO wings.agg_line_day_local AS
SELECT business_line, event, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, event, day;

CREATE TABLE IF NOT EXISTS wings.agg_platform_day_local ON CLUSTER wings_cluster (
    business_line String,
    event         String,
    platform      String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_platform_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, platform, day)
SETTINGS index_granularity = 32;

CREATE TABLE IF NOT EXISTS wings.agg_platform_day ON CLUSTER wings_cluster AS wings.agg_platform_day_local ENGINE = Distributed(wings_cluster, wings, agg_platform_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_platform_day ON CLUSTER wings_cluster TO wings.agg_platform_day_local AS
SELECT business_line, event, platform, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, event, platform, day;

CREATE TABLE IF NOT EXISTS wings.agg_region_day_local ON CLUSTER wings_cluster (
    business_line String,
    event         String,
    region        String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_region_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, region, day)
SETTINGS index_granularity = 32;

CREATE TABLE IF NOT EXISTS wings.agg_region_day ON CLUSTER wings_cluster AS wings.agg_region_day_local ENGINE = Distributed(wings_cluster, wings, agg_region_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_region_day ON CLUSTER wings_cluster TO wings.agg_region_day_local AS
SELECT business_line, event, region, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, event, region, day;

CREATE TABLE IF NOT EXISTS wings.agg_dims_day_local ON CLUSTER wings_cluster (
    business_line String,
    event         String,
    platform      String,
    region        String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_dims_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, platform, region, day)
SETTINGS index_granularity = 64;

CREATE TABLE IF NOT EXISTS wings.agg_dims_day ON CLUSTER wings_cluster AS wings.agg_dims_day_local ENGINE = Distributed(wings_cluster, wings, agg_dims_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_dims_day ON CLUSTER wings_cluster TO wings.agg_dims_day_local AS
SELECT business_line, event, platform, region, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, event, platform, region, day;

CREATE TABLE IF NOT EXISTS wings.agg_item_day_local ON CLUSTER wings_cluster (
    business_line String,
    event         String,
    day           Date,
    item          String,
    pv            UInt64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/wings/agg_item_day_local', '{replica}', pv)
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, event, day, item)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS wings.agg_item_day ON CLUSTER wings_cluster AS wings.agg_item_day_local ENGINE = Distributed(wings_cluster, wings, agg_item_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_item_day ON CLUSTER wings_cluster TO wings.agg_item_day_local AS
SELECT business_line, event, toDate(event_time, 'Asia/Shanghai') AS day, item, count() AS pv
FROM wings.events_local GROUP BY business_line, event, day, item;

CREATE TABLE IF NOT EXISTS wings.agg_funnel_user_day_local ON CLUSTER wings_cluster (
    business_line String,
    day           Date,
    user_id       UInt64,
    funnel        AggregateFunction(windowFunnel(3600), DateTime, UInt8, UInt8, UInt8, UInt8)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_funnel_user_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, day, user_id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS wings.agg_funnel_user_day ON CLUSTER wings_cluster AS wings.agg_funnel_user_day_local ENGINE = Distributed(wings_cluster, wings, agg_funnel_user_day_local, cityHash64(user_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_funnel_user_day ON CLUSTER wings_cluster TO wings.agg_funnel_user_day_local AS
SELECT business_line, toDate(event_time, 'Asia/Shanghai') AS day, user_id,
       windowFunnelState(3600)(event_time, event = 'view', event = 'click', event = 'cart', event = 'order') AS funnel
FROM wings.events_local WHERE event IN ('view', 'click', 'cart', 'order')
GROUP BY business_line, day, user_id;

CREATE TABLE IF NOT EXISTS wings.agg_platform_any_day_local ON CLUSTER wings_cluster (
    business_line String,
    platform      String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_platform_any_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, platform, day)
SETTINGS index_granularity = 32;

CREATE TABLE IF NOT EXISTS wings.agg_platform_any_day ON CLUSTER wings_cluster AS wings.agg_platform_any_day_local ENGINE = Distributed(wings_cluster, wings, agg_platform_any_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_platform_any_day ON CLUSTER wings_cluster TO wings.agg_platform_any_day_local AS
SELECT business_line, platform, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, platform, day;

CREATE TABLE IF NOT EXISTS wings.agg_region_any_day_local ON CLUSTER wings_cluster (
    business_line String,
    region        String,
    day           Date,
    pv            AggregateFunction(count),
    uv            AggregateFunction(uniqCombined(17), UInt64),
    value_sum     AggregateFunction(sum, Float64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/wings/agg_region_any_day_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, region, day)
SETTINGS index_granularity = 32;

CREATE TABLE IF NOT EXISTS wings.agg_region_any_day ON CLUSTER wings_cluster AS wings.agg_region_any_day_local ENGINE = Distributed(wings_cluster, wings, agg_region_any_day_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_region_any_day ON CLUSTER wings_cluster TO wings.agg_region_any_day_local AS
SELECT business_line, region, toDate(event_time, 'Asia/Shanghai') AS day,
       countState() AS pv, uniqCombinedState(17)(user_id) AS uv, sumState(value) AS value_sum
FROM wings.events_local GROUP BY business_line, region, day;

CREATE TABLE IF NOT EXISTS wings.funnel_events_local ON CLUSTER wings_cluster (
    business_line String,
    event_time    DateTime,
    user_id       UInt64,
    step          UInt8
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/wings/funnel_events_local', '{replica}')
PARTITION BY toYYYYMMDD(event_time, 'Asia/Shanghai')
ORDER BY (business_line, event_time)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS wings.funnel_events ON CLUSTER wings_cluster AS wings.funnel_events_local ENGINE = Distributed(wings_cluster, wings, funnel_events_local, cityHash64(user_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_funnel_events ON CLUSTER wings_cluster TO wings.funnel_events_local AS
SELECT business_line, event_time, user_id,
       toUInt8(multiIf(event = 'view', 1, event = 'click', 2, event = 'cart', 3, 4)) AS step
FROM wings.events_local WHERE event IN ('view', 'click', 'cart', 'order');

CREATE TABLE IF NOT EXISTS wings.funnel_counts_local ON CLUSTER wings_cluster (
    business_line String,
    day           Date,
    bucket        DateTime,
    n             UInt64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/wings/funnel_counts_local', '{replica}', n)
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, day, bucket)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS wings.funnel_counts ON CLUSTER wings_cluster AS wings.funnel_counts_local ENGINE = Distributed(wings_cluster, wings, funnel_counts_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS wings.mv_funnel_counts ON CLUSTER wings_cluster TO wings.funnel_counts_local AS
SELECT business_line, toDate(event_time, 'Asia/Shanghai') AS day,
       toDateTime(intDiv(toUInt32(event_time), 10) * 10) AS bucket, count() AS n
FROM wings.events_local WHERE event IN ('view', 'click', 'cart', 'order')
GROUP BY business_line, day, bucket;

CREATE TABLE IF NOT EXISTS wings.funnel_snapshots_local ON CLUSTER wings_cluster (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/wings/funnel_snapshots_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (business_line, day, snap)
SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS wings.funnel_snapshots ON CLUSTER wings_cluster AS wings.funnel_snapshots_local ENGINE = Distributed(wings_cluster, wings, funnel_snapshots_local, rand());

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

CREATE TABLE IF NOT EXISTS wings.agg_uv_span_local ON CLUSTER wings_cluster (
    source        String,
    business_line String,
    event         String,
    platform      String,
    region        String,
    days          UInt16,
    start         Date,
    pv            UInt64,
    uv_n          UInt64,
    uv            AggregateFunction(uniqCombined(17), UInt64),
    ver           UInt64,
    tag           UInt64 MATERIALIZED cityHash64(days, start, ver)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/wings/agg_uv_span_local', '{replica}', ver)
PARTITION BY toYYYYMM(start)
ORDER BY (source, business_line, event, platform, region, days, start)
SETTINGS index_granularity = 4;

CREATE TABLE IF NOT EXISTS wings.agg_uv_span ON CLUSTER wings_cluster (
    source        String,
    business_line String,
    event         String,
    platform      String,
    region        String,
    days          UInt16,
    start         Date,
    pv            UInt64,
    uv_n          UInt64,
    uv            AggregateFunction(uniqCombined(17), UInt64),
    ver           UInt64,
    tag           UInt64 ALIAS cityHash64(days, start, ver)
) ENGINE = Distributed(wings_cluster, wings, agg_uv_span_local, cityHash64(source, business_line, event, platform, region, days, start));
