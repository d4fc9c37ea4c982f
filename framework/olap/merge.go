package olap

import "strings"

// Metric is an aggregate a rollup keeps as a -State column: Func over Arg
// on the raw rows, State the rollup's column. Func may carry parameters:
// "uniqCombined(17)".
type Metric struct {
	Name  string
	Func  string
	Arg   string
	State string
}

// split returns the function's name and its parameter list ("(17)" or "").
func (m Metric) split() (name, params string) {
	if i := strings.IndexByte(m.Func, '('); i >= 0 {
		return m.Func[:i], m.Func[i:]
	}
	return m.Func, ""
}

// Raw is the aggregate over the raw rows: "uniqCombined(17)(user_id)".
func (m Metric) Raw() string { return m.Func + "(" + m.Arg + ")" }

// Merge is the aggregate of the rollup's states: "uniqCombinedMerge(17)(uv)".
func (m Metric) Merge() string {
	name, params := m.split()
	return name + "Merge" + params + "(" + m.State + ")"
}

// MergeState merges the rollup's states into a state, for a coarser
// pre-aggregate: "uniqCombinedMergeState(17)(uv)".
func (m Metric) MergeState() string {
	name, params := m.split()
	return name + "MergeState" + params + "(" + m.State + ")"
}

// Expr is the metric read from src: Raw on the events, Merge on a rollup.
func (m Metric) Expr(src Source) string {
	if src.Raw {
		return m.Raw()
	}
	return m.Merge()
}
