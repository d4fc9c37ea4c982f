package test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// Deployment
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Name  string `yaml:"name"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					Resources struct {
						Requests map[string]string `yaml:"requests"`
						Limits   map[string]string `yaml:"limits"`
					} `yaml:"resources"`
					LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
					ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
					Lifecycle      struct {
						PreStop struct {
							Exec struct {
								Command []string `yaml:"command"`
							} `yaml:"exec"`
						} `yaml:"preStop"`
					} `yaml:"lifecycle"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service: label -> value; Deployment: matchLabels -> labels
		Selector map[string]any `yaml:"selector"`
		Ports    []struct {
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
		// HorizontalPodAutoscaler
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas int `yaml:"minReplicas"`
		MaxReplicas int `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource struct {
				Name   string `yaml:"name"`
				Target struct {
					Type               string `yaml:"type"`
					AverageUtilization int    `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
	} `yaml:"spec"`
}

// serverDurations reads server.drain_delay and server.shutdown_timeout for
// env from conf/, the env file overriding the default one.
func serverDurations(t *testing.T, env string) (drain, shutdown time.Duration) {
	t.Helper()
	for _, f := range []string{"config.default.yaml", "config." + env + ".yaml"} {
		raw, err := os.ReadFile(filepath.Join("..", "conf", f))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Server struct {
				DrainDelay      string `yaml:"drain_delay"`
				ShutdownTimeout string `yaml:"shutdown_timeout"`
			} `yaml:"server"`
		}
		if err := yaml.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, kv := range []struct {
			s   string
			dst *time.Duration
		}{{c.Server.DrainDelay, &drain}, {c.Server.ShutdownTimeout, &shutdown}} {
			if kv.s == "" {
				continue
			}
			d, err := time.ParseDuration(kv.s)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			*kv.dst = d
		}
	}
	return drain, shutdown
}

// TestKubernetesManifests parses deploy/kubernetes/wings.yaml and checks what
// a safe rollout needs: probes on /healthz and /readyz, a preStop drain, a
// grace period that covers preStop + drain_delay + shutdown_timeout of the
// prod config, resources, WINGS_ENV=prod, a Service that selects the pods,
// and an HPA on CPU at 85%.
func TestKubernetesManifests(t *testing.T) {
	raw, err := os.ReadFile("../deploy/kubernetes/wings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]k8sDoc{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var d k8sDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("deploy/kubernetes/wings.yaml: %v", err)
		}
		docs[d.Kind] = d
	}
	dep, ok := docs["Deployment"]
	if !ok || dep.APIVersion != "apps/v1" {
		t.Fatalf("no apps/v1 Deployment (kinds: %v)", docs)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers; want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name], ports[strconv.Itoa(p.ContainerPort)] = true, true
	}
	portOK := func(p any) bool { return ports[fmt.Sprint(p)] }

	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["WINGS_ENV"] != "prod" {
		t.Errorf("WINGS_ENV = %q; want prod", env["WINGS_ENV"])
	}
	// Behind an ingress, the client address comes from X-Forwarded-For
	// through the ingress's pods only.
	if tp := env["WINGS_SERVER__TRUSTED_PROXIES"]; tp == "" {
		t.Error("WINGS_SERVER__TRUSTED_PROXIES is not set (the rate limit would see the ingress, not the client)")
	} else {
		for _, p := range strings.Split(tp, ",") {
			if _, _, err := net.ParseCIDR(p); err != nil {
				t.Errorf("WINGS_SERVER__TRUSTED_PROXIES entry %q: %v", p, err)
			}
		}
	}
	for name, p := range map[string]struct {
		probe *k8sProbe
		path  string
	}{"livenessProbe": {c.LivenessProbe, "/healthz"}, "readinessProbe": {c.ReadinessProbe, "/readyz"}} {
		switch {
		case p.probe == nil:
			t.Errorf("no %s", name)
		case p.probe.HTTPGet.Path != p.path || !portOK(p.probe.HTTPGet.Port):
			t.Errorf("%s = GET %s on port %v; want %s on a container port", name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port, p.path)
		}
	}
	for _, k := range []string{"cpu", "memory"} {
		if c.Resources.Requests[k] == "" {
			t.Errorf("resources.requests.%s is not set (the HPA needs cpu)", k)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("resources.limits.memory is not set")
	}

	cmd := c.Lifecycle.PreStop.Exec.Command
	if len(cmd) != 2 || cmd[0] != "sleep" {
		t.Fatalf("preStop = %q; want [sleep N]", cmd)
	}
	preStop, err := strconv.Atoi(cmd[1])
	if err != nil || preStop <= 0 {
		t.Fatalf("preStop sleep %q; want a positive number of seconds", cmd[1])
	}
	drain, shutdown := serverDurations(t, "prod")
	need := time.Duration(preStop)*time.Second + drain + shutdown
	if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace <= need {
		t.Errorf("terminationGracePeriodSeconds = %s; want > preStop %ds + drain_delay %s + shutdown_timeout %s = %s",
			grace, preStop, drain, shutdown, need)
	}
	if drain <= 0 {
		t.Errorf("prod server.drain_delay = %s; want > 0 so the readiness probe sees 503 before the listener closes", drain)
	}

	match, _ := dep.Spec.Selector["matchLabels"].(map[string]any)
	for k, v := range match {
		if dep.Spec.Template.Metadata.Labels[k] != fmt.Sprint(v) {
			t.Errorf("Deployment selector %s=%v does not match its pod labels", k, v)
		}
	}
	if len(match) == 0 {
		t.Error("Deployment has no selector.matchLabels")
	}

	svc, ok := docs["Service"]
	if !ok {
		t.Fatal("no Service")
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("Service has no selector")
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Metadata.Labels[k] != fmt.Sprint(v) {
			t.Errorf("Service selector %s=%s does not match the pod labels %v", k, v, dep.Spec.Template.Metadata.Labels)
		}
	}
	if len(svc.Spec.Ports) == 0 || !portOK(svc.Spec.Ports[0].TargetPort) {
		t.Errorf("Service ports %v; want a targetPort naming the container port", svc.Spec.Ports)
	}

	hpa, ok := docs["HorizontalPodAutoscaler"]
	if !ok || hpa.APIVersion != "autoscaling/v2" {
		t.Fatal("no autoscaling/v2 HorizontalPodAutoscaler")
	}
	if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Metadata.Name {
		t.Errorf("HPA targets %s/%s; want Deployment/%s", hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name, dep.Metadata.Name)
	}
	if hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %d..%d; want at least 2 and max >= min", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	cpu := false
	for _, m := range hpa.Spec.Metrics {
		if m.Type == "Resource" && m.Resource.Name == "cpu" && m.Resource.Target.Type == "Utilization" && m.Resource.Target.AverageUtilization == 85 {
			cpu = true
		}
	}
	if !cpu {
		t.Errorf("HPA metrics %+v; want CPU utilization 85%%", hpa.Spec.Metrics)
	}
}

