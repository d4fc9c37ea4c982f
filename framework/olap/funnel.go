package olap

import "time"

// Funnel is the funnel a rollup keeps as per-user windowFunnel states of
// one day: its ordered steps and window in seconds.
type Funnel struct {
	Table  string
	Steps  []string
	Window int
}

// Prefix reports whether a funnel of steps within window is answered by
// f's states: the same window and a prefix of its steps. A prefix is exact
// because windowFunnel's chain for the first k steps never depends on the
// later conditions.
func (f Funnel) Prefix(steps []string, window int) bool {
	if window != f.Window || len(steps) == 0 || len(steps) > len(f.Steps) {
		return false
	}
	for i, s := range steps {
		if s != f.Steps[i] {
			return false
		}
	}
	return true
}

// WholeDay returns the start of the day in loc when [from, to) is exactly
// that one day.
func WholeDay(from, to time.Time, loc *time.Location) (time.Time, bool) {
	f := from.In(loc)
	day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	if !f.Equal(day) || !to.Equal(day.AddDate(0, 0, 1)) {
		return time.Time{}, false
	}
	return day, true
}

// Count turns windowFunnel levels into step counts: users reaching level l
// count for each of the first min(l, steps) steps.
func Count(steps int, levels map[uint8]uint64) []uint64 {
	out := make([]uint64, steps)
	for l, users := range levels {
		for k := 0; k < int(l) && k < steps; k++ {
			out[k] += users
		}
	}
	return out
}
