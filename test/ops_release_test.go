package test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runScript runs a repo script with env and returns its stdout; it fails
// the test on error unless wantErr.
func runScript(t *testing.T, env []string, wantErr bool, script string, args ...string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "scripts", script))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if (err != nil) != wantErr {
		t.Fatalf("%s %s: err = %v (want error: %v)\n%s%s", script, strings.Join(args, " "), err, wantErr, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
}

func linkTarget(t *testing.T, path string) string {
	t.Helper()
	s, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func releaseDirs(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestReleaseDeployRollback builds four releases with scripts/release.sh
// (what make release runs), installs them with scripts/deploy.sh into a
// temporary root, runs the installed binary, and rolls back.
func TestReleaseDeployRollback(t *testing.T) {
	dist, root := t.TempDir(), t.TempDir()
	const commit, built = "abc1234", "2026-01-02T03:04:05Z"
	versions := []string{"v9.0.1", "v9.0.2", "v9.0.3", "v9.0.4"}
	tarballs := map[string]string{}
	// v9.0.4 is a real build by release.sh; the others are it repacked
	// under another version (only deploy.sh and rollback.sh see them), which
	// keeps the test to one link of the binary.
	for _, v := range versions[3:] {
		out := runScript(t, []string{"VERSION=" + v, "COMMIT=" + commit, "BUILD_TIME=" + built, "DIST=" + dist}, false, "release.sh")
		want := filepath.Join(dist, fmt.Sprintf("wings-%s-%s-%s.tar.gz", v, runtime.GOOS, runtime.GOARCH))
		if out != want {
			t.Fatalf("release.sh printed %q; want %q", out, want)
		}
		if _, err := os.Stat(want + ".sha256"); err != nil {
			t.Fatalf("no checksum file: %v", err)
		}
		tarballs[v] = want
	}
	for _, v := range versions[:3] {
		tarballs[v] = repack(t, tarballs["v9.0.4"], "v9.0.4", v, dist)
	}

	names := tarNames(t, tarballs["v9.0.4"])
	for _, want := range []string{"bin/wings", "VERSION", "conf/config.default.yaml", "conf/config.prod.yaml",
		"conf/prometheus/rules.yml", "conf/grafana/wings.json", "scripts/deploy.sh", "scripts/rollback.sh"} {
		if !names["wings-v9.0.4/"+want] {
			t.Errorf("tarball lacks wings-v9.0.4/%s", want)
		}
	}

	deploy := func(v string) {
		t.Helper()
		if got := runScript(t, nil, false, "deploy.sh", "--root", root, tarballs[v]); got != v {
			t.Fatalf("deploy.sh printed %q; want %q", got, v)
		}
	}
	current := func() string { t.Helper(); return linkTarget(t, filepath.Join(root, "current")) }

	deploy("v9.0.1")
	if got := current(); got != "releases/v9.0.1" {
		t.Fatalf("current -> %q; want releases/v9.0.1", got)
	}

	t.Run("bad checksum is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), filepath.Base(tarballs["v9.0.2"]))
		data, err := os.ReadFile(tarballs["v9.0.2"])
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(bad, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum, _ := os.ReadFile(tarballs["v9.0.2"] + ".sha256")
		if err := os.WriteFile(bad+".sha256", sum, 0o644); err != nil {
			t.Fatal(err)
		}
		runScript(t, nil, true, "deploy.sh", "--root", root, bad)
		if got := current(); got != "releases/v9.0.1" {
			t.Errorf("after a refused deploy current -> %q; want releases/v9.0.1", got)
		}
	})

	for _, v := range versions[1:] {
		deploy(v)
	}
	if got, want := strings.Join(releaseDirs(t, root), " "), "v9.0.2 v9.0.3 v9.0.4"; got != want {
		t.Errorf("releases kept = %q; want the last three %q", got, want)
	}
	if got := current(); got != "releases/v9.0.4" {
		t.Errorf("current -> %q; want releases/v9.0.4", got)
	}
	bin := filepath.Join(root, "current", "bin", "wings")
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "wings v9.0.4 (commit abc1234, built 2026-01-02T03:04:05Z)"; strings.TrimSpace(string(out)) != want {
		t.Errorf("wings version = %q; want %q", out, want)
	}

	t.Run("installed release serves /version", func(t *testing.T) {
		cmd := exec.Command(bin, "serve", "--conf", filepath.Join(root, "current", "conf"))
		cmd.Dir = t.TempDir() // nothing from the repo
		cmd.Env = append(os.Environ(), "WINGS_ENV=test", "WINGS_SERVER__ADDR="+anyPort)
		p := &proc{cmd: cmd, done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = p, p
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := p.done
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
		addr := waitListening(t, p, 15*time.Second)
		waitHTTP(t, "http://"+addr+"/healthz", 15*time.Second)
		r := get(t, "http://"+addr+"/version")
		var b map[string]any
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("/version: %v: %s", err, r.Body)
		}
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"v9.0.4"`) ||
			!strings.Contains(string(r.Body), commit) || !strings.Contains(string(r.Body), built) {
			t.Errorf("/version = %d %s; want v9.0.4, %s, %s", r.Status, r.Body, commit, built)
		}
	})

	if got := runScript(t, nil, false, "rollback.sh", "--root", root); got != "v9.0.3" {
		t.Fatalf("rollback.sh printed %q; want v9.0.3", got)
	}
	if got := current(); got != "releases/v9.0.3" {
		t.Errorf("after rollback current -> %q; want releases/v9.0.3", got)
	}
	if v, err := os.ReadFile(filepath.Join(root, "current", "VERSION")); err != nil || string(v) != "v9.0.3\n" {
		t.Errorf("after rollback current/VERSION = %q, %v; want v9.0.3", v, err)
	}
	// A second rollback goes forward again.
	if got := runScript(t, nil, false, "rollback.sh", "--root", root); got != "v9.0.4" {
		t.Errorf("second rollback.sh printed %q; want v9.0.4", got)
	}
	// Another deploy keeps current and previous and drops the oldest.
	deploy("v9.0.1")
	if got, want := strings.Join(releaseDirs(t, root), " "), "v9.0.1 v9.0.3 v9.0.4"; got != want {
		t.Errorf("releases kept = %q; want %q", got, want)
	}
	if got := linkTarget(t, filepath.Join(root, "previous")); got != "releases/v9.0.4" {
		t.Errorf("previous -> %q; want releases/v9.0.4", got)
	}
}

// repack copies a release tarball under another version: the top directory
// and VERSION change, the files stay. It writes the checksum file too.
func repack(t *testing.T, src, from, to, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "wings-"+to+"-repacked.tar.gz")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	zw := gzip.NewWriter(io.MultiWriter(out, h))
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdr.Name = strings.Replace(hdr.Name, "wings-"+from, "wings-"+to, 1)
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(hdr.Name, "/VERSION") {
			body = []byte(to + "\n")
			hdr.Size = int64(len(body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x  %s\n", h.Sum(nil), filepath.Base(dst))
	if err := os.WriteFile(dst+".sha256", []byte(sum), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
