package olap

import (
	"time"
)

// UV spans: a day-granularity range with UV merges every day's
// uniqCombined state of its rollup key, and each merge of a large state
// costs about a millisecond on ClickHouse 18.16, so 90 days of a big key
// take about half a second. A spans table keeps, for the keys whose
// states are large, every closed day's finished numbers and the states
// pre-merged over aligned spans of MinSpanDays, 2 x MinSpanDays, ...
// MaxSpanDays days. A range query then reads its closed days' UV and
// merges at most about 2 x log2(n) spans, plus the states of the days no
// valid span holds (today, late rows). A span is valid while its pv
// equals the live rollup's pv over its days, checked on every query, so
// spans never change an answer: merging uniqCombined states is a union,
// the same estimate in any grouping.
//
// The planner here is pure: it works on day numbers, so it behaves the
// same on every day of the year. The SQL that reads and writes the spans
// is the caller's (its table and key columns are its own).

// MinSpanDays and MaxSpanDays bound the spans that hold states. A closed
// day has a row too, with its finished UV and no state: the rollup
// already holds the day's states, and a copy would double the table for
// the few edge days a range merges (at most 2 x 3).
const (
	MinSpanDays = 4
	MaxSpanDays = 64
)

// DayNumber is the day number (days since 1970-01-01, ClickHouse's Date)
// of the calendar date of t in its own location.
func DayNumber(t time.Time) int {
	return int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayDate is the Date literal of day number n.
func DayDate(n int) string {
	return time.Unix(int64(n)*86400, 0).UTC().Format(time.DateOnly)
}

// SpanRow is one stored span: days from start (day numbers), its pv, its
// finished UV and its tag.
type SpanRow struct {
	Start, Days int
	PV, UV, Tag uint64
}

// SpanPlan is how a range query reads its UV: the spans in the merge,
// the days whose rollup states join them (edge days no span covers), the finished UV of each day with a valid one-day row, and the
// days (with events) without one, whose UV is estimated from the states.
type SpanPlan struct {
	Spans     []SpanRow
	RangeDays []int
	DayUV     map[int]uint64
	Missing   []int
}

// PlanSpans plans the range [from, to) (day numbers) given the live pv of
// each day with events and the stored rows. A row is valid when its pv
// equals the live pv over its days; the range is cut into the largest
// aligned spans, and an invalid or missing span is split in halves down
// to MinSpanDays, below which days come from the rollup's states.
func PlanSpans(from, to int, live map[int]uint64, rows []SpanRow) SpanPlan {
	sum := func(start, days int) uint64 {
		var n uint64
		for d := start; d < start+days; d++ {
			n += live[d]
		}
		return n
	}
	valid := make(map[[2]int]SpanRow, len(rows))
	for _, r := range rows {
		if r.Days >= 1 && r.Start >= from && r.Start+r.Days <= to && r.PV > 0 && r.PV == sum(r.Start, r.Days) {
			valid[[2]int{r.Start, r.Days}] = r
		}
	}
	p := SpanPlan{DayUV: map[int]uint64{}}
	var cover func(start, days int)
	cover = func(start, days int) {
		switch r, ok := valid[[2]int{start, days}]; {
		case sum(start, days) == 0:
		case days >= MinSpanDays && ok:
			p.Spans = append(p.Spans, r)
		case days > 1:
			cover(start, days/2)
			cover(start+days/2, days/2)
		default:
			p.RangeDays = append(p.RangeDays, start)
		}
	}
	for a := from; a < to; {
		k := 1
		for k < MaxSpanDays && a%(2*k) == 0 && a+2*k <= to {
			k *= 2
		}
		cover(a, k)
		a += k
	}
	for d := from; d < to; d++ {
		if live[d] == 0 {
			continue
		}
		if r, ok := valid[[2]int{d, 1}]; ok {
			p.DayUV[d] = r.UV
		} else {
			p.Missing = append(p.Missing, d)
		}
	}
	return p
}

// SpanLengths are the lengths of the rows the job keeps: finished days,
// then the spans of MinSpanDays..MaxSpanDays days that hold states.
func SpanLengths() []int {
	lengths := []int{1}
	for days := MinSpanDays; days <= MaxSpanDays; days *= 2 {
		lengths = append(lengths, days)
	}
	return lengths
}

// SpanStarts are the starts of the aligned rows of length days that lie
// wholly inside [horizon, today): a start is a multiple of days.
func SpanStarts(days, horizon, today int) []int {
	var starts []int
	for start := (horizon + days - 1) / days * days; start+days <= today; start += days {
		starts = append(starts, start)
	}
	return starts
}

// SpanLevel is the job's work at one row length: the starts to build and
// the keys stale at any of them.
type SpanLevel struct {
	Days   int
	Starts []int
	Keys   []uint64
}

// StaleSpans plans a run of the job: level by level, the aligned rows in
// [horizon, today) whose stored pv (by key, start, days) differs from the
// live pv over their days, which are the rows never built and the rows a
// late event made stale. Days without events need no row. It depends on
// day numbers only, so it behaves the same on every day of the year.
func StaleSpans(horizon, today int, keys []uint64, live map[uint64]map[int]uint64, stored map[[3]uint64]uint64) []SpanLevel {
	var levels []SpanLevel
	for _, days := range SpanLengths() {
		lvl := SpanLevel{Days: days}
		seen := map[uint64]bool{}
		for _, start := range SpanStarts(days, horizon, today) {
			stale := false
			for _, k := range keys {
				var want uint64
				for dn := start; dn < start+days; dn++ {
					want += live[k][dn]
				}
				if want > 0 && stored[[3]uint64{k, uint64(start), uint64(days)}] != want {
					stale = true
					if !seen[k] {
						seen[k] = true
						lvl.Keys = append(lvl.Keys, k)
					}
				}
			}
			if stale {
				lvl.Starts = append(lvl.Starts, start)
			}
		}
		if len(lvl.Starts) > 0 {
			levels = append(levels, lvl)
		}
	}
	return levels
}
