-- The raw events table: the data contract with the producers. Daily
-- partitions prune by date, so the sort key is spent on the filter
-- dimensions (measured: 7-day filtered hourly 373 -> 21 ms).
CREATE TABLE IF NOT EXISTS events (
    event_time    DateTime,
    business_line String,
    event         String,
    user_id       UInt64,
    item          String,
    platform      String,
    region        String,
    value         Float64
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(event_time, 'Asia/Shanghai')
ORDER BY (business_line, event, platform, region, event_time)
SETTINGS index_granularity = 8192;
