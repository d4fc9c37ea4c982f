package main

import (
	"math"
	"testing"
)

func TestShardWork(t *testing.T) {
	// The figures of one query on the local cluster: the initiator (shard
	// 01, first replica) logged 1,862,078 rows read, all shards included;
	// shard 02's first replica ran the secondary query and read 895,449.
	stats := []serverStats{
		{initialQueries: 1, initialRead: 1862078},
		{},
		{secondaryQueries: 1, secondaryRead: 895449, secondarySent: 1, secondarySentBytes: 8, secondaryElapsedMs: 93},
		{},
	}
	got := shardWork(stats, []int{1, 1, 2, 2})
	want := []shardStats{
		{shard: 1, read: 966629},
		{shard: 2, read: 895449, sent: 1, sentBytes: 8, elapsedMs: 93, queries: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d shards; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("shard %d: got %+v; want %+v", i, got[i], want[i])
		}
	}
}

func TestShardWorkNoLocalReplica(t *testing.T) {
	// With prefer_localhost_replica off, the initiator's own shard runs a
	// secondary query too: nothing is left to attribute to it.
	stats := []serverStats{
		{initialQueries: 1, initialRead: 30, secondaryQueries: 1, secondaryRead: 10},
		{secondaryQueries: 1, secondaryRead: 20},
	}
	got := shardWork(stats, []int{1, 2})
	if got[0].read != 10 || got[1].read != 20 {
		t.Errorf("got %+v; want shard 01 read 10, shard 02 read 20", got)
	}
}

func TestPercentiles(t *testing.T) {
	ds := []float64{9, 1, 8, 2, 7, 3, 6, 4, 5, 10}
	p50, p99 := percentiles(ds)
	if p50 != 6 || p99 != 10 {
		t.Errorf("got p50 %v, p99 %v; want 6, 10", p50, p99)
	}
	if ds[0] != 9 {
		t.Errorf("percentiles sorted its argument")
	}
	if p50, _ := percentiles(nil); !math.IsNaN(p50) {
		t.Errorf("no samples: got %v; want NaN", p50)
	}
}

func TestSameJSON(t *testing.T) {
	type bucket struct {
		PV  uint64  `json:"pv"`
		Avg float64 `json:"avg"`
	}
	for _, tc := range []struct {
		name string
		a, b any
		want bool
	}{
		{"equal", []bucket{{3, 0.5}}, []bucket{{3, 0.5}}, true},
		{"float sum order", []bucket{{3, 0.1 + 0.2 + 0.3}}, []bucket{{3, 0.3 + 0.2 + 0.1}}, true},
		{"counts differ", []bucket{{3, 0.5}}, []bucket{{4, 0.5}}, false},
		{"average differs", []bucket{{3, 0.5}}, []bucket{{3, 0.5001}}, false},
		{"length differs", []bucket{{3, 0.5}}, []bucket{{3, 0.5}, {1, 1}}, false},
		{"key differs", map[string]int{"a": 1}, map[string]int{"b": 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameJSON(tc.a, tc.b); got != tc.want {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}
