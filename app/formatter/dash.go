package formatter

import (
	"time"

	"github.com/wings-bff/wings/app/model"
)

// DashFormatter turns the rows the dashboards read into their models.
type DashFormatter struct{}

// NewDashFormatter returns the dashboards' formatter.
func NewDashFormatter() *DashFormatter { return &DashFormatter{} }

// Series returns one point per bucket in [from, to), zero where the store
// had no row (there is no WITH FILL on ClickHouse 18.16). Days step by
// calendar day, hours by step; metrics not asked for are omitted.
func (*DashFormatter) Series(rows []model.Bucket, from, to time.Time, step time.Duration, loc *time.Location, gran string, metrics []string) []model.Point {
	byKey := make(map[string]model.Bucket, len(rows))
	layout := "2006-01-02 15:04"
	if gran == "day" {
		layout = time.DateOnly
	}
	for _, r := range rows {
		t := r.Time.In(loc)
		if gran == "day" {
			// A Date comes back as midnight of the calendar day in the
			// location the driver attached: format it there.
			t = r.Time
		}
		byKey[t.Format(layout)] = r
	}
	var out []model.Point
	for t := from; t.Before(to); {
		key := t.Format(layout)
		tot := totals(byKey[key], metrics)
		out = append(out, model.Point{Time: key, PV: tot.PV, UV: tot.UV, AvgValue: tot.AvgValue})
		if gran == "day" {
			t = t.AddDate(0, 0, 1)
		} else {
			t = t.Add(step)
		}
	}
	return out
}

// Totals returns the metrics asked for of one bucket.
func (*DashFormatter) Totals(b model.Bucket, metrics []string) model.Totals {
	return totals(b, metrics)
}

func totals(b model.Bucket, metrics []string) model.Totals {
	var t model.Totals
	for _, m := range metrics {
		switch m {
		case "pv":
			v := b.PV
			t.PV = &v
		case "uv":
			v := b.UV
			t.UV = &v
		case "avg_value":
			v := 0.0
			if b.PV > 0 {
				v = b.ValueSum / float64(b.PV)
			}
			t.AvgValue = &v
		}
	}
	return t
}

// Ranking ranks items read best first: rank 1 is the first.
func (*DashFormatter) Ranking(rows []model.ItemViews) []model.RankItem {
	out := make([]model.RankItem, len(rows))
	for i, r := range rows {
		out[i] = model.RankItem{Rank: i + 1, Item: r.Item, PV: r.PV}
	}
	return out
}

// FunnelSteps returns the steps with their users (counts[i] reached
// steps[i]) and the conversion from the previous step, and the overall
// conversion (last step / first step).
func (*DashFormatter) FunnelSteps(steps []string, counts []uint64) ([]model.FunnelStep, float64) {
	var out []model.FunnelStep
	for i, st := range steps {
		rate := 1.0
		if i > 0 {
			rate = ratio(counts[i], counts[i-1])
		}
		out = append(out, model.FunnelStep{Step: st, Users: counts[i], Rate: rate})
	}
	return out, ratio(counts[len(counts)-1], counts[0])
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
