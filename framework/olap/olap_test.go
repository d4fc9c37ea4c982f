package olap

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shop is a team's schema declared without any app code: orders with
// country and device dimensions, an hourly and two daily rollups.
var shop = Schema{
	Events: "orders",
	Dims:   []string{"event", "country", "device"},
	Rollups: []Rollup{
		{Table: "orders_hour", Granularity: Hour, Dims: []string{"event"}},
		{Table: "orders_day", Granularity: Day, Dims: []string{"event"}},
		{Table: "orders_country_any_day", Granularity: Day, Dims: []string{"country"}},
		{Table: "orders_country_day", Granularity: Day, Dims: []string{"event", "country"}},
		{Table: "orders_dims_day", Granularity: Day, Dims: []string{"event", "country", "device"}},
	},
}

func TestSchemaRoute(t *testing.T) {
	if err := shop.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		g    Granularity
		dims []string
		want string
		raw  bool
	}{
		{Hour, nil, "orders_hour", false},
		{Hour, []string{"event"}, "orders_hour", false},
		{Hour, []string{"country"}, "orders", true},
		{Day, nil, "orders_day", false}, // first declared among one-dimension rollups
		{Day, []string{"event"}, "orders_day", false},
		{Day, []string{"country"}, "orders_country_any_day", false},
		{Day, []string{"event", "country"}, "orders_country_day", false},
		{Day, []string{"device"}, "orders_dims_day", false},
		{Day, []string{"event", "country", "device"}, "orders_dims_day", false},
		{Day, []string{"colour"}, "orders", true},
	} {
		got := shop.Route(tc.g, tc.dims)
		if got.Table != tc.want || got.Raw != tc.raw {
			t.Errorf("Test %d: Route(%s, %v) = %s (raw %v); want %s (raw %v)", i, tc.g, tc.dims, got.Table, got.Raw, tc.want, tc.raw)
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	bad := shop
	bad.Rollups = append(slices.Clone(shop.Rollups), Rollup{Table: "x", Granularity: Day, Dims: []string{"colour"}})
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `"colour"`) {
		t.Errorf("undeclared dimension: %v", err)
	}
	bad.Rollups = []Rollup{{Table: "y", Granularity: "week"}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "week") {
		t.Errorf("unknown granularity: %v", err)
	}
	if err := (Schema{}).Validate(); err == nil {
		t.Error("a schema without events validated")
	}
}

func TestKeyShapes(t *testing.T) {
	var got []string
	for _, k := range shop.KeyShapes(Day) {
		got = append(got, k.Rollup.Table+":"+strings.Join(k.Dims, ","))
		// Every shape is one Route picks.
		if src := shop.Route(Day, k.Dims); src.Table != k.Rollup.Table {
			t.Errorf("%s keyed by %v: Route picks %s", k.Rollup.Table, k.Dims, src.Table)
		}
	}
	want := []string{"orders_day:", "orders_day:event", "orders_country_any_day:country", "orders_country_day:event,country",
		"orders_dims_day:device", "orders_dims_day:event,device", "orders_dims_day:country,device", "orders_dims_day:event,country,device"}
	if !slices.Equal(got, want) {
		t.Errorf("KeyShapes(Day) = %v; want %v", got, want)
	}
}

func TestMetricExpressions(t *testing.T) {
	uv := Metric{Name: "uv", Func: "uniqCombined(17)", Arg: "user_id", State: "uv"}
	pv := Metric{Name: "pv", Func: "count", State: "pv"}
	for i, tc := range []struct{ got, want string }{
		{uv.Raw(), "uniqCombined(17)(user_id)"},
		{uv.Merge(), "uniqCombinedMerge(17)(uv)"},
		{uv.MergeState(), "uniqCombinedMergeState(17)(uv)"},
		{pv.Raw(), "count()"},
		{pv.Merge(), "countMerge(pv)"},
		{uv.Expr(shop.Route(Hour, []string{"country"})), "uniqCombined(17)(user_id)"},
		{uv.Expr(shop.Route(Day, nil)), "uniqCombinedMerge(17)(uv)"},
	} {
		if tc.got != tc.want {
			t.Errorf("Test %d: %q; want %q", i, tc.got, tc.want)
		}
	}
}

