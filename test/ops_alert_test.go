package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testRules is conf/prometheus/rules.yml with the windows shrunk to
// seconds: evaluated every second, the critical alert's five 2-minute
// windows become five 2-second windows over 10 seconds.
func testRules(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../conf/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("interval: 1m", "interval: 1s", "interval: 30s", "interval: 1s",
		"[2m]", "[4s]", "[10m:2m]", "[10s:2s]").Replace(string(raw))
	if !strings.Contains(s, "[10s:2s]") {
		t.Fatal("rules.yml: the critical alert's [10m:2m] subquery is gone; update this test")
	}
	return s
}

// testAlertmanager is conf/alertmanager/alertmanager.yml with every
// receiver a webhook to recv (/mail/<team> or /page/<team>) and
// second-long grouping.
func testAlertmanager(t *testing.T, recv string) string {
	t.Helper()
	raw, err := os.ReadFile("../conf/alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = regexp.MustCompile(`(?m)^  - name: (\w+)-(mail|page)\n    (email|webhook)_configs:\n      - (to|url): \S+$`).
		ReplaceAllString(s, "  - name: $1-$2\n    webhook_configs:\n      - url: "+recv+"/$2/$1")
	if strings.Contains(s, "email_configs") {
		t.Fatal("alertmanager.yml: a receiver this test cannot rewrite")
	}
	s = strings.NewReplacer("group_wait: 30s", "group_wait: 1s", "group_interval: 5m", "group_interval: 1s").Replace(s)
	return s
}

// TestAlertOwnerEndToEnd: a real Prometheus scrapes a real Wings while team
// A's upstream fails every call; the critical route alert fires with the
// route's owner, and a real Alertmanager pages that owner's webhook. The
// web team, whose route answers without errors, receives nothing.
func TestAlertOwnerEndToEnd(t *testing.T) {
	type delivery struct {
		path   string
		alerts []map[string]string
	}
	var mu sync.Mutex
	var got []delivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		d := delivery{path: r.URL.Path}
		for _, a := range msg.Alerts {
			d.alerts = append(d.alerts, a.Labels)
		}
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	}))
	defer recv.Close()

	s := newStack(t, []string{"--error-rate", "1", "--teams", "video"})
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	amConf := write("alertmanager.yml", testAlertmanager(t, recv.URL))
	am := startBinary(t, "prometheus-alertmanager", "--config.file="+amConf, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+anyPort, "--cluster.listen-address=")
	amAddr := waitListening(t, am, 20*time.Second)

	write("rules.yml", testRules(t))
	promConf := write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: wings
    honor_labels: true
    static_configs:
      - targets: [%q]
`, amAddr, strings.TrimPrefix(s.Server, "http://")))
	prom := startBinary(t, "prometheus", "--config.file="+promConf, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+anyPort)
	waitListening(t, prom, 20*time.Second)

	// Traffic: the video route fails (its upstream answers 500), the web
	// team's page answers 401 (not an error).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for _, p := range []string{"/api/video/42", "/"} {
					if r, err := http.Get(s.Server + p); err == nil {
						_, _ = io.Copy(io.Discard, r.Body)
						r.Body.Close()
					}
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	paged := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range got {
			for _, a := range d.alerts {
				if d.path == "/page/video" && a["alertname"] == "WingsRouteErrorRatioCritical" &&
					a["owner"] == "video" && a["route"] == "/api/video/:id" {
					return true
				}
			}
		}
		return false
	}
	deadline := time.Now().Add(100 * time.Second)
	for !paged() {
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("no page for owner video within 100s; deliveries: %+v", got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, d := range got {
		if strings.HasSuffix(d.path, "/web") {
			t.Errorf("the web team, whose route did not fail, got %s: %v", d.path, d.alerts)
		}
		for _, a := range d.alerts {
			if a["route"] == "/api/video/:id" && a["owner"] != "video" {
				t.Errorf("alert %v for /api/video/:id carries owner %q; want video", a, a["owner"])
			}
		}
	}
}
