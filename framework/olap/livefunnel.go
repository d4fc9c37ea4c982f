package olap

import (
	"fmt"
	"strconv"
	"strings"
)

// LiveFunnel declares a funnel answered live, exactly, as "the state at a
// cut + the rows after it":
//
//   - A state is every user's level at the cut and the windowFunnel carry:
//     the start times s1 >= s2 >= ... of the latest chains that reached
//     steps 1, 2, ... n-1. windowFunnel's greedy pass over a user's sorted
//     events keeps exactly these (and the level), so going on from them
//     over later events gives the level over all events. It lives in
//     <StatePrefix><id> (MergeTree) and, on one node, <JoinPrefix><id> (a
//     Join-engine table, a hash in RAM) with the carry as the synthetic
//     events that recreate it. Snapshots says which state holds at which
//     cut.
//   - A live answer reads the rows after the cut from Events (one
//     primary-key range), looks their users up in the state, runs
//     windowFunnel over carry + tail per user and adds the users who
//     reached a step only now to the snapshot's counts. It first checks in
//     Counts that no row arrived before the cut since the snapshot was
//     taken (else the caller answers from its other source).
//   - Refresh advances the snapshot: from the previous state over the rows
//     since its cut, or from scratch when there is none or rows arrived
//     late.
//
// Time is scaled to n x (second - day start + 1) + step index (n steps), so
// that events of one second sort in step order (as windowFunnel does on
// current ClickHouse; 18.16 keeps the order rows were read in) and the
// window becomes n x Window + n - 1.
//
// On a cluster (Cluster set) the Events table is a Distributed table
// sharded by the user column, so one user's rows are on one shard. The
// state tables are then created ON CLUSTER as replicated local tables with
// a Distributed table in front, sharded the same way; every per-user step
// runs on the shards (distributed_group_by_no_merge, the state read
// through its local table in a join each shard runs), and only per-user
// results or counts reach the initiator. There is no Join-engine table on
// a cluster: each shard builds the hash of its part of the state per
// query.
type LiveFunnel struct {
	// Events holds one row per funnel event: Key String, Time DateTime,
	// User UInt64 and Step UInt8 (1..Steps), sorted by (Key, Time).
	Events string
	// Counts holds the rows of Events per key, day and 10-second bucket:
	// (Key String, day Date, bucket DateTime, n UInt64), summed.
	Counts string
	// Snapshots holds one row per snapshot: Key, day, snap, state, cut,
	// rows_before, users1..users<Steps>, lag, clean, created_at.
	Snapshots string
	// Key, Time, User and Step name the columns.
	Key, Time, User, Step string
	// Steps is the number of steps (2..8) and Window the window in seconds.
	Steps  int
	Window int
	// StatePrefix and JoinPrefix name a state's tables: prefix + its id.
	StatePrefix, JoinPrefix string
	// Expected, if set, is a query returning how many rows of the key's
	// day Events must hold (bound: @key, @day): a first snapshot is taken
	// only when they are all there.
	Expected string
	// Cluster is the ClickHouse cluster name, empty on a single node;
	// Database qualifies the names that shards and ON CLUSTER DDL resolve.
	Cluster, Database string
}

// Validate checks the declaration.
func (f LiveFunnel) Validate() error {
	for _, n := range []struct{ what, v string }{
		{"events table", f.Events}, {"counts table", f.Counts}, {"snapshots table", f.Snapshots},
		{"key column", f.Key}, {"time column", f.Time}, {"user column", f.User}, {"step column", f.Step},
		{"state prefix", f.StatePrefix}, {"join prefix", f.JoinPrefix},
	} {
		if !identRe(n.v) {
			return fmt.Errorf("olap: live funnel %s %q is not a plain identifier", n.what, n.v)
		}
	}
	for _, c := range []string{f.Key, f.Time, f.User, f.Step} {
		if funnelReserved[c] || strings.HasPrefix(c, "g_") || len(c) == 2 && c[0] == 's' && c[1] >= '1' && c[1] <= '9' {
			return fmt.Errorf("olap: live funnel column %q is a name its queries use; rename it", c)
		}
	}
	if f.Steps < 2 || f.Steps > 8 {
		return fmt.Errorf("olap: live funnel of %d steps; want 2..8", f.Steps)
	}
	if f.Window <= 0 {
		return fmt.Errorf("olap: live funnel window %d s; want > 0", f.Window)
	}
	if f.Cluster != "" && (!identRe(f.Cluster) || !identRe(f.Database)) {
		return fmt.Errorf("olap: live funnel on cluster %q needs plain cluster and database names (database %q)", f.Cluster, f.Database)
	}
	return nil
}

