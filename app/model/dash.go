package model

import "time"

// The dashboards' fixed parameters, defined once.
const (
	// HomeEvent is the event of the home page's trend and ranking.
	HomeEvent = "view"
	// FunnelWindow is the home funnel's window in seconds: the window the
	// per-user funnel rollup keeps.
	FunnelWindow = 3600
	// MaxDaysDaily and MaxDaysHourly bound an analysis range in days
	// (inclusive) by granularity; MaxDaysDaily is also how many closed days
	// the UV spans cover.
	MaxDaysDaily  = 92
	MaxDaysHourly = 7
)

// FunnelSteps returns the home funnel's ordered steps, which are also the
// events a dashboard accepts.
func FunnelSteps() []string { return []string{"view", "click", "cart", "order"} }

// Filters are the optional dimension filters of an analysis.
type Filters struct {
	Event, Platform, Region string
}

// Source is the store that answers a query: a name for logs and metrics
// (never for clients), and whether it scans raw events (the costly class).
type Source struct {
	Name string
	Raw  bool
}

// Bucket is one aggregated time bucket of a series, as read.
type Bucket struct {
	Time     time.Time
	PV       uint64
	UV       uint64
	ValueSum float64
	// Spans, on a range's totals, is how many pre-merged UV rows (spans
	// and finished days) the UVs came from.
	Spans int
}

// ItemViews is one item's pv on a day, as read, best first.
type ItemViews struct {
	Item string
	PV   uint64
}

// FunnelStateRun says what one refresh of a day's funnel snapshot did.
type FunnelStateRun struct {
	// Mode is "none" (nothing to do), "small" (a day too small for a first
	// snapshot), "advance" (a later cut, no new rows: same state),
	// "incremental" (previous state + the rows since its cut) or "full"
	// (from the day's rows).
	Mode string
	// Late is true when rows arrived before the previous cut after it was
	// taken (the reason for a full run).
	Late  bool
	Cut   time.Time
	Lag   time.Duration
	Users [4]uint64
}

// Point is one time bucket of an analysis series. Metrics not asked for
// are omitted.
type Point struct {
	Time     string   `json:"time"`
	PV       *uint64  `json:"pv,omitempty"`
	UV       *uint64  `json:"uv,omitempty"`
	AvgValue *float64 `json:"avg_value,omitempty"`
}

// Totals are metrics over a whole range: UV is the distinct count over the
// range, not a sum of bucket UVs.
type Totals struct {
	PV       *uint64  `json:"pv,omitempty"`
	UV       *uint64  `json:"uv,omitempty"`
	AvgValue *float64 `json:"avg_value,omitempty"`
}

// Freshness says where an answer came from and how old it is.
type Freshness struct {
	ComputedAt string `json:"computed_at"`
	Source     string `json:"source"` // live or precomputed
	Stale      bool   `json:"stale"`  // ClickHouse is down: the last precomputed payload
	AgeSeconds int    `json:"age_seconds"`
}

// Realtime is today's hourly trend up to now.
type Realtime struct {
	Biz      string  `json:"biz"`
	Date     string  `json:"date"`
	Timezone string  `json:"timezone"`
	Event    string  `json:"event"`
	Hours    []Point `json:"hours"`
	Totals   Totals  `json:"totals"`
	Freshness
}

// RankItem is one item of a ranking.
type RankItem struct {
	Rank int    `json:"rank"`
	Item string `json:"item"`
	PV   uint64 `json:"pv"`
}

// Ranking is the top items by pv of one day.
type Ranking struct {
	Biz   string     `json:"biz"`
	Date  string     `json:"date"`
	Event string     `json:"event"`
	Items []RankItem `json:"items"`
	Freshness
}

// FunnelStep is one step of a funnel: users who reached it in order, and
// the conversion from the previous step.
type FunnelStep struct {
	Step  string  `json:"step"`
	Users uint64  `json:"users"`
	Rate  float64 `json:"rate"` // from the previous step; 1 for the first
}

// Funnel is an ordered funnel of one day.
type Funnel struct {
	Biz     string       `json:"biz"`
	Date    string       `json:"date"`
	Window  int          `json:"window"`
	Steps   []FunnelStep `json:"steps"`
	Overall float64      `json:"overall"` // last step / first step
	Freshness
}

// Analysis is a per-bucket series over a range with range totals.
type Analysis struct {
	Biz         string            `json:"biz"`
	From        string            `json:"from"`
	To          string            `json:"to"`
	Granularity string            `json:"granularity"`
	Metrics     []string          `json:"metrics"`
	Filters     map[string]string `json:"filters"`
	Series      []Point           `json:"series"`
	Totals      Totals            `json:"totals"`
	// UVSpans is how many pre-merged spans of closed days (agg_uv_span)
	// the UVs came from; 0 (omitted): every day's states were merged.
	UVSpans int `json:"uv_spans,omitempty"`
}
