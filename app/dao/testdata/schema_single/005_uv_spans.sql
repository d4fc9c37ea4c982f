-- Finished closed days and pre-merged UV spans (app/dao/spans.go). A row
-- is the merge of one day rollup's states for one key over an aligned span
-- of days: 1, 2, 4, ... 64 days starting on a day number divisible by the
-- length. A range of closed days is then the merge of at most ~2 x log2(n)
-- spans instead of n days of states, and a closed day's UV is read, not
-- estimated again. The spans job writes them; a query uses a span only if
-- its pv still equals the live rollup's pv over its days (a late event
-- makes it stale until the job rebuilds it), so answers are always those
-- of the live rollups: uniqCombined merges are unions, so merging spans
-- gives the very estimate that merging the days gives.
--
-- source is the day rollup the span was merged from; event, platform and
-- region are the key's filter values, '' where the key has none (event ''
-- is every event). ver orders rebuilds (the latest wins on merge); tag
-- names one row (a rebuild is a new row) for the query to pick.
CREATE TABLE IF NOT EXISTS agg_uv_span (
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
) ENGINE = ReplacingMergeTree(ver)
PARTITION BY toYYYYMM(start)
ORDER BY (source, business_line, event, platform, region, days, start)
SETTINGS index_granularity = 4;
