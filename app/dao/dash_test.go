package dao

import (
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
)

func TestRoute(t *testing.T) {
	d := NewAnalyticsDAO(nil, "Asia/Shanghai")
	for i, tc := range []struct {
		gran string
		f    model.Filters
		want string
	}{
		{"day", model.Filters{}, TableLineDay},
		{"day", model.Filters{Event: "order"}, TableLineDay},
		{"day", model.Filters{Platform: "ios"}, TablePlatformAny},
		{"day", model.Filters{Platform: "ios", Event: "cart"}, TablePlatformDay},
		{"day", model.Filters{Region: "r"}, TableRegionAny},
		{"day", model.Filters{Region: "r", Event: "view"}, TableRegionDay},
		{"day", model.Filters{Platform: "ios", Region: "r"}, TableDimsDay},
		{"day", model.Filters{Platform: "ios", Region: "r", Event: "view"}, TableDimsDay},
		{"hour", model.Filters{}, TableLineHour},
		{"hour", model.Filters{Event: "click"}, TableLineHour},
		{"hour", model.Filters{Platform: "web"}, TableEvents},
		{"hour", model.Filters{Region: "r", Event: "view"}, TableEvents},
	} {
		if got := Route(tc.gran, tc.f); got != tc.want {
			t.Errorf("Test %d: Route(%s, %+v) = %s; want %s", i, tc.gran, tc.f, got, tc.want)
		}
		src := d.SeriesSource(tc.gran, tc.f)
		if src.Name != tc.want || src.Raw != (tc.want == TableEvents) {
			t.Errorf("Test %d: SeriesSource = %+v", i, src)
		}
	}
	if err := dashSchema.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFunnelSource(t *testing.T) {
	d := NewAnalyticsDAO(nil, "Asia/Shanghai")
	for i, tc := range []struct {
		steps  []string
		window int
		want   string
	}{
		{model.FunnelSteps(), model.FunnelWindow, TableFunnelUser},
		{[]string{"view", "click"}, model.FunnelWindow, TableFunnelUser},
		{[]string{"view", "cart"}, model.FunnelWindow, TableEvents},
		{model.FunnelSteps(), 1800, TableEvents},
	} {
		if got := d.FunnelSource(tc.steps, tc.window); got.Name != tc.want || got.Raw != (tc.want == TableEvents) {
			t.Errorf("Test %d: FunnelSource(%v, %d) = %+v; want %s", i, tc.steps, tc.window, got, tc.want)
		}
	}
}

// TestChErrZooKeeper: a write refused for want of ZooKeeper is a 503 that
// says so, not an internal error.
func TestChErrZooKeeper(t *testing.T) {
	for _, code := range []int32{242, 999} {
		err := chErr(&clickhouse.Exception{Code: code, Message: "Cannot allocate block number in ZooKeeper"})
		if apperr.KindOf(err) != apperr.KindUnavailable || !strings.Contains(err.Error(), "replication coordination (ZooKeeper) unavailable") {
			t.Errorf("code %d: %v (kind %v); want unavailable naming ZooKeeper", code, err, apperr.KindOf(err))
		}
	}
	if err := chErr(&clickhouse.Exception{Code: 62, Message: "syntax error"}); apperr.KindOf(err) != apperr.KindInternal {
		t.Errorf("syntax error: kind %v; want internal", apperr.KindOf(err))
	}
}
