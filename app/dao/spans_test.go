package dao

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// spansFor returns every row the job would write for live over [from, to):
// a finished day per day with events and the aligned spans of
// minSpanDays..maxSpanDays days with events, each with its true pv.
func spansFor(from, to int, live map[int]uint64) []spanRow {
	var rows []spanRow
	tag := uint64(0)
	for days := 1; days <= maxSpanDays; days *= 2 {
		if days > 1 && days < minSpanDays {
			continue
		}
		for start := (from + days - 1) / days * days; start+days <= to; start += days {
			var pv uint64
			for d := start; d < start+days; d++ {
				pv += live[d]
			}
			if pv > 0 {
				tag++
				rows = append(rows, spanRow{start: start, days: days, pv: pv, uv: 1000 + uint64(start), tag: tag})
			}
		}
	}
	return rows
}

// checkPlan asserts the plan's invariants: every day with events is in
// exactly one merged item (a valid aligned span of >= minSpanDays days, or
// an edge day read from the rollup), days with a valid finished row have
// its UV, the others are missing.
func checkPlan(t *testing.T, from, to int, live map[int]uint64, rows []spanRow, p spanPlan) {
	t.Helper()
	covered := map[int]int{}
	for _, s := range p.spans {
		if s.days < minSpanDays || s.start%s.days != 0 || s.start < from || s.start+s.days > to {
			t.Fatalf("span %+v: not an aligned span of >= %d days inside [%d, %d)", s, minSpanDays, from, to)
		}
		var pv uint64
		for d := s.start; d < s.start+s.days; d++ {
			pv += live[d]
			covered[d]++
		}
		if pv != s.pv {
			t.Fatalf("span %+v is stale (live pv %d) but merged", s, pv)
		}
	}
	for _, d := range p.rangeDays {
		covered[d]++
	}
	for d := from; d < to; d++ {
		if live[d] > 0 && covered[d] != 1 {
			t.Fatalf("day %d (pv %d) is in %d merged items; want 1", d, live[d], covered[d])
		}
	}
	finished := map[int]spanRow{}
	for _, r := range rows {
		if r.days == 1 && r.pv == live[r.start] && r.pv > 0 {
			finished[r.start] = r
		}
	}
	for d := from; d < to; d++ {
		r, ok := finished[d]
		switch {
		case live[d] == 0:
			if _, has := p.dayUV[d]; has || slices.Contains(p.missing, d) {
				t.Fatalf("day %d has no events but is planned", d)
			}
		case ok:
			if p.dayUV[d] != r.uv {
				t.Fatalf("day %d: UV %d; want the finished %d", d, p.dayUV[d], r.uv)
			}
		default:
			if !slices.Contains(p.missing, d) {
				t.Fatalf("day %d has no valid finished row but is not missing", d)
			}
		}
	}
}

func TestPlanSpansFullCover(t *testing.T) {
	// 90 closed days + today (no rows yet), starting off alignment.
	from, to := 20000+3, 20000+3+91
	today := to - 1
	live := map[int]uint64{}
	for d := from; d < to; d++ {
		live[d] = uint64(100 + d%7)
	}
	rows := spansFor(from, today, live)
	p := planSpans(from, to, live, rows)
	checkPlan(t, from, to, live, rows, p)
	if !slices.Equal(p.missing, []int{today}) {
		t.Errorf("missing %v; want only today %d", p.missing, today)
	}
	// Edges below minSpanDays: at most 3 days on each side, plus today.
	if len(p.rangeDays) > 2*(minSpanDays-1)+1 {
		t.Errorf("%d edge days merged from the rollup: %v", len(p.rangeDays), p.rangeDays)
	}
	if len(p.spans) > 2*6 {
		t.Errorf("%d spans merged for 90 days; want at most 2 x log2(64)", len(p.spans))
	}
	if len(p.spans)+len(p.rangeDays) >= 90/3 {
		t.Errorf("merging %d items for 90 days is not a saving", len(p.spans)+len(p.rangeDays))
	}
}

