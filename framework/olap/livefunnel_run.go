package olap

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/framework/chclient"
)

const (
	// FunnelBucket is the granularity of the counts and of cuts.
	FunnelBucket = 10 * time.Second
	// funnelMinLag and funnelMaxLag bound how far behind now a cut is
	// taken: rows older than the cut arriving later invalidate the
	// snapshot, so the lag doubles each time that happens and shrinks by a
	// quarter after funnelRelaxRuns clean runs.
	funnelMinLag    = 15 * time.Second
	funnelMaxLag    = 5 * time.Minute
	funnelRelaxRuns = 60
	// funnelMaxTail is the most rows after the cut a live answer reads;
	// beyond it (a stalled job) the caller's other source answers.
	funnelMaxTail = 1_000_000
	// funnelMinRows is the size of a day below which no first snapshot is
	// taken: merging so few per-user states costs less than a run.
	funnelMinRows = 50_000
	// funnelKeep is how long a superseded state stays (queries in flight,
	// a concurrent run going on from it); funnelOrphan how long a state no
	// snapshot uses does (a run still building it).
	funnelKeep   = 2 * time.Minute
	funnelOrphan = 30 * time.Minute
	// funnelWrite bounds the statements that write a state.
	funnelWrite = 2 * time.Minute
)

// FunnelRun says what one refresh of a day's funnel snapshot did.
type FunnelRun struct {
	// Mode is "none" (nothing to do), "small" (a day too small for a first
	// snapshot), "advance" (a later cut, no new rows: same state),
	// "incremental" (previous state + the rows since its cut) or "full"
	// (from the day's rows).
	Mode string
	// Late is true when rows arrived before the previous cut after it was
	// taken (the reason for a full run).
	Late bool
	Cut  time.Time
	Lag  time.Duration
	// Users are the users who reached each step at the cut.
	Users []uint64
}

// ErrFunnelIncomplete means Events holds fewer rows of a day than the
// Expected query says (rows not backfilled): no snapshot is taken.
var ErrFunnelIncomplete = errors.New("olap: funnel events incomplete for the day")

// FunnelDay is one day of one key: [Start, End) in the key's zone.
type FunnelDay struct {
	Key        string
	Start, End time.Time
}

// NewFunnelDay returns the day of key that contains t in loc.
func NewFunnelDay(key string, t time.Time, loc *time.Location) FunnelDay {
	t = t.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return FunnelDay{Key: key, Start: start, End: start.AddDate(0, 0, 1)}
}

func (d FunnelDay) date() string { return d.Start.Format(time.DateOnly) }

// base is the scaled-time origin: rows of the day scale to >= Steps, so 0
// means "none" in the carry.
func (d FunnelDay) base() uint32 { return uint32(d.Start.Unix() - 1) }

// FunnelStore runs a LiveFunnel's queries on one ClickHouse client.
type FunnelStore struct {
	f    LiveFunnel
	ch   *chclient.Client
	gate *cleanupGate
	// quorum is the replicas per shard and shards the shards, read once
	// on a cluster (0: not yet).
	mu             sync.Mutex
	quorum, shards int
	// backoff is the first wait before a write is tried again.
	backoff time.Duration
	// now stamps ids, created_at and the cleanup's ages: the wall clock,
	// whatever clock picks the cuts.
	now func() time.Time
}

// NewFunnelStore returns a store for f on ch, f placed on ch's cluster.
func NewFunnelStore(f LiveFunnel, ch *chclient.Client) (*FunnelStore, error) {
	f = f.OnCluster(ch.Cluster(), ch.Database())
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &FunnelStore{f: f, ch: ch, gate: &cleanupGate{}, backoff: 500 * time.Millisecond, now: time.Now}, nil
}

// snapshot is one row of Snapshots, with the day's rows before its cut
// and in all when read together (status).
type snapshot struct {
	Snap       uint64    `ch:"snap"`
	State      uint64    `ch:"state"`
	Cut        time.Time `ch:"cut"`
	RowsBefore uint64    `ch:"rows_before"`
	Users      []uint64  `ch:"users"`
	Lag        uint32    `ch:"lag"`
	Clean      uint32    `ch:"clean"`
	Before     uint64    `ch:"before"`
	Total      uint64    `ch:"total"`
}

