// Package olap is the reusable part of ClickHouse dashboards. A team
// declares its events table, its dimensions, its metrics and the rollups
// (pre-aggregates) it keeps in a Schema, and gets:
//
//   - rollup routing: Schema.Route picks the smallest table that answers a
//     query of a granularity filtered by some dimensions, the raw events
//     when no rollup does;
//   - state merging: Metric renders the raw, -Merge and -MergeState
//     expressions of an aggregate kept as a -State in the rollups;
//   - the UV-span planner: PlanSpans and StaleSpans (spans.go), which let a
//     range query merge a few pre-merged spans instead of one state per day;
//   - funnel prefixes: Funnel says whether a funnel query is one the
//     rollup's funnel states answer exactly;
//   - the live funnel: LiveFunnel declares a funnel answered exactly as
//     per-user state at a cut + the rows after it, and FunnelStore keeps
//     its snapshots and answers from them (livefunnel.go), on one node or
//     a cluster;
//   - precompute: Precompute runs a scheduled job that computes payloads
//     key by key, in parallel, each under its own timeout, and stores them
//     through a Store (framework/cache's Put).
//
// The package builds SQL fragments and plans, tested without a server, and
// the team's dao keeps its SQL; only FunnelStore runs queries (through
// framework/chclient), its SQL golden-tested apart from them.
package olap

import (
	"fmt"
	"slices"
)

// Granularity is the time bucket of a query.
type Granularity string

// The granularities a rollup can have.
const (
	Hour Granularity = "hour"
	Day  Granularity = "day"
)

// Rollup is one pre-aggregate table: its bucket and the dimensions in its
// key (besides the business key every table has).
type Rollup struct {
	Table       string
	Granularity Granularity
	Dims        []string
}

// Source is the table that answers a query: a rollup, or the raw events.
type Source struct {
	Rollup
	// Raw is true for the events table: the query scans raw rows.
	Raw bool
}

// Schema declares a team's events table, its dimensions and its rollups.
type Schema struct {
	// Events is the raw events table.
	Events string
	// Dims are the dimensions a query may filter by.
	Dims []string
	// Rollups are the pre-aggregates, in order of preference among equals.
	Rollups []Rollup
}

// Validate checks that every rollup's dimensions are declared and its
// granularity known.
func (s Schema) Validate() error {
	if s.Events == "" {
		return fmt.Errorf("olap: schema without an events table")
	}
	for _, r := range s.Rollups {
		if r.Granularity != Hour && r.Granularity != Day {
			return fmt.Errorf("olap: rollup %s: granularity %q", r.Table, r.Granularity)
		}
		for _, d := range r.Dims {
			if !slices.Contains(s.Dims, d) {
				return fmt.Errorf("olap: rollup %s: dimension %q is not declared", r.Table, d)
			}
		}
	}
	return nil
}

// covers reports whether r keys every dimension in dims.
func (r Rollup) covers(dims []string) bool {
	for _, d := range dims {
		if !slices.Contains(r.Dims, d) {
			return false
		}
	}
	return true
}

// Has reports whether the rollup keys the dimension.
func (r Rollup) Has(dim string) bool { return slices.Contains(r.Dims, dim) }

// Route returns the table that answers a query of granularity g filtered
// by dims: the rollup of that granularity with the fewest dimensions that
// keys all of them (the first declared among equals), else the raw events.
func (s Schema) Route(g Granularity, dims []string) Source {
	best := -1
	for i, r := range s.Rollups {
		if r.Granularity != g || !r.covers(dims) {
			continue
		}
		if best < 0 || len(r.Dims) < len(s.Rollups[best].Dims) {
			best = i
		}
	}
	if best < 0 {
		return Source{Rollup: Rollup{Table: s.Events, Granularity: g, Dims: s.Dims}, Raw: true}
	}
	return Source{Rollup: s.Rollups[best]}
}

// Lookup returns the rollup named table.
func (s Schema) Lookup(table string) (Rollup, bool) {
	for _, r := range s.Rollups {
		if r.Table == table {
			return r, true
		}
	}
	return Rollup{}, false
}

// KeyShape is one way a rollup is read: the rollup and the subset of its
// dimensions a query filters by (the others are merged over).
type KeyShape struct {
	Rollup Rollup
	Dims   []string
}

// KeyShapes returns every (rollup, filtered dimensions) pair that Route
// picks for granularity g: the keys a per-key cache of that granularity
// (such as the UV spans) must hold. Rollups are walked in declared order,
// subsets by size.
func (s Schema) KeyShapes(g Granularity) []KeyShape {
	var out []KeyShape
	for _, r := range s.Rollups {
		if r.Granularity != g {
			continue
		}
		n := len(r.Dims)
		for mask := 0; mask < 1<<n; mask++ {
			var dims []string
			for i, d := range r.Dims {
				if mask&(1<<i) != 0 {
					dims = append(dims, d)
				}
			}
			if src := s.Route(g, dims); !src.Raw && src.Table == r.Table {
				out = append(out, KeyShape{Rollup: r, Dims: dims})
			}
		}
	}
	return out
}
