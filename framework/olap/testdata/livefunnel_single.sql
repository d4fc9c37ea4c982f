-- create state
CREATE TABLE IF NOT EXISTS funnel_state_7 (user_id UInt64, level UInt8, s1 UInt32, s2 UInt32, s3 UInt32) ENGINE = MergeTree ORDER BY user_id;

-- full
INSERT INTO funnel_state_7 (user_id, level, s1, s2, s3)
SELECT user_id, level, if(g_s1 >= @mins, g_s1, 0), if(g_s2 >= @mins, g_s2, 0), if(g_s3 >= @mins, g_s3, 0)
FROM (
  SELECT user_id, windowFunnel(14403)(toUInt32((toUInt32(event_time) - @base) * 4 + step - 1), step = 1, step = 2, step = 3, step = 4) AS level
  FROM funnel_events
  WHERE business_line = @key AND event_time >= toDateTime(@start) AND event_time < toDateTime(@cut)
  GROUP BY user_id
) ANY LEFT JOIN (
  SELECT user_id, g_s1, g_s2, g_s3 FROM (
    SELECT user_id, g_a,
  arrayMap(x -> x % 4, g_a) AS g_k,
  arrayMap(y -> y = 0, g_k) AS g_isv,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_a, g_isv) AS g_fvv, arrayPopBack(arrayPushFront(g_fvv, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_isv), g_isv) AS g_npv)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_isv), g_isv), g_npv))) AS g_lv,
  arrayMap((x, y, l) -> y = 1 AND l > 0 AND x <= l + 14403, g_a, g_k, g_lv) AS g_ok2,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_lv, g_ok2) AS g_fv1, arrayPopBack(arrayPushFront(g_fv1, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_ok2), g_ok2) AS g_np1)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_ok2), g_ok2), g_np1))) AS g_e1,
  arrayMap((x, y, e) -> y = 2 AND e > 0 AND x <= e + 14403, g_a, g_k, g_e1) AS g_ok3,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_e1, g_ok3) AS g_fv2, arrayPopBack(arrayPushFront(g_fv2, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_ok3), g_ok3) AS g_np2)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_ok3), g_ok3), g_np2))) AS g_e2,
  arrayMap((x, y, e) -> y = 3 AND e > 0 AND x <= e + 14403, g_a, g_k, g_e2) AS g_ok4,
  toUInt32(g_lv[-1]) AS g_s1,
  toUInt32(g_e1[-1]) AS g_s2,
  toUInt32(g_e2[-1]) AS g_s3,
  toUInt8(multiIf(has(g_ok4, 1), 4, g_s3 > 0, 3, g_s2 > 0, 2, g_s1 > 0, 1, 0)) AS g_level
    FROM (
      SELECT user_id, arraySort(groupArray(toUInt32((toUInt32(event_time) - @base) * 4 + step - 1))) AS g_a
      FROM funnel_events
      WHERE business_line = @key AND event_time >= toDateTime(@recent) AND event_time < toDateTime(@cut)
      GROUP BY user_id
    )
  )
) USING user_id
WHERE level > 0;

-- incremental
INSERT INTO funnel_state_7 (user_id, level, s1, s2, s3)
SELECT user_id, greatest(level, g_level) AS lvl, if(g_s1 >= @mins, g_s1, 0), if(g_s2 >= @mins, g_s2, 0), if(g_s3 >= @mins, g_s3, 0)
FROM (
  SELECT user_id, level, g_a,
  arrayMap(x -> x % 4, g_a) AS g_k,
  arrayMap(y -> y = 0, g_k) AS g_isv,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_a, g_isv) AS g_fvv, arrayPopBack(arrayPushFront(g_fvv, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_isv), g_isv) AS g_npv)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_isv), g_isv), g_npv))) AS g_lv,
  arrayMap((x, y, l) -> y = 1 AND l > 0 AND x <= l + 14403, g_a, g_k, g_lv) AS g_ok2,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_lv, g_ok2) AS g_fv1, arrayPopBack(arrayPushFront(g_fv1, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_ok2), g_ok2) AS g_np1)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_ok2), g_ok2), g_np1))) AS g_e1,
  arrayMap((x, y, e) -> y = 2 AND e > 0 AND x <= e + 14403, g_a, g_k, g_e1) AS g_ok3,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_e1, g_ok3) AS g_fv2, arrayPopBack(arrayPushFront(g_fv2, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_ok3), g_ok3) AS g_np2)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_ok3), g_ok3), g_np2))) AS g_e2,
  arrayMap((x, y, e) -> y = 3 AND e > 0 AND x <= e + 14403, g_a, g_k, g_e2) AS g_ok4,
  toUInt32(g_lv[-1]) AS g_s1,
  toUInt32(g_e1[-1]) AS g_s2,
  toUInt32(g_e2[-1]) AS g_s3,
  toUInt8(multiIf(has(g_ok4, 1), 4, g_s3 > 0, 3, g_s2 > 0, 2, g_s1 > 0, 1, 0)) AS g_level
  FROM (
    SELECT user_id, level, arraySort(arrayConcat(syn, ts)) AS g_a FROM (
      SELECT user_id, groupArray(toUInt32((toUInt32(event_time) - @base) * 4 + step - 1)) AS ts
      FROM funnel_events
      WHERE business_line = @key AND event_time >= toDateTime(@prev) AND event_time < toDateTime(@cut)
      GROUP BY user_id
    ) ANY LEFT JOIN funnel_join_5 USING user_id
  )
)
WHERE lvl > 0;

-- carry
INSERT INTO funnel_state_7 (user_id, level, s1, s2, s3)
SELECT user_id, level, if(s1 >= @mins, s1, 0), if(s2 >= @mins, s2, 0), if(s3 >= @mins, s3, 0)
FROM funnel_state_5
WHERE user_id NOT IN (SELECT user_id FROM funnel_state_7);

-- create join
CREATE TABLE IF NOT EXISTS funnel_join_7 (user_id UInt64, level UInt8, syn Array(UInt32)) ENGINE = Join(ANY, LEFT, user_id);

-- create join
INSERT INTO funnel_join_7 (user_id, level, syn)
SELECT user_id, level, if(level >= 4, emptyArrayUInt32(), arrayFilter(x -> x > 3, arrayMap(x -> toUInt32(x), [s3, s3 + 1, s3 + 2, s2, s2 + 1, s1])))
FROM funnel_state_7;

-- users
SELECT count(), countIf(level >= 2), countIf(level >= 3), countIf(level >= 4)
FROM funnel_state_7;

-- tail
SELECT r, t, count() AS users FROM (
  SELECT level AS t, arrayReduce('windowFunnel(14403)', a, arrayMap(x -> x % 4 = 0, a), arrayMap(x -> x % 4 = 1, a), arrayMap(x -> x % 4 = 2, a), arrayMap(x -> x % 4 = 3, a)) AS r
  FROM (
    SELECT user_id, arrayConcat(syn, ts) AS a, level, deep FROM (
      SELECT user_id, groupArray(toUInt32((toUInt32(event_time) - @base) * 4 + step - 1)) AS ts, max(step) > 1 AS deep
      FROM funnel_events
      WHERE business_line = @key AND event_time >= toDateTime(@cut) AND event_time < toDateTime(@end)
      GROUP BY user_id
    ) ANY LEFT JOIN funnel_join_7 USING user_id
  ) WHERE level = 0 OR deep AND level < 4
) WHERE r > t GROUP BY r, t;

-- drop
DROP TABLE IF EXISTS funnel_state_5;

-- drop
DROP TABLE IF EXISTS funnel_join_5;

