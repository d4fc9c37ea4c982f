package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/redisclient"
)

type grafanaPanel struct {
	ID      int                      `json:"id"`
	Type    string                   `json:"type"`
	Title   string                   `json:"title"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // collapsed rows
}

type grafanaDashboard struct {
	Title  string         `json:"title"`
	UID    string         `json:"uid"`
	Panels []grafanaPanel `json:"panels"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promLabels   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true}
)

// metricNames returns the metric (or recording rule) names a PromQL
// expression selects: identifiers that are not functions, keywords, label
// names, label values or durations.
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRange.ReplaceAllString(s, " ")
	s = promLabels.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] == '$' || s[loc[0]-1] == '.' || (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9')) {
			continue // a variable, or part of a number such as 1e3
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function or aggregation
		}
		if promKeywords[name] {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNamesOfExpressions(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string
	}{
		{`sum by (route) (rate(wings_http_requests_total{code=~"5..",route!="x"}[5m]))`, "wings_http_requests_total"},
		{`histogram_quantile(0.99, sum by (le) (rate(a_bucket{instance=~"$instance"}[$__rate_interval])))`, "a_bucket"},
		{`x:y:rate5m > on () group_left () slo:z and count_over_time(m[10m:2m]) >= 5`, "x:y:rate5m slo:z m"},
		{`topk(10, sum by (route) (increase(r[$__range]))) / scalar(sum(rate(q[1m]))) * 1e3`, "r q"},
	} {
		if got := strings.Join(metricNames(tc.expr), " "); got != tc.want {
			t.Errorf("metricNames(%q) = %q; want %q", tc.expr, got, tc.want)
		}
	}
}

// exportedMetrics scrapes the running server and returns every sample name
// it can produce (histograms and summaries with their suffixes).
func exportedMetrics(t *testing.T, server string) map[string]bool {
	t.Helper()
	r := get(t, server+"/metrics")
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		names[f[2]] = true
		switch f[3] {
		case "histogram":
			names[f[2]+"_bucket"], names[f[2]+"_sum"], names[f[2]+"_count"] = true, true, true
		case "summary":
			names[f[2]+"_sum"], names[f[2]+"_count"] = true, true
		}
	}
	return names
}

// TestDashboardNamesExportedMetrics parses conf/grafana/wings.json and
// checks that every panel has queries and every query (and every rule in
// conf/prometheus/rules.yml) names only metrics the real binary exports
// after some traffic, or recording rules.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../conf/grafana/wings.json")
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("conf/grafana/wings.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q, uid %q; want both set", d.Title, d.UID)
	}

	rawRules, err := os.ReadFile("../conf/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules ruleFile
	if err := yaml.Unmarshal(rawRules, &rules); err != nil {
		t.Fatalf("conf/prometheus/rules.yml: %v", err)
	}

	s := newStack(t, nil)
	for _, path := range []string{"/api/video/42", "/api/video/404", "/api/video/abc", "/nope"} {
		get(t, s.Server+path)
	}
	known := exportedMetrics(t, s.Server)
	// The ClickHouse and Redis metrics appear once a query or command has
	// run, and this stack has neither: take their names from the
	// collectors the runtime registers. probe_success is the blackbox
	// exporter's (the WingsProbeFailed rule).
	for n := range describedMetrics(t) {
		known[n] = true
	}
	known["probe_success"] = true
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	for _, want := range []string{"wings_http_requests_total", "wings_http_errors_total", "wings_http_request_duration_seconds_bucket", "go_goroutines"} {
		if !known[want] {
			t.Fatalf("the scrape lacks %s; the traffic above should produce it", want)
		}
	}

	check := func(where, expr string, panel bool) {
		names := metricNames(expr)
		if panel && len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			if known[n] {
				continue
			}
			t.Errorf("%s: %s is neither exported by wings nor a recording rule (expr %q)", where, n, expr)
		}
	}

	ids := map[int]bool{}
	var walk func(ps []grafanaPanel)
	count := 0
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
				t.Errorf("panel %q: gridPos %+v does not fit a 24-column grid", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			count++
			if p.Title == "" || len(p.Targets) == 0 {
				t.Errorf("panel %d: title %q, %d targets; want a title and queries", p.ID, p.Title, len(p.Targets))
			}
			for _, tg := range p.Targets {
				check("panel "+p.Title+" "+tg.RefID, tg.Expr, true)
			}
		}
	}
	walk(d.Panels)
	if count < 10 {
		t.Errorf("%d panels; want the full dashboard", count)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			check("rule "+r.Record+r.Alert, r.Expr, false)
		}
	}
}

// descRecorder is a prometheus.Registerer that notes the metric names its
// collectors describe (histograms with their series suffixes).
type descRecorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)"`)

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		r.names[m[1]] = true
		if h, ok := c.(*prometheus.HistogramVec); ok && h != nil {
			r.names[m[1]+"_bucket"], r.names[m[1]+"_sum"], r.names[m[1]+"_count"] = true, true, true
		}
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }

// describedMetrics is every metric the ClickHouse and Redis instrumentation
// registers.
func describedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	r := &descRecorder{names: map[string]bool{}}
	chclient.NewMetrics(r)
	redisclient.NewHook(r)
	for _, want := range []string{"wings_clickhouse_query_duration_seconds_bucket", "wings_redis_errors_total"} {
		if !r.names[want] {
			t.Fatalf("the instrumentation does not describe %s (found %v)", want, r.names)
		}
	}
	return r.names
}