func TestFunnelPrefix(t *testing.T) {
	f := Funnel{Table: "funnel_day", Steps: []string{"view", "click", "cart", "order"}, Window: 3600}
	for i, tc := range []struct {
		steps  []string
		window int
		want   bool
	}{
		{[]string{"view", "click", "cart", "order"}, 3600, true},
		{[]string{"view", "click"}, 3600, true},
		{[]string{"view", "click"}, 1800, false},
		{[]string{"click", "cart"}, 3600, false},
		{[]string{"view", "click", "cart", "order", "pay"}, 3600, false},
		{nil, 3600, false},
	} {
		if got := f.Prefix(tc.steps, tc.window); got != tc.want {
			t.Errorf("Test %d: Prefix(%v, %d) = %v", i, tc.steps, tc.window, got)
		}
	}
	if got := Count(2, map[uint8]uint64{1: 5, 2: 3, 4: 2}); !slices.Equal(got, []uint64{10, 5}) {
		t.Errorf("Count = %v; want [10 5]", got)
	}
}

func TestWholeDay(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2028, 2, 29, 0, 0, 0, 0, sh)
	if got, ok := WholeDay(day, day.AddDate(0, 0, 1), sh); !ok || !got.Equal(day) {
		t.Errorf("WholeDay(Feb 29) = %v, %v", got, ok)
	}
	if _, ok := WholeDay(day, day.AddDate(0, 0, 2), sh); ok {
		t.Error("two days are a whole day")
	}
	if _, ok := WholeDay(day.Add(time.Hour), day.AddDate(0, 0, 1), sh); ok {
		t.Error("a day starting at 01:00 is a whole day")
	}
	// The same instant is not a day's start in UTC.
	if _, ok := WholeDay(day, day.AddDate(0, 0, 1), time.UTC); ok {
		t.Error("Shanghai's midnight is a whole UTC day")
	}
}

type memStore struct {
	mu   sync.Mutex
	data map[string]string
	ttl  map[string]time.Duration
	fail bool
}

func (m *memStore) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("store down")
	}
	m.data[key], m.ttl[key] = string(value), ttl
	return nil
}

func TestPrecompute(t *testing.T) {
	st := &memStore{data: map[string]string{}, ttl: map[string]time.Duration{}}
	var running, peak atomic.Int64
	p := Precompute{
		Store: st, StoreKey: func(k string) string { return "home:" + k }, TTL: time.Hour, Parallel: 2, Timeout: time.Second,
		Compute: func(ctx context.Context, key string) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
			switch key {
			case "boom":
				panic("bad line")
			case "partial":
				return map[string]int{"n": 1}, errors.New("snapshot failed")
			case "slow":
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return map[string]string{"line": key}, nil
		},
	}
	err := p.Run(context.Background(), []string{"a", "b", "boom", "partial", "slow", "c"})
	for _, want := range []string{"precompute boom: panic: bad line", "snapshot failed", "deadline exceeded"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to name %q", err, want)
		}
	}
	if st.data["home:a"] != `{"line":"a"}` || st.data["home:c"] != `{"line":"c"}` || st.ttl["home:a"] != time.Hour {
		t.Errorf("stored %v %v", st.data, st.ttl)
	}
	if st.data["home:partial"] != `{"n":1}` {
		t.Errorf("a partial payload was not stored: %v", st.data)
	}
	if _, ok := st.data["home:slow"]; ok {
		t.Error("a timed-out key stored a payload")
	}
	if peak.Load() != 2 {
		t.Errorf("peak parallelism %d; want 2", peak.Load())
	}
	st.fail = true
	if err := p.Run(context.Background(), []string{"a"}); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("a store failure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Parallel = 1
	if err := p.Run(ctx, []string{"a", "b", "c"}); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("cancelled run: %v", err)
	}
}