// usersCols lists the snapshot's user columns: "users1, users2, ...".
func (s *FunnelStore) usersCols() string {
	cols := make([]string, s.f.Steps)
	for j := range cols {
		cols[j] = fmt.Sprintf("users%d", j+1)
	}
	return strings.Join(cols, ", ")
}

// snapCols are the columns of a snapshot as read.
func (s *FunnelStore) snapCols() string {
	return "snap, state, cut, rows_before, [" + s.usersCols() + "] AS users, lag, clean"
}

// first runs q and returns its first row (nil: none).
func (s *FunnelStore) first(ctx context.Context, q string, args ...any) (*snapshot, error) {
	var rows []snapshot
	if err := s.ch.Select(ctx, &rows, q, args...); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (s *FunnelStore) latest(ctx context.Context, d FunnelDay) (*snapshot, error) {
	f := s.f
	q := `SELECT ` + s.snapCols() + `, toUInt64(0) AS before, toUInt64(0) AS total
FROM ` + f.Snapshots + ` WHERE ` + f.Key + ` = @key AND day = toDate(@day) ORDER BY snap DESC LIMIT 1`
	return s.first(ctx, q, clickhouse.Named("key", d.Key), clickhouse.Named("day", d.date()))
}

// status is the latest snapshot of a day with the day's rows before its
// cut and in all, read in one query.
func (s *FunnelStore) status(ctx context.Context, d FunnelDay) (*snapshot, error) {
	f := s.f
	users := s.usersCols()
	q := `SELECT ` + s.snapCols() + `,
  sumIf(n, bucket < cut) AS before, sum(n) AS total
FROM (
  SELECT ` + f.Key + `, day, snap, state, cut, rows_before, ` + users + `, lag, clean
  FROM ` + f.Snapshots + ` WHERE ` + f.Key + ` = @key AND day = toDate(@day) ORDER BY snap DESC LIMIT 1
) ALL LEFT JOIN (
  SELECT ` + f.Key + `, day, bucket, n FROM ` + f.Counts + ` WHERE ` + f.Key + ` = @key AND day = toDate(@day)
) USING ` + f.Key + `, day
GROUP BY snap, state, cut, rows_before, ` + users + `, lag, clean`
	return s.first(ctx, q, clickhouse.Named("key", d.Key), clickhouse.Named("day", d.date()))
}

// rows returns the day's rows before a, before b, and in all.
func (s *FunnelStore) rows(ctx context.Context, d FunnelDay, a, b time.Time) (beforeA, beforeB, total uint64, err error) {
	ctx, cancel := s.ch.Bound(ctx)
	defer cancel()
	q := `SELECT sumIf(n, bucket < toDateTime(@a)), sumIf(n, bucket < toDateTime(@b)), sum(n)
FROM ` + s.f.Counts + ` WHERE ` + s.f.Key + ` = @key AND day = toDate(@day)`
	err = s.ch.Conn().QueryRow(ctx, q, clickhouse.Named("key", d.Key), clickhouse.Named("day", d.date()),
		clickhouse.Named("a", uint32(a.Unix())), clickhouse.Named("b", uint32(b.Unix()))).Scan(&beforeA, &beforeB, &total)
	return beforeA, beforeB, total, err
}

// Answer returns the users who reached each of the first k steps on the
// day, from the latest snapshot and the rows after its cut. ok is false
// when no usable snapshot exists (none yet, rows arrived before its cut
// since, or too many rows after it): the caller answers from elsewhere.
func (s *FunnelStore) Answer(ctx context.Context, d FunnelDay, k int) ([]uint64, bool, error) {
	if k < 1 || k > s.f.Steps {
		return nil, false, fmt.Errorf("olap: funnel of %d steps; the live funnel has %d", k, s.f.Steps)
	}
	snap, err := s.status(ctx, d)
	if err != nil || snap == nil {
		return nil, false, err
	}
	if snap.Before != snap.RowsBefore || snap.Total-snap.Before > funnelMaxTail {
		return nil, false, nil
	}
	out := make([]uint64, k)
	copy(out, snap.Users[:k])
	if snap.Total == snap.Before {
		return out, true, nil
	}
	var rows []struct {
		R     uint8  `ch:"r"`
		T     uint8  `ch:"t"`
		Users uint64 `ch:"users"`
	}
	err = s.ch.Select(ctx, &rows, s.f.TailSQL(snap.State), clickhouse.Named("key", d.Key), clickhouse.Named("base", d.base()),
		clickhouse.Named("cut", uint32(snap.Cut.Unix())), clickhouse.Named("end", uint32(d.End.Unix())))
	if err != nil {
		return nil, false, err
	}
	// A user counts anew for the steps between the snapshot's level t and
	// the level r over carry + tail.
	for _, r := range rows {
		for j := int(r.T); j < int(r.R) && j < k; j++ {
			out[j] += r.Users
		}
	}
	return out, true, nil
}

// Refresh advances the day's snapshot to a cut its lag behind now (the
// day's end once that has passed).
func (s *FunnelStore) Refresh(ctx context.Context, d FunnelDay, now time.Time) (FunnelRun, error) {
	prev, err := s.latest(ctx, d)
	if err != nil {
		return FunnelRun{}, err
	}
	lag := funnelMinLag
	if prev != nil {
		lag = time.Duration(prev.Lag) * time.Second
	}
	cut := now.Add(-lag).Truncate(FunnelBucket)
	if cut.After(d.End) {
		cut = d.End
	}
	if !cut.After(d.Start) {
		return FunnelRun{Mode: "none"}, nil
	}
	if prev != nil && cut.Before(prev.Cut) {
		cut = prev.Cut
	}
	if prev == nil {
		_, _, total, err := s.rows(ctx, d, cut, cut)
		if err != nil {
			return FunnelRun{}, err
		}
		if total < funnelMinRows {
			return FunnelRun{Mode: "small"}, nil
		}
	}
	return s.build(ctx, d, cut, prev)
}

// Build takes a snapshot of the day at cut (a multiple of FunnelBucket
// inside the day), going on from the latest one when it can.
func (s *FunnelStore) Build(ctx context.Context, d FunnelDay, cut time.Time) (FunnelRun, error) {
	if cut.Before(d.Start) || cut.After(d.End) || !cut.Equal(cut.Truncate(FunnelBucket)) {
		return FunnelRun{}, fmt.Errorf("olap: funnel cut %s outside %s or not on a %s boundary", cut, d.date(), FunnelBucket)
	}
	prev, err := s.latest(ctx, d)
	if err != nil {
		return FunnelRun{}, err
	}
	return s.build(ctx, d, cut, prev)
}

func (s *FunnelStore) build(ctx context.Context, d FunnelDay, cut time.Time, prev *snapshot) (FunnelRun, error) {
	run := FunnelRun{Cut: cut, Lag: funnelMinLag}
	prevCut := cut
	if prev != nil {
		prevCut = prev.Cut
	}
	// Count before reading any row: a row that lands in between shows up
	// as a difference at the next check (and costs a full run), never as a
	// silently missing row.
	beforePrev, beforeCut, _, err := s.rows(ctx, d, prevCut, cut)
	if err != nil {
		return run, err
	}
	lag, clean := funnelMinLag, uint32(0)
	switch {
	case prev == nil || cut.Before(prev.Cut):
		run.Mode = "full"
	case beforePrev != prev.RowsBefore:
		run.Mode, run.Late = "full", true
		lag = min(2*time.Duration(prev.Lag)*time.Second, funnelMaxLag)
	default:
		lag, clean = time.Duration(prev.Lag)*time.Second, prev.Clean+1
		if clean >= funnelRelaxRuns {
			lag, clean = max(funnelMinLag, lag*3/4), 0
		}
		switch {
		case cut.Equal(prev.Cut):
			run.Mode = "none"
		case beforeCut == beforePrev:
			run.Mode = "advance"
		default:
			run.Mode = "incremental"
		}
		// The state's tables can be gone (dropped by hand, a lost disk):
		// then rebuild, the live answers fall back meanwhile.
		ok, err := s.exists(ctx, prev.State)
		if err != nil {
			return run, err
		}
		if !ok {
			run.Mode = "full"
		}
	}
	run.Lag = lag
	if run.Mode == "none" {
		run.Lag = time.Duration(prev.Lag) * time.Second
		run.Users = prev.Users
		return run, nil
	}
	snap := snapshot{Cut: cut, RowsBefore: beforeCut, Lag: uint32(lag / time.Second), Clean: clean}
	if run.Mode == "advance" {
		snap.State, snap.Users = prev.State, prev.Users
	} else {
		// Each attempt writes a new state table: a state that failed half
		// written is never referenced (cleanup drops it), so trying again
		// can never count a row twice.
		err := s.retry(ctx, func() error {
			snap.State = newFunnelID(s.now())
			err := s.write(ctx, d, cut, prev, snap.State, run.Mode)
			if err != nil && replicationTransient(err) {
				s.dropState(ctx, snap.State)
			}
			return err
		})
		if err != nil {
			return run, err
		}
		if snap.Users, err = s.users(ctx, snap.State); err != nil {
			return run, err
		}
	}
	snap.Snap = newFunnelID(s.now())
	// The snapshot row is the same on every attempt, created_at too: a
	// replicated table drops a block it already has (insert
	// deduplication), and a duplicate row would read the same anyway.
	created := s.now()
	if err := s.retry(ctx, func() error { return s.insertSnapshot(ctx, d, &snap, created) }); err != nil {
		return run, err
	}
	run.Users = snap.Users
	s.cleanup(ctx, d.Start, s.now())
	return run, nil
}

// writeCtx bounds the statements that write a state and carries
// WriteSettings on a cluster.
func (s *FunnelStore) writeCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, funnelWrite)
	if s.f.Cluster == "" {
		return ctx, cancel, nil
	}
	q, err := s.replicas(ctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	set := clickhouse.Settings{}
	for k, v := range s.f.WriteSettings(q) {
		set[k] = v
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(set)), cancel, nil
}