func TestPlanSpansLateRow(t *testing.T) {
	from, to := 20032, 20032+64
	live := map[int]uint64{}
	for d := from; d < to; d++ {
		live[d] = 10
	}
	rows := spansFor(from, to, live)
	if p := planSpans(from, to, live, rows); len(p.spans) != 1 || p.spans[0].days != 64 || len(p.rangeDays) != 0 || len(p.missing) != 0 {
		t.Fatalf("aligned 64 days: %+v; want the one 64-day span", p)
	}
	// A late row on day from+5: the 64-, 32-, 16-, 8- and 4-day spans
	// holding it and its finished day are stale; the other halves stay.
	live[from+5]++
	p := planSpans(from, to, live, rows)
	checkPlan(t, from, to, live, rows, p)
	var lengths []int
	for _, s := range p.spans {
		lengths = append(lengths, s.days)
	}
	slices.Sort(lengths)
	if !slices.Equal(lengths, []int{4, 8, 16, 32}) {
		t.Errorf("spans of %v days; want the valid halves 4, 8, 16, 32", lengths)
	}
	if !slices.Equal(p.rangeDays, []int{from + 4, from + 5, from + 6, from + 7}) {
		t.Errorf("edge days %v; want the stale 4-day span's days", p.rangeDays)
	}
	if !slices.Equal(p.missing, []int{from + 5}) {
		t.Errorf("missing %v; want the late day only", p.missing)
	}
}

func TestPlanSpansRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 23))
	for i := range 500 {
		base := 20000 + r.IntN(200)
		n := 1 + r.IntN(92)
		from, to := base, base+n
		live := map[int]uint64{}
		for d := from - 70; d < to+70; d++ {
			if r.IntN(5) > 0 {
				live[d] = uint64(1 + r.IntN(1000))
			}
		}
		// Spans built over a wider horizon than the query, then some days
		// change (late rows, or data dropped) and some rows are lost.
		rows := spansFor(from-70, to+70, live)
		for k := 0; k < r.IntN(4); k++ {
			d := from + r.IntN(n)
			if r.IntN(2) == 0 {
				live[d] += uint64(1 + r.IntN(3))
			} else {
				delete(live, d)
			}
		}
		rows = slices.DeleteFunc(rows, func(spanRow) bool { return r.IntN(10) == 0 })
		t.Logf("case %d: [%d, %d)", i, from, to)
		checkPlan(t, from, to, live, rows, planSpans(from, to, live, rows))
	}
}

func TestDayNumber(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// Midnight in Shanghai is 16:00 UTC the day before: the day number is
	// the calendar date's in the configured zone.
	d := time.Date(2026, 11, 1, 0, 0, 0, 0, sh)
	if got := dayNumber(d); got != 20758 {
		t.Errorf("dayNumber(%s) = %d; want 20758 (ClickHouse toUInt32(toDate('2026-11-01')))", d, got)
	}
	if got := dayDate(20758); got != "2026-11-01" {
		t.Errorf("dayDate(20758) = %s", got)
	}
	if got := dayNumber(d.AddDate(0, 0, -1).Add(23*time.Hour + 59*time.Minute)); got != 20757 {
		t.Errorf("23:59 the day before: %d; want 20757", got)
	}
}

func TestSpanVariantSQL(t *testing.T) {
	v := spanVariant{table: TableDimsDay, platform: true, region: true}
	if got := v.keyExpr(); got != "business_line, '', platform, region" {
		t.Errorf("keyExpr = %q", got)
	}
	if got := v.groupBy(); got != "business_line, platform, region" {
		t.Errorf("groupBy = %q", got)
	}
	// Every key shape Route picks for a day query with UV has a variant.
	seen := map[string]bool{}
	for _, v := range spanVariants {
		seen[v.table+"/"+v.groupBy()] = true
	}
	for _, f := range []Filters{{}, {Event: "view"}, {Platform: "ios"}, {Platform: "ios", Event: "view"}, {Region: "r"}, {Region: "r", Event: "view"},
		{Platform: "ios", Region: "r"}, {Platform: "ios", Region: "r", Event: "view"}} {
		v := spanVariant{table: Route("day", f), event: f.Event != "", platform: f.Platform != "", region: f.Region != ""}
		if !seen[v.table+"/"+v.groupBy()] {
			t.Errorf("filters %+v route to %s keyed by %s: no span variant", f, v.table, v.groupBy())
		}
	}
}