// TestNginxConfig checks deploy/nginx/wings.conf: structurally always, and
// with `nginx -t` when nginx is installed (make test installs it).
func TestNginxConfig(t *testing.T) {
	raw, err := os.ReadFile("../deploy/nginx/wings.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	for _, re := range []string{
		`(?m)^upstream wings \{`,
		`(?m)^\s+server \S+:\d+[^;]*;`,
		`(?m)^\s+keepalive \d+;`,
		`proxy_pass http://wings;`,
		`proxy_http_version 1\.1;`,
		`proxy_set_header Connection "";`,
		`proxy_set_header X-Request-Id \$request_id;`,
		`proxy_next_upstream error;`,
		// The edge replaces a client's X-Forwarded-For (Wings believes it
		// from server.trusted_proxies only).
		`proxy_set_header X-Forwarded-For \$remote_addr;`,
	} {
		if !regexp.MustCompile(re).MatchString(conf) {
			t.Errorf("deploy/nginx/wings.conf does not match %s", re)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Error("unbalanced braces")
	}
	// nginx must wait longer than Wings' own deadline, or it cuts answers off.
	m := regexp.MustCompile(`proxy_read_timeout (\d+)s;`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatal("no proxy_read_timeout in seconds")
	}
	var def struct {
		Server struct {
			RequestTimeout string `yaml:"request_timeout"`
		} `yaml:"server"`
	}
	rawDef, err := os.ReadFile("../conf/config.default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(rawDef, &def); err != nil {
		t.Fatal(err)
	}
	rt, err := time.ParseDuration(def.Server.RequestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(m[1]); time.Duration(n)*time.Second <= rt {
		t.Errorf("proxy_read_timeout %ss; want > server.request_timeout %s", m[1], rt)
	}

	t.Run("nginx -t", func(t *testing.T) {
		bin, err := exec.LookPath("nginx")
		if err != nil {
			if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
				t.Skip("nginx not installed (make test installs it with scripts/deps.sh nginx)")
			}
			bin = "/usr/sbin/nginx"
		}
		abs, err := filepath.Abs("../deploy/nginx/wings.conf")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		main := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[2]s;
}
`, dir, abs)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "test is successful") {
			t.Errorf("nginx -t: %v\n%s", err, out)
		}
	})
}
