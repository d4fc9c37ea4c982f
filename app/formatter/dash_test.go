package formatter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/model"
)

func TestDashSeriesFillsGaps(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	f := NewDashFormatter()
	day := time.Date(2028, 2, 29, 0, 0, 0, 0, sh)
	rows := []model.Bucket{{Time: day.Add(2 * time.Hour), PV: 4, UV: 2, ValueSum: 2}}
	pts := f.Series(rows, day, day.Add(4*time.Hour), time.Hour, sh, "hour", []string{"pv", "avg_value"})
	b, _ := json.Marshal(pts)
	want := `[{"time":"2028-02-29 00:00","pv":0,"avg_value":0},{"time":"2028-02-29 01:00","pv":0,"avg_value":0},` +
		`{"time":"2028-02-29 02:00","pv":4,"avg_value":0.5},{"time":"2028-02-29 03:00","pv":0,"avg_value":0}]`
	if string(b) != want {
		t.Errorf("series %s; want %s", b, want)
	}
}

func TestDashRankingAndFunnel(t *testing.T) {
	f := NewDashFormatter()
	items := f.Ranking([]model.ItemViews{{Item: "a", PV: 9}, {Item: "b", PV: 3}})
	if len(items) != 2 || items[0] != (model.RankItem{Rank: 1, Item: "a", PV: 9}) || items[1].Rank != 2 {
		t.Errorf("ranking %+v", items)
	}
	if b, _ := json.Marshal(f.Ranking(nil)); string(b) != "[]" {
		t.Errorf("an empty ranking is %s; want []", b)
	}
	steps, overall := f.FunnelSteps([]string{"view", "click", "order"}, []uint64{100, 25, 0})
	if len(steps) != 3 || steps[0].Rate != 1 || steps[1].Rate != 0.25 || steps[2].Rate != 0 || overall != 0 {
		t.Errorf("funnel %+v overall %v", steps, overall)
	}
	if _, overall := f.FunnelSteps([]string{"view", "click"}, []uint64{0, 0}); overall != 0 {
		t.Errorf("no users: overall %v", overall)
	}
}
