-- create state
CREATE TABLE IF NOT EXISTS checkout_state_7 (uid UInt64, level UInt8, s1 UInt32, s2 UInt32) ENGINE = MergeTree ORDER BY uid;

-- full
INSERT INTO checkout_state_7 (uid, level, s1, s2)
SELECT uid, level, if(g_s1 >= @mins, g_s1, 0), if(g_s2 >= @mins, g_s2, 0)
FROM (
  SELECT uid, windowFunnel(5402)(toUInt32((toUInt32(at) - @base) * 3 + step - 1), step = 1, step = 2, step = 3) AS level
  FROM checkout_events
  WHERE shop = @key AND at >= toDateTime(@start) AND at < toDateTime(@cut)
  GROUP BY uid
) ANY LEFT JOIN (
  SELECT uid, g_s1, g_s2 FROM (
    SELECT uid, g_a,
  arrayMap(x -> x % 3, g_a) AS g_k,
  arrayMap(y -> y = 0, g_k) AS g_isv,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_a, g_isv) AS g_fvv, arrayPopBack(arrayPushFront(g_fvv, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_isv), g_isv) AS g_npv)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_isv), g_isv), g_npv))) AS g_lv,
  arrayMap((x, y, l) -> y = 1 AND l > 0 AND x <= l + 5402, g_a, g_k, g_lv) AS g_ok2,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_lv, g_ok2) AS g_fv1, arrayPopBack(arrayPushFront(g_fv1, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_ok2), g_ok2) AS g_np1)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_ok2), g_ok2), g_np1))) AS g_e1,
  arrayMap((x, y, e) -> y = 2 AND e > 0 AND x <= e + 5402, g_a, g_k, g_e1) AS g_ok3,
  toUInt32(g_lv[-1]) AS g_s1,
  toUInt32(g_e1[-1]) AS g_s2,
  toUInt8(multiIf(has(g_ok3, 1), 3, g_s2 > 0, 2, g_s1 > 0, 1, 0)) AS g_level
    FROM (
      SELECT uid, arraySort(groupArray(toUInt32((toUInt32(at) - @base) * 3 + step - 1))) AS g_a
      FROM checkout_events
      WHERE shop = @key AND at >= toDateTime(@recent) AND at < toDateTime(@cut)
      GROUP BY uid
    )
  )
) USING uid
WHERE level > 0;

-- incremental
INSERT INTO checkout_state_7 (uid, level, s1, s2)
SELECT uid, greatest(level, g_level) AS lvl, if(g_s1 >= @mins, g_s1, 0), if(g_s2 >= @mins, g_s2, 0)
FROM (
  SELECT uid, level, g_a,
  arrayMap(x -> x % 3, g_a) AS g_k,
  arrayMap(y -> y = 0, g_k) AS g_isv,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_a, g_isv) AS g_fvv, arrayPopBack(arrayPushFront(g_fvv, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_isv), g_isv) AS g_npv)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_isv), g_isv), g_npv))) AS g_lv,
  arrayMap((x, y, l) -> y = 1 AND l > 0 AND x <= l + 5402, g_a, g_k, g_lv) AS g_ok2,
  arrayCumSum(arraySort((g, p) -> p, arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, g_lv, g_ok2) AS g_fv1, arrayPopBack(arrayPushFront(g_fv1, 0))), arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(g_ok2), g_ok2) AS g_np1)), arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(g_ok2), g_ok2), g_np1))) AS g_e1,
  arrayMap((x, y, e) -> y = 2 AND e > 0 AND x <= e + 5402, g_a, g_k, g_e1) AS g_ok3,
  toUInt32(g_lv[-1]) AS g_s1,
  toUInt32(g_e1[-1]) AS g_s2,
  toUInt8(multiIf(has(g_ok3, 1), 3, g_s2 > 0, 2, g_s1 > 0, 1, 0)) AS g_level
  FROM (
    SELECT uid, level, arraySort(arrayConcat(syn, ts)) AS g_a FROM (
      SELECT uid, groupArray(toUInt32((toUInt32(at) - @base) * 3 + step - 1)) AS ts
      FROM checkout_events
      WHERE shop = @key AND at >= toDateTime(@prev) AND at < toDateTime(@cut)
      GROUP BY uid
    ) ANY LEFT JOIN checkout_join_5 USING uid
  )
)
WHERE lvl > 0;

-- carry
INSERT INTO checkout_state_7 (uid, level, s1, s2)
SELECT uid, level, if(s1 >= @mins, s1, 0), if(s2 >= @mins, s2, 0)
FROM checkout_state_5
WHERE uid NOT IN (SELECT uid FROM checkout_state_7);

-- create join
CREATE TABLE IF NOT EXISTS checkout_join_7 (uid UInt64, level UInt8, syn Array(UInt32)) ENGINE = Join(ANY, LEFT, uid);

-- create join
INSERT INTO checkout_join_7 (uid, level, syn)
SELECT uid, level, if(level >= 3, emptyArrayUInt32(), arrayFilter(x -> x > 2, arrayMap(x -> toUInt32(x), [s2, s2 + 1, s1])))
FROM checkout_state_7;

-- users
SELECT count(), countIf(level >= 2), countIf(level >= 3)
FROM checkout_state_7;

-- tail
SELECT r, t, count() AS users FROM (
  SELECT level AS t, arrayReduce('windowFunnel(5402)', a, arrayMap(x -> x % 3 = 0, a), arrayMap(x -> x % 3 = 1, a), arrayMap(x -> x % 3 = 2, a)) AS r
  FROM (
    SELECT uid, arrayConcat(syn, ts) AS a, level, deep FROM (
      SELECT uid, groupArray(toUInt32((toUInt32(at) - @base) * 3 + step - 1)) AS ts, max(step) > 1 AS deep
      FROM checkout_events
      WHERE shop = @key AND at >= toDateTime(@cut) AND at < toDateTime(@end)
      GROUP BY uid
    ) ANY LEFT JOIN checkout_join_7 USING uid
  ) WHERE level = 0 OR deep AND level < 3
) WHERE r > t GROUP BY r, t;

-- drop
DROP TABLE IF EXISTS checkout_state_5;

-- drop
DROP TABLE IF EXISTS checkout_join_5;