// replicas returns the fewest replicas a shard of the cluster has, read
// once (a failed read is tried again on the next call).
func (s *FunnelStore) replicas(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quorum > 0 {
		return s.quorum, nil
	}
	var n, shards uint64
	err := s.ch.Conn().QueryRow(ctx, `SELECT min(n), count() FROM (
  SELECT shard_num, count() AS n FROM system.clusters WHERE cluster = @cluster GROUP BY shard_num
)`, clickhouse.Named("cluster", s.f.Cluster)).Scan(&n, &shards)
	if err != nil {
		return 0, err
	}
	s.quorum, s.shards = int(n), int(shards)
	return s.quorum, nil
}

// awaitQuorum waits, within ctx, until on every shard table's local table
// has quorum active replicas (as ZooKeeper sees them). A replica becomes
// active some time after its table is created ON CLUSTER or its server
// restarts, and a quorum insert that starts meanwhile fails with
// UNSATISFIED_QUORUM_FOR_WRITE, on one shard after others took their rows.
// A single node, or a quorum of one, needs no wait. Call it after
// writeCtx, which reads the quorum.
func (s *FunnelStore) awaitQuorum(ctx context.Context, table string) error {
	s.mu.Lock()
	quorum, shards := s.quorum, s.shards
	s.mu.Unlock()
	if s.f.Cluster == "" || quorum < 2 {
		return nil
	}
	// One row per shard, read without aggregating: ctx may carry
	// distributed_group_by_no_merge, which would leave a count per shard.
	q := "SELECT active_replicas FROM cluster('" + s.f.Cluster + "', system, replicas) WHERE database = @db AND table = @table"
	for {
		n, active := 0, -1
		rows, err := s.ch.Conn().Query(ctx, q, clickhouse.Named("db", s.f.Database), clickhouse.Named("table", table+"_local"))
		if err == nil {
			for rows.Next() {
				var a uint8
				if err = rows.Scan(&a); err != nil {
					break
				}
				if n++; active < 0 || int(a) < active {
					active = int(a)
				}
			}
			if err == nil {
				err = rows.Err()
			}
			_ = rows.Close()
		}
		if err == nil && n == shards && active >= quorum {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("olap: %s_local: replicas not all active on every shard (%d of %d shards seen, fewest active %d, quorum %d; last error %v): %w",
				table, n, shards, active, quorum, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// funnelAttempts bounds the attempts at a write that failed for a
// replication reason.
const funnelAttempts = 4

// replicationTransient reports whether err is a replicated write that
// failed because a replica or ZooKeeper was briefly away: a quorum not
// reached or of unknown outcome, a previous quorum not yet satisfied, a
// replica read-only while its ZooKeeper session comes back.
func replicationTransient(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 242, // TABLE_IS_READ_ONLY
		285, // TOO_FEW_LIVE_REPLICAS
		286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
		319, // UNKNOWN_STATUS_OF_INSERT
		999: // KEEPER_EXCEPTION
		return true
	}
	return false
}

// retry runs op until it succeeds, fails for another reason than
// replicationTransient, or funnelAttempts are spent, waiting a little
// longer each time within ctx.
func (s *FunnelStore) retry(ctx context.Context, op func() error) error {
	wait := s.backoff
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt == funnelAttempts || !replicationTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// dropState drops state's tables at once (best effort; cleanup drops
// them later otherwise).
func (s *FunnelStore) dropState(ctx context.Context, state uint64) {
	for _, t := range s.f.StateTables(state) {
		_ = s.ch.Exec(ctx, s.f.DropSQL(t))
	}
}

// write writes the state rows of a new snapshot and its Join table.
func (s *FunnelStore) write(ctx context.Context, d FunnelDay, cut time.Time, prev *snapshot, state uint64, mode string) error {
	f := s.f
	mins := max((cut.Unix()-int64(d.base()))*int64(f.Steps)-int64(f.ScaledWindow()), 0)
	args := []any{
		clickhouse.Named("key", d.Key), clickhouse.Named("base", d.base()),
		clickhouse.Named("mins", mins), clickhouse.Named("cut", uint32(cut.Unix())),
	}
	ctx, cancel, err := s.writeCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for _, st := range f.CreateStateSQL(state) {
		if err := s.ch.Conn().Exec(ctx, st); err != nil {
			return err
		}
	}
	if err := s.awaitQuorum(ctx, f.StateTable(state)); err != nil {
		return err
	}
	if mode == "full" {
		if err := s.complete(ctx, d); err != nil {
			return err
		}
		recent := cut.Add(-time.Duration(f.Window) * time.Second)
		if recent.Before(d.Start) {
			recent = d.Start
		}
		args = append(args, clickhouse.Named("start", uint32(d.Start.Unix())), clickhouse.Named("recent", uint32(recent.Unix())))
		if err := s.ch.Conn().Exec(ctx, f.FullSQL(state), args...); err != nil {
			return err
		}
	} else {
		// Users with rows since the previous cut go on from their carry;
		// the others keep their state (carry pruned to the new cut).
		if err := s.ch.Conn().Exec(ctx, f.IncrementalSQL(state, prev.State), append(args, clickhouse.Named("prev", uint32(prev.Cut.Unix())))...); err != nil {
			return err
		}
		if err := s.ch.Conn().Exec(ctx, f.CarrySQL(state, prev.State), clickhouse.Named("mins", mins)); err != nil {
			return err
		}
	}
	for _, st := range f.CreateJoinSQL(state) {
		if err := s.ch.Conn().Exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// complete checks that Events holds every row of the day (Expected).
func (s *FunnelStore) complete(ctx context.Context, d FunnelDay) error {
	if s.f.Expected == "" {
		return nil
	}
	var want, got uint64
	if err := s.ch.Conn().QueryRow(ctx, s.f.Expected, clickhouse.Named("key", d.Key), clickhouse.Named("day", d.date())).Scan(&want); err != nil {
		return err
	}
	q := `SELECT count() FROM ` + s.f.Events + `
WHERE ` + s.f.inRange("start", "end")
	err := s.ch.Conn().QueryRow(ctx, q, clickhouse.Named("key", d.Key), clickhouse.Named("start", uint32(d.Start.Unix())),
		clickhouse.Named("end", uint32(d.End.Unix()))).Scan(&got)
	if err != nil {
		return err
	}
	if got < want {
		return fmt.Errorf("%w: %s %s: %d of %d rows", ErrFunnelIncomplete, d.Key, d.date(), got, want)
	}
	return nil
}

func (s *FunnelStore) exists(ctx context.Context, state uint64) (bool, error) {
	var n uint64
	ctx, cancel := s.ch.Bound(ctx)
	defer cancel()
	tables := s.f.StateTables(state)
	err := s.ch.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN (@a, @b)",
		clickhouse.Named("a", tables[0]), clickhouse.Named("b", tables[1])).Scan(&n)
	return n == uint64(len(tables)), err
}

func (s *FunnelStore) users(ctx context.Context, state uint64) ([]uint64, error) {
	u := make([]uint64, s.f.Steps)
	dest := make([]any, len(u))
	for j := range u {
		dest[j] = &u[j]
	}
	ctx, cancel := s.ch.Bound(ctx)
	defer cancel()
	return u, s.ch.Conn().QueryRow(ctx, s.f.UsersSQL(state)).Scan(dest...)
}

// insertSnapshot writes the snapshot's row, on a cluster to every replica
// of its shard before it returns (the next run and the answers read it
// through either).
func (s *FunnelStore) insertSnapshot(ctx context.Context, d FunnelDay, sn *snapshot, now time.Time) error {
	ctx, cancel, err := s.writeCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.awaitQuorum(ctx, s.f.Snapshots); err != nil {
		return err
	}
	b, err := s.ch.Conn().PrepareBatch(ctx, "INSERT INTO "+s.f.Snapshots+" ("+s.f.Key+", day, snap, state, cut, rows_before, "+s.usersCols()+", lag, clean, created_at)")
	if err != nil {
		return err
	}
	// A Date is a calendar day: pass it as UTC midnight.
	day := time.Date(d.Start.Year(), d.Start.Month(), d.Start.Day(), 0, 0, 0, 0, time.UTC)
	vals := []any{d.Key, day, sn.Snap, sn.State, sn.Cut, sn.RowsBefore}
	for _, u := range sn.Users {
		vals = append(vals, u)
	}
	if err := b.Append(append(vals, sn.Lag, sn.Clean, now)...); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// newFunnelID returns a snapshot or state id: the creation time in
// nanoseconds with random low bits, so that ids order by creation and two
// instances never collide.
func newFunnelID(now time.Time) uint64 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return uint64(now.UnixNano())&^0x3ff | uint64(binary.LittleEndian.Uint16(b[:])&0x3ff)
}

func funnelIDTime(id uint64) time.Time { return time.Unix(0, int64(id)) }

// cleanupGate rate-limits cleanup (it lists system tables).
type cleanupGate struct {
	mu   sync.Mutex
	last time.Time
}

// allow reports whether a cleanup may run at now, and if so records it.
func (g *cleanupGate) allow(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.last) < time.Minute {
		return false
	}
	g.last = now
	return true
}

// cleanup drops the tables of states that no longer serve: superseded (not
// the latest snapshot of the day or the day before, nor used by a snapshot
// taken in the last funnelKeep), or never used by any snapshot and older
// than funnelOrphan (a run that died). Errors are ignored: the next run
// tries again.
func (s *FunnelStore) cleanup(ctx context.Context, day, now time.Time) {
	if !s.gate.allow(now) {
		return
	}
	f := s.f
	var refs []struct {
		State uint64 `ch:"state"`
		Live  uint8  `ch:"live"`
	}
	q := `SELECT state, max(created_at >= toDateTime(@recent)
    OR (` + f.Key + `, day, snap) IN (SELECT ` + f.Key + `, day, max(snap) FROM ` + f.Snapshots + ` WHERE day >= toDate(@since) GROUP BY ` + f.Key + `, day)) AS live
FROM ` + f.Snapshots + ` WHERE day >= toDate(@since) - 7 GROUP BY state`
	if err := s.ch.Select(ctx, &refs, q, clickhouse.Named("since", day.AddDate(0, 0, -1).Format(time.DateOnly)),
		clickhouse.Named("recent", uint32(now.Add(-funnelKeep).Unix()))); err != nil {
		return
	}
	used, live := map[uint64]bool{}, map[uint64]bool{}
	for _, r := range refs {
		used[r.State], live[r.State] = true, r.Live == 1
	}
	var tables []struct {
		Name string `ch:"name"`
	}
	list := `SELECT name FROM system.tables WHERE database = currentDatabase()
  AND (startsWith(name, @state) OR startsWith(name, @join))`
	if err := s.ch.Select(ctx, &tables, list, clickhouse.Named("state", f.StatePrefix), clickhouse.Named("join", f.JoinPrefix)); err != nil {
		return
	}
	drop := map[uint64]bool{}
	for _, t := range tables {
		prefix := f.StatePrefix
		if strings.HasPrefix(t.Name, f.JoinPrefix) {
			prefix = f.JoinPrefix
		}
		// A cluster's local tables (name_local) are dropped with their state.
		id, err := strconv.ParseUint(strings.TrimPrefix(t.Name, prefix), 10, 64)
		if err != nil {
			continue
		}
		if used[id] && !live[id] || !used[id] && now.Sub(funnelIDTime(id)) > funnelOrphan {
			drop[id] = true
		}
	}
	for id := range drop {
		// The names are rebuilt from the number, not taken as read.
		s.dropState(ctx, id)
	}
}
