package config

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// startOwnEtcd runs a throwaway single-member etcd with extra flags; its
// client and peer listeners bind port 0 and the client address is read
// from etcd's log. scheme is http or https.
func startOwnEtcd(t *testing.T, scheme string, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd not installed (make test installs it with scripts/deps.sh etcd)")
	}
	dir := t.TempDir()
	args := append([]string{
		"--name", "wings-secure", "--data-dir", filepath.Join(dir, "data"), "--logger", "zap",
		"--listen-client-urls", scheme + "://127.0.0.1:0", "--advertise-client-urls", scheme + "://127.0.0.1:0",
		"--listen-peer-urls", "http://127.0.0.1:0", "--initial-advertise-peer-urls", "http://127.0.0.1:0",
		"--initial-cluster", "wings-secure=http://127.0.0.1:0",
	}, flags...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	addr := make(chan string, 1)
	var logTail []string
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if len(logTail) < 200 {
				logTail = append(logTail, line)
			}
			var m struct {
				Msg     string `json:"msg"`
				Address string `json:"address"`
			}
			if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m.Msg, "serving client traffic") && m.Address != "" {
				select {
				case addr <- m.Address:
				default:
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case a := <-addr:
		return a
	case <-exited:
		t.Fatalf("etcd exited before serving:\n%s", strings.Join(logTail, "\n"))
	case <-time.After(30 * time.Second):
		t.Fatal("etcd did not serve clients within 30s")
	}
	return ""
}

// TestEtcdUsernamePassword: against a real etcd with auth enabled, the
// source reads with etcd.username and the password, and fails without
// them or with a wrong password.
func TestEtcdUsernamePassword(t *testing.T) {
	t.Parallel()
	addr := startOwnEtcd(t, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, Logger: nopZap()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const prefix = "/wings/apps/video-bff/"
	steps := []func() error{
		func() error { _, err := admin.Put(ctx, prefix+"upstreams/video/timeout", "900ms"); return err },
		func() error { _, err := admin.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "wings-read"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "wings-read", "/wings/", clientv3.GetPrefixRangeEnd("/wings/"), clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "wings", "wings-pw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "wings", "wings-read"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("etcd set-up step %d: %v", i, err)
		}
	}
	read := func(user, password string) (map[string]any, error) {
		t.Helper()
		src, err := NewEtcdSource(EtcdOptions{Endpoints: []string{addr}, Prefixes: []string{prefix}, DialTimeout: 3 * time.Second,
			Username: user, Password: Secret(password)})
		if err != nil {
			return nil, err
		}
		defer src.Close()
		return src.Overlay(ctx)
	}
	ov, err := read("wings", "wings-pw")
	if err != nil {
		t.Fatalf("Overlay with the right password: %v", err)
	}
	if got := ov["upstreams"].(map[string]any)["video"].(map[string]any)["timeout"]; got != "900ms" {
		t.Errorf("overlay timeout = %v; want 900ms", got)
	}
	if _, err := read("", ""); err == nil {
		t.Error("Overlay without credentials succeeded; want etcd to refuse it")
	}
	if _, err := read("wings", "wrong"); err == nil {
		t.Error("Overlay with a wrong password succeeded; want an error")
	}
}

// TestEtcdTLS: against a real etcd serving TLS with client certificates
// (a throwaway CA made here), the source reads with etcd.tls.*, and fails
// without TLS or without a client certificate.
func TestEtcdTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caCert, caKey := newCert(t, dir, "ca", nil, nil)
	newCert(t, dir, "server", caCert, caKey)
	newCert(t, dir, "client", caCert, caKey)
	p := func(name string) string { return filepath.Join(dir, name) }
	addr := startOwnEtcd(t, "https", "--cert-file", p("server.pem"), "--key-file", p("server-key.pem"),
		"--client-cert-auth", "--trusted-ca-file", p("ca.pem"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := EtcdTLS{CAFile: p("ca.pem"), CertFile: p("client.pem"), KeyFile: p("client-key.pem")}
	tlsCfg, err := full.config()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, TLS: tlsCfg, Logger: nopZap()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const prefix = "/wings/apps/video-bff/"
	if _, err := admin.Put(ctx, prefix+"log/level", "debug"); err != nil {
		t.Fatal(err)
	}
	read := func(tc EtcdTLS) (map[string]any, error) {
		t.Helper()
		src, err := NewEtcdSource(EtcdOptions{Endpoints: []string{addr}, Prefixes: []string{prefix}, DialTimeout: 3 * time.Second, TLS: tc})
		if err != nil {
			return nil, err
		}
		defer src.Close()
		return src.Overlay(ctx)
	}
	ov, err := read(full)
	if err != nil {
		t.Fatalf("Overlay over TLS with a client certificate: %v", err)
	}
	if got := ov["log"].(map[string]any)["level"]; got != "debug" {
		t.Errorf("overlay log.level = %v; want debug", got)
	}
	if _, err := read(EtcdTLS{}); err == nil {
		t.Error("Overlay without TLS succeeded; want an error")
	}
	if _, err := read(EtcdTLS{CAFile: p("ca.pem")}); err == nil {
		t.Error("Overlay without a client certificate succeeded; want etcd to refuse it")
	}
	if _, err := read(EtcdTLS{CAFile: p("client.pem"), CertFile: p("client.pem"), KeyFile: p("client-key.pem")}); err == nil {
		t.Error("Overlay trusting the wrong CA succeeded; want the server refused")
	}
}

// newCert writes name.pem and name-key.pem into dir: a CA when parent is
// nil, else a certificate for 127.0.0.1 signed by it (server and client
// use).
func newCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wings-test-" + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