// funnelReserved are the aliases and columns the generated queries use
// besides g_* and s1..s9: a declared column of the same name would be
// shadowed by them.
var funnelReserved = map[string]bool{
	"ts": true, "a": true, "deep": true, "level": true, "syn": true, "r": true, "t": true,
	"users": true, "lvl": true, "n": true, "bucket": true, "day": true, "cut": true, "snap": true,
	"state": true, "rows_before": true, "lag": true, "clean": true, "created_at": true,
	"before": true, "total": true, "x": true, "y": true, "e": true, "l": true, "g": true,
	"p": true, "q": true, "b": true, "i": true,
}

func identRe(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range s {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// OnCluster returns a copy of f for the cluster and database (an empty
// cluster: a single node).
func (f LiveFunnel) OnCluster(cluster, database string) LiveFunnel {
	f.Cluster, f.Database = cluster, database
	return f
}

// ScaledWindow is the window in scaled time.
func (f LiveFunnel) ScaledWindow() int { return f.Window*f.Steps + f.Steps - 1 }

// StateTable and JoinTable name the tables of state id.
func (f LiveFunnel) StateTable(id uint64) string { return f.StatePrefix + strconv.FormatUint(id, 10) }

// JoinTable names the Join-engine table of state id (single node only).
func (f LiveFunnel) JoinTable(id uint64) string { return f.JoinPrefix + strconv.FormatUint(id, 10) }

// local is the table that holds a Distributed table's rows on each shard,
// database-qualified (shards resolve it in their own default database).
func (f LiveFunnel) local(name string) string { return f.Database + "." + name + "_local" }

func (f LiveFunnel) onCluster() string { return " ON CLUSTER " + f.Cluster }

// scaled is a row's scaled time; @base is the day start - 1 s.
func (f LiveFunnel) scaled() string {
	return fmt.Sprintf("toUInt32((toUInt32(%s) - @base) * %d + %s - 1)", f.Time, f.Steps, f.Step)
}

// lastAt returns, for every position of the arrays, the value of vals at
// the last position <= it where flags is 1 (0 before the first), given
// that those values never decrease. It avoids lambdas over captured arrays
// (which ClickHouse copies per element): the gaps between consecutive
// flagged values are scattered back to their positions and summed.
func lastAt(flags, vals, tag string) string {
	return fmt.Sprintf("arrayCumSum(arraySort((g, p) -> p, "+
		"arrayConcat(arrayMap((x, q) -> x - q, arrayFilter((x, b) -> b, %[2]s, %[1]s) AS g_fv%[3]s, arrayPopBack(arrayPushFront(g_fv%[3]s, 0))), "+
		"arrayMap(x -> toInt64(0), arrayFilter((i, b) -> NOT b, arrayEnumerate(%[1]s), %[1]s) AS g_np%[3]s)), "+
		"arrayConcat(arrayFilter((i, b) -> b, arrayEnumerate(%[1]s), %[1]s), g_np%[3]s)))", flags, vals, tag)
}

// greedy is windowFunnel's pass over the sorted scaled times g_a as array
// expressions: g_lv is the latest first step (events_timestamp[0]) at each
// position, g_e1, g_e2, ... events_timestamp[1], [2], ...; step j+1 counts
// when a chain that reached step j starts within the window before it. It
// yields the carry g_s1..g_s<n-1> and g_level.
func (f LiveFunnel) greedy() string {
	n, win := f.Steps, strconv.Itoa(f.ScaledWindow())
	parts := []string{
		fmt.Sprintf("arrayMap(x -> x %% %d, g_a) AS g_k", n),
		"arrayMap(y -> y = 0, g_k) AS g_isv",
		lastAt("g_isv", "g_a", "v") + " AS g_lv",
	}
	prev, v := "g_lv", "l"
	for j := 1; j < n; j++ {
		ok := fmt.Sprintf("g_ok%d", j+1)
		parts = append(parts, fmt.Sprintf("arrayMap((x, y, %[1]s) -> y = %[2]d AND %[1]s > 0 AND x <= %[1]s + %[3]s, g_a, g_k, %[4]s) AS %[5]s", v, j, win, prev, ok))
		if j == n-1 {
			break
		}
		e := fmt.Sprintf("g_e%d", j)
		parts = append(parts, lastAt(ok, prev, strconv.Itoa(j))+" AS "+e)
		prev, v = e, "e"
	}
	parts = append(parts, "toUInt32(g_lv[-1]) AS g_s1")
	for j := 2; j < n; j++ {
		parts = append(parts, fmt.Sprintf("toUInt32(g_e%d[-1]) AS g_s%d", j-1, j))
	}
	level := fmt.Sprintf("has(g_ok%d, 1), %d", n, n)
	for j := n - 1; j >= 1; j-- {
		level += fmt.Sprintf(", g_s%d > 0, %d", j, j)
	}
	parts = append(parts, "toUInt8(multiIf("+level+", 0)) AS g_level")
	return strings.Join(parts, ",\n  ")
}

// carryCols lists the carry columns with prefix: "s1, s2, s3".
func (f LiveFunnel) carryCols(prefix string) string {
	cols := make([]string, f.Steps-1)
	for j := range cols {
		cols[j] = fmt.Sprintf("%ss%d", prefix, j+1)
	}
	return strings.Join(cols, ", ")
}

// prune keeps a carry start only while a row at or after the cut can still
// extend it (@mins is the cut's scaled time minus the window).
func (f LiveFunnel) prune(prefix string) string {
	cols := make([]string, f.Steps-1)
	for j := range cols {
		s := fmt.Sprintf("%ss%d", prefix, j+1)
		cols[j] = fmt.Sprintf("if(%[1]s >= @mins, %[1]s, 0)", s)
	}
	return strings.Join(cols, ", ")
}

// wf is windowFunnel over the scaled times a (carry + rows).
func (f LiveFunnel) wf() string {
	conds := make([]string, f.Steps)
	for j := range conds {
		conds[j] = fmt.Sprintf("arrayMap(x -> x %% %d = %d, a)", f.Steps, j)
	}
	return fmt.Sprintf("arrayReduce('windowFunnel(%d)', a, %s)", f.ScaledWindow(), strings.Join(conds, ", "))
}

// syn is the carry of a state row as the synthetic events that recreate
// it: for the chain that reached step j, steps 1..j at its start.
func (f LiveFunnel) syn() string {
	var ev []string
	for j := f.Steps - 1; j >= 1; j-- {
		for i := 0; i < j; i++ {
			if i == 0 {
				ev = append(ev, fmt.Sprintf("s%d", j))
			} else {
				ev = append(ev, fmt.Sprintf("s%d + %d", j, i))
			}
		}
	}
	return fmt.Sprintf("if(level >= %d, emptyArrayUInt32(), arrayFilter(x -> x > %d, arrayMap(x -> toUInt32(x), [%s])))",
		f.Steps, f.Steps-1, strings.Join(ev, ", "))
}

// stateColumns is the column list of a state table.
func (f LiveFunnel) stateColumns() string {
	return f.User + ", level, " + f.carryCols("")
}

// inRange is the filter of Events rows of the key in [@<from>, @<to>).
func (f LiveFunnel) inRange(from, to string) string {
	return fmt.Sprintf("%[1]s = @key AND %[2]s >= toDateTime(@%[3]s) AND %[2]s < toDateTime(@%[4]s)", f.Key, f.Time, from, to)
}

// perUser is PerShard on f's cluster.
func (f LiveFunnel) perUser() string { return PerShard(f.Cluster) }

// PerShard returns the settings clause that ends a query whose per-user
// step (GROUP BY the user) reads a Distributed table sharded by the user:
// each shard answers for its own users and the initiator only adds up
// the per-user results. Empty on a single node (cluster "").
func PerShard(cluster string) string {
	if cluster == "" {
		return ""
	}
	return "\nSETTINGS distributed_group_by_no_merge = 1"
}

// WriteSettings are the settings of the statements that write a state on
// a cluster whose shards have replicas each: the per-user reads run on the
// shards, and each insert returns once every replica of the shard has the
// rows (the answers read a shard's state through whichever replica serves
// them). Nil on a single node.
func (f LiveFunnel) WriteSettings(replicas int) map[string]int {
	if f.Cluster == "" {
		return nil
	}
	set := map[string]int{"distributed_group_by_no_merge": 1}
	if replicas > 1 {
		set["insert_quorum"] = replicas
	}
	return set
}

// joinState is what the rows of a user join to find its state at the cut:
// the Join table on one node, each shard's part of the state on a cluster.
func (f LiveFunnel) joinState(state uint64) string {
	if f.Cluster == "" {
		return f.JoinTable(state)
	}
	return "(\n  SELECT " + f.User + ", level, " + f.syn() + " AS syn FROM " + f.local(f.StateTable(state)) + "\n)"
}

// CreateStateSQL returns the statements that create state id's table.
func (f LiveFunnel) CreateStateSQL(state uint64) []string {
	cols := "(" + f.User + " UInt64, level UInt8"
	for j := 1; j < f.Steps; j++ {
		cols += fmt.Sprintf(", s%d UInt32", j)
	}
	cols += ")"
	table := f.StateTable(state)
	if f.Cluster == "" {
		return []string{"CREATE TABLE IF NOT EXISTS " + table + " " + cols + " ENGINE = MergeTree ORDER BY " + f.User}
	}
	local := f.local(table)
	zk := fmt.Sprintf("/clickhouse/tables/{shard}/%s/%s_local", f.Database, table)
	return []string{
		"CREATE TABLE IF NOT EXISTS " + local + f.onCluster() + " " + cols +
			" ENGINE = ReplicatedMergeTree('" + zk + "', '{replica}') ORDER BY " + f.User,
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s%[3]s AS %[4]s ENGINE = Distributed(%[5]s, %[1]s, %[2]s_local, cityHash64(%[6]s))",
			f.Database, table, f.onCluster(), local, f.Cluster, f.User),
	}
}

// CreateJoinSQL returns the statements that create and fill state id's
// Join table from its state table: none on a cluster. A new table per
// state: a Join table cannot be emptied on 18.16.
func (f LiveFunnel) CreateJoinSQL(state uint64) []string {
	if f.Cluster != "" {
		return nil
	}
	join := f.JoinTable(state)
	return []string{
		"CREATE TABLE IF NOT EXISTS " + join + " (" + f.User + " UInt64, level UInt8, syn Array(UInt32)) ENGINE = Join(ANY, LEFT, " + f.User + ")",
		"INSERT INTO " + join + " (" + f.User + ", level, syn)\nSELECT " + f.User + ", level, " + f.syn() + "\nFROM " + f.StateTable(state),
	}
}

// StateTables returns every table of state id, in the order they are
// dropped.
func (f LiveFunnel) StateTables(state uint64) []string {
	if f.Cluster == "" {
		return []string{f.StateTable(state), f.JoinTable(state)}
	}
	return []string{f.StateTable(state), f.StateTable(state) + "_local"}
}

// DropSQL drops one table of a state (a name StateTables returned).
func (f LiveFunnel) DropSQL(table string) string {
	if f.Cluster == "" {
		return "DROP TABLE IF EXISTS " + table
	}
	return "DROP TABLE IF EXISTS " + f.Database + "." + table + f.onCluster()
}

// FullSQL fills state table from the day's rows before @cut: every user's
// level by windowFunnel over the day, and the carry from the rows of the
// last window (@recent on). Bound: @key, @base, @mins, @cut, @start,
// @recent. On a cluster it runs with WriteSettings.
func (f LiveFunnel) FullSQL(state uint64) string {
	return `INSERT INTO ` + f.StateTable(state) + ` (` + f.stateColumns() + `)
SELECT ` + f.User + `, level, ` + f.prune("g_") + `
FROM (
  SELECT ` + f.User + `, windowFunnel(` + strconv.Itoa(f.ScaledWindow()) + `)(` + f.scaled() + `, ` + f.stepConds() + `) AS level
  FROM ` + f.Events + `
  WHERE ` + f.inRange("start", "cut") + `
  GROUP BY ` + f.User + `
) ANY LEFT JOIN (
  SELECT ` + f.User + `, ` + f.carryCols("g_") + ` FROM (
    SELECT ` + f.User + `, g_a,
  ` + f.greedy() + `
    FROM (
      SELECT ` + f.User + `, arraySort(groupArray(` + f.scaled() + `)) AS g_a
      FROM ` + f.Events + `
      WHERE ` + f.inRange("recent", "cut") + `
      GROUP BY ` + f.User + `
    )
  )
) USING ` + f.User + `
WHERE level > 0`
}

func (f LiveFunnel) stepConds() string {
	conds := make([]string, f.Steps)
	for j := range conds {
		conds[j] = fmt.Sprintf("%s = %d", f.Step, j+1)
	}
	return strings.Join(conds, ", ")
}

// IncrementalSQL fills state table with the users who have rows in
// [@prev, @cut): they go on from their carry in state prev. Bound: @key,
// @base, @mins, @prev, @cut. On a cluster it runs with WriteSettings.
func (f LiveFunnel) IncrementalSQL(state, prev uint64) string {
	var rows string
	if f.Cluster == "" {
		rows = `    SELECT ` + f.User + `, level, arraySort(arrayConcat(syn, ts)) AS g_a FROM (
      SELECT ` + f.User + `, groupArray(` + f.scaled() + `) AS ts
      FROM ` + f.Events + `
      WHERE ` + f.inRange("prev", "cut") + `
      GROUP BY ` + f.User + `
    ) ANY LEFT JOIN ` + f.JoinTable(prev) + ` USING ` + f.User
	} else {
		rows = `    SELECT ` + f.User + `, any(level) AS level, arraySort(arrayConcat(any(syn), groupArray(` + f.scaled() + `))) AS g_a
    FROM ` + f.Events + ` ANY LEFT JOIN ` + f.joinState(prev) + ` USING ` + f.User + `
    WHERE ` + f.inRange("prev", "cut") + `
    GROUP BY ` + f.User
	}
	return `INSERT INTO ` + f.StateTable(state) + ` (` + f.stateColumns() + `)
SELECT ` + f.User + `, greatest(level, g_level) AS lvl, ` + f.prune("g_") + `
FROM (
  SELECT ` + f.User + `, level, g_a,
  ` + f.greedy() + `
  FROM (
` + rows + `
  )
)
WHERE lvl > 0`
}

// CarrySQL copies into state table the users of state prev it does not
// have (no rows since prev's cut), their carry pruned to the new cut.
// Bound: @mins. On a cluster each shard compares with its own part.
func (f LiveFunnel) CarrySQL(state, prev uint64) string {
	in := f.StateTable(state)
	if f.Cluster != "" {
		in = f.local(in)
	}
	return `INSERT INTO ` + f.StateTable(state) + ` (` + f.stateColumns() + `)
SELECT ` + f.User + `, level, ` + f.prune("") + `
FROM ` + f.StateTable(prev) + `
WHERE ` + f.User + ` NOT IN (SELECT ` + f.User + ` FROM ` + in + `)`
}

// UsersSQL counts the users of state id who reached each step.
func (f LiveFunnel) UsersSQL(state uint64) string {
	cols := []string{"count()"}
	for j := 2; j <= f.Steps; j++ {
		cols = append(cols, fmt.Sprintf("countIf(level >= %d)", j))
	}
	return "SELECT " + strings.Join(cols, ", ") + "\nFROM " + f.StateTable(state)
}

// TailSQL returns, per (level r over carry + tail, level t at the cut),
// the users of the rows in [@cut, @end) who can reach a step anew: below
// the last step and, unless new at the cut, with a row past step 1.
// Bound: @key, @base, @cut, @end.
func (f LiveFunnel) TailSQL(state uint64) string {
	var rows string
	if f.Cluster == "" {
		rows = `    SELECT ` + f.User + `, arrayConcat(syn, ts) AS a, level, deep FROM (
      SELECT ` + f.User + `, groupArray(` + f.scaled() + `) AS ts, max(` + f.Step + `) > 1 AS deep
      FROM ` + f.Events + `
      WHERE ` + f.inRange("cut", "end") + `
      GROUP BY ` + f.User + `
    ) ANY LEFT JOIN ` + f.JoinTable(state) + ` USING ` + f.User
	} else {
		rows = `    SELECT ` + f.User + `, arrayConcat(any(syn), groupArray(` + f.scaled() + `)) AS a, any(level) AS level, max(` + f.Step + `) > 1 AS deep
    FROM ` + f.Events + ` ANY LEFT JOIN ` + f.joinState(state) + ` USING ` + f.User + `
    WHERE ` + f.inRange("cut", "end") + `
    GROUP BY ` + f.User
	}
	return `SELECT r, t, count() AS users FROM (
  SELECT level AS t, ` + f.wf() + ` AS r
  FROM (
` + rows + `
  ) WHERE level = 0 OR deep AND level < ` + strconv.Itoa(f.Steps) + `
) WHERE r > t GROUP BY r, t` + f.perUser()
}
