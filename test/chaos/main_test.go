package main

import (
	"errors"
	"testing"
)

// TestClassify: the soak's accounting. A connection error is lost in any
// phase; a 5xx is lost unless a fault of its phase declares it; a JSONP
// failure sent as 200 counts as the status its envelope carries.
func TestClassify(t *testing.T) {
	phases := []phase{{name: "steady"}, {name: "clickhouse killed", declared: []fault{faultClickHouse}},
		{name: "album slow", declared: []fault{faultAlbum}}}
	unavailable := `{"code":503,"msg":"analytics store unavailable; retry shortly","error":"unavailable"}`
	albumTimeout := `/**/cb1({"code":504,"msg":"upstream album timed out","error":"upstream_timeout"});`
	results := []result{
		{phase: 0, kind: "video", err: errors.New("connection reset by peer")},
		{phase: 0, kind: "dash", status: 503, body: unavailable},
		{phase: 0, kind: "video", status: 200, body: `{"code":0,"data":{},"degraded":["stars"]}`},
		{phase: 0, kind: "video", status: 200, body: `{"code":0,"data":{}}`, cache: "STALE"},
		{phase: 0, kind: "dash", status: 200, body: `{"code":0,"data":{"stale":false}}`},
		{phase: 1, kind: "dash", status: 503, body: unavailable},
		{phase: 1, kind: "dash", status: 200, body: `{"code":0,"data":{"stale":true}}`},
		{phase: 1, kind: "video", status: 503, body: unavailable}, // clickhouse explains no video failure
		{phase: 2, kind: "jsonp", status: 200, body: albumTimeout},
		{phase: 2, kind: "jsonp", status: 504, body: albumTimeout},
		{phase: 2, kind: "video", status: 502, body: `{"code":502,"msg":"upstream video failed","error":"upstream_error"}`},
		{phase: 0, until: 2, kind: "video", status: 504, body: albumTimeout}, // album got slow while it was in flight
	}
	rows := classify(phases, results)
	if rows[0].cacheStale != 1 {
		t.Errorf("X-Cache: STALE answers: %d; want 1", rows[0].cacheStale)
	}
	want := []struct{ requests, ok, degraded, c5xx, declared, lost int }{
		{6, 3, 1, 2, 1, 2},
		{3, 1, 1, 2, 1, 1},
		{3, 0, 0, 3, 2, 1},
	}
	for i, w := range want {
		r := rows[i]
		got := struct{ requests, ok, degraded, c5xx, declared, lost int }{r.requests, r.ok, r.degraded, r.c5xx, r.declared, r.lost}
		if got != w {
			t.Errorf("phase %q: got %+v; want %+v", phases[i].name, got, w)
		}
	}
}
