package model

import "time"

// EventColumns is a batch of raw events in columnar form, in the order of
// the events table's data contract.
type EventColumns struct {
	Time     []time.Time
	Line     []string
	Event    []string
	User     []uint64
	Item     []string
	Platform []string
	Region   []string
	Value    []float64
}

// Len returns the number of events in the batch.
func (c *EventColumns) Len() int { return len(c.Time) }

// Reset empties the batch, keeping its storage.
func (c *EventColumns) Reset() {
	c.Time, c.Line, c.Event, c.User = c.Time[:0], c.Line[:0], c.Event[:0], c.User[:0]
	c.Item, c.Platform, c.Region, c.Value = c.Item[:0], c.Platform[:0], c.Region[:0], c.Value[:0]
}

// Add appends one event.
func (c *EventColumns) Add(t time.Time, line, event string, user uint64, item, platform, region string, value float64) {
	c.Time = append(c.Time, t)
	c.Line = append(c.Line, line)
	c.Event = append(c.Event, event)
	c.User = append(c.User, user)
	c.Item = append(c.Item, item)
	c.Platform = append(c.Platform, platform)
	c.Region = append(c.Region, region)
	c.Value = append(c.Value, value)
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
	Table   string       `json:"table"`   // the table that answered
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
	Source      string            `json:"source"` // the table that answered
	// UVSpans is how many pre-merged spans of closed days (agg_uv_span)
	// the UVs came from; 0 (omitted): every day's states were merged.
	UVSpans int `json:"uv_spans,omitempty"`
}
