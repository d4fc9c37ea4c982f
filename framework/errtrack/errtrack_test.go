package errtrack

import (
	"fmt"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/config"
)

// TestDedupAndRateLimit drives the limiter on a hand clock: one report per
// key per window, at most rate_per_minute per minute, budget renewed the
// next minute.
func TestDedupAndRateLimit(t *testing.T) {
	now := time.Date(2030, 1, 1, 10, 0, 5, 0, time.UTC)
	tr, err := New(config.Sentry{DSN: "http://k@127.0.0.1:9/1", RatePerMinute: 3, DedupWindow: 90 * time.Second},
		Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		key     string
		want    string
	}{
		{0, "a", ResultSent},
		{0, "a", ResultDeduplicated},
		{0, "b", ResultSent},
		{0, "c", ResultSent},
		{0, "d", ResultRateLimited},
		{time.Minute, "d", ResultSent},      // a new minute's budget
		{0, "a", ResultDeduplicated},        // 60s after its report, within 90s
		{31 * time.Second, "a", ResultSent}, // 91s after
		{0, "e", ResultSent},                // third of this minute
		{0, "f", ResultRateLimited},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := tr.admit(s.key); got != s.want {
			t.Errorf("step %d (%s at %s): %s; want %s", i, s.key, now.Format("15:04:05"), got, s.want)
		}
	}
}

func TestParseStack(t *testing.T) {
	st := parseStack("goroutine 7 [running]:\nruntime/debug.Stack()\n\t/usr/lib/go/src/runtime/debug/stack.go:26 +0x5e\n" +
		"github.com/wings-bff/wings/app/controller.(*Video).Get(0xc0, {0x1})\n\t/src/app/controller/video.go:42 +0x1f\n")
	want := []string{"github.com/wings-bff/wings/app/controller (*Video).Get /src/app/controller/video.go:42 true",
		"runtime/debug Stack /usr/lib/go/src/runtime/debug/stack.go:26 false"}
	if len(st.Frames) != len(want) {
		t.Fatalf("frames = %+v; want %d", st.Frames, len(want))
	}
	for i, f := range st.Frames {
		if got := fmt.Sprintf("%s %s %s:%d %v", f.Module, f.Function, f.AbsPath, f.Lineno, f.InApp); got != want[i] {
			t.Errorf("frame %d = %s; want %s", i, got, want[i])
		}
	}
}
