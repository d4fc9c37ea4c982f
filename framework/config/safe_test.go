package config

import (
	"strings"
	"testing"
)

// loadRepo loads the repository's conf/ with only the given environment
// (Options.Env empty: WINGS_ENV comes from environ, as in a real start).
func loadRepo(t *testing.T, environ ...string) (*appConfig, error) {
	t.Helper()
	var cfg appConfig
	_, err := Load(Options{Dir: "../../conf", Environ: append([]string{}, environ...)}, &cfg)
	return &cfg, err
}

// TestDemoTokensOnlyOnLoopbackUnlessEnvNamed: with WINGS_ENV unset the
// local file's demo users (demo-admin sees every business line) are served
// on loopback only; a non-loopback listen address refuses to start naming
// server.addr, unless WINGS_ENV names the environment.
func TestDemoTokensOnlyOnLoopbackUnlessEnvNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ []string
		wantErr string
	}{
		{"unset, loopback", nil, ""},
		{"unset, localhost", []string{"WINGS_SERVER__ADDR=localhost:8080"}, ""},
		{"unset, all interfaces", []string{"WINGS_SERVER__ADDR=0.0.0.0:8080"}, "server.addr: 0.0.0.0:8080 is not a loopback address and WINGS_ENV is unset"},
		{"unset, empty host", []string{"WINGS_SERVER__ADDR=:8080"}, "server.addr: :8080 is not a loopback address"},
		{"unset, a LAN address", []string{"WINGS_SERVER__ADDR=10.1.2.3:8080"}, "WINGS_ENV is unset"},
		{"named local, all interfaces", []string{"WINGS_ENV=local", "WINGS_SERVER__ADDR=0.0.0.0:8080"}, ""},
		{"named test, all interfaces", []string{"WINGS_ENV=test", "WINGS_SERVER__ADDR=0.0.0.0:8080"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadRepo(t, tc.environ...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Load: %v; want it accepted", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Load: %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestStaticProvidersRefusedInStage: the static providers are refused in
// stage as in prod; auth.allow_static_identity lets stage have them, never
// prod.
func TestStaticProvidersRefusedInStage(t *testing.T) {
	t.Parallel()
	static := []string{"WINGS_AUTH__IDENTITY__PROVIDER=static", "WINGS_AUTH__PERMISSION__PROVIDER=static"}
	tests := []struct {
		name    string
		environ []string
		wantErr string
	}{
		{"stage", append([]string{"WINGS_ENV=stage"}, static...), "auth.identity.provider: static is for local development and tests; not allowed when WINGS_ENV=stage unless auth.allow_static_identity is true"},
		{"stage, allowed", append([]string{"WINGS_ENV=stage", "WINGS_AUTH__ALLOW_STATIC_IDENTITY=true"}, static...), ""},
		{"prod", append([]string{"WINGS_ENV=prod"}, static...), "auth.identity.provider: static is for local development and tests; not allowed when WINGS_ENV=prod"},
		{"prod, allowed", append([]string{"WINGS_ENV=prod", "WINGS_AUTH__ALLOW_STATIC_IDENTITY=true"}, static...), "not allowed when WINGS_ENV=prod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadRepo(t, tc.environ...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Load: %v; want it accepted", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Load: %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestAuthURLsHTTPSOutsideLocalAndTest: the SSO, permission and login URLs
// must be https in stage and prod (the error names the key); http stays
// fine for local and test.
func TestAuthURLsHTTPSOutsideLocalAndTest(t *testing.T) {
	t.Parallel()
	httpProviders := func(env, scheme string) []string {
		return []string{
			"WINGS_ENV=" + env, "WINGS_AUTH__APP_SECRET=s3cret",
			"WINGS_AUTH__IDENTITY__PROVIDER=sso_http", "WINGS_AUTH__PERMISSION__PROVIDER=perm_http",
			"WINGS_AUTH__IDENTITY__SSO_URL=" + scheme + "://sso.internal",
			"WINGS_AUTH__PERMISSION__PERM_URL=" + scheme + "://perm.internal",
			"WINGS_AUTH__LOGIN_URL=" + scheme + "://sso.internal/login",
		}
	}
	for _, env := range []string{"stage", "prod"} {
		_, err := loadRepo(t, httpProviders(env, "http")...)
		for _, key := range []string{"auth.identity.sso_url", "auth.permission.perm_url", "auth.login_url"} {
			want := key + ": must be an https URL when WINGS_ENV=" + env
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s with http URLs: %v; want %q", env, err, want)
			}
		}
		if _, err := loadRepo(t, httpProviders(env, "https")...); err != nil {
			t.Errorf("%s with https URLs: %v; want it accepted", env, err)
		}
	}
	for _, env := range []string{"local", "test"} {
		if _, err := loadRepo(t, httpProviders(env, "http")...); err != nil {
			t.Errorf("%s with http URLs: %v; want it accepted", env, err)
		}
	}
}

// TestTrustedProxiesAndHeaderBytes: server.trusted_proxies loads as a
// comma-separated list from its variable and names a bad entry;
// server.max_header_bytes defaults to 64 KiB and is bounded.
func TestTrustedProxiesAndHeaderBytes(t *testing.T) {
	t.Parallel()
	cfg, err := loadRepo(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Server.TrustedProxies, ","); got != "127.0.0.1/32,::1/128" {
		t.Errorf("default trusted_proxies = %q; want loopback only", got)
	}
	if cfg.Server.MaxHeaderBytes != 64<<10 {
		t.Errorf("default max_header_bytes = %d; want 65536", cfg.Server.MaxHeaderBytes)
	}
	// A config written before the key existed (0) gets the default.
	if cfg, err := loadRepo(t, "WINGS_SERVER__MAX_HEADER_BYTES=0"); err != nil || cfg.Server.MaxHeaderBytes != DefaultMaxHeaderBytes {
		t.Errorf("max_header_bytes 0: %v, %d; want the default %d", err, cfg.Server.MaxHeaderBytes, DefaultMaxHeaderBytes)
	}
	cfg, err = loadRepo(t, "WINGS_SERVER__TRUSTED_PROXIES=10.0.0.0/8,192.168.1.7")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Server.TrustedProxies, ","); got != "10.0.0.0/8,192.168.1.7" {
		t.Errorf("trusted_proxies from the environment = %q", got)
	}
	cfg, err = loadRepo(t, "WINGS_SERVER__TRUSTED_PROXIES=")
	if err != nil || len(cfg.Server.TrustedProxies) != 0 {
		t.Errorf("empty WINGS_SERVER__TRUSTED_PROXIES: %v, %q; want no trusted proxy", err, cfg.Server.TrustedProxies)
	}
	_, err = loadRepo(t, "WINGS_SERVER__TRUSTED_PROXIES=10.0.0.0/8,nginx,0.0.0.0/0", "WINGS_SERVER__MAX_HEADER_BYTES=10")
	for _, want := range []string{`server.trusted_proxies: entry 1: "nginx" is not a CIDR`, `server.trusted_proxies: entry 2: "0.0.0.0/0" trusts every address`, "server.max_header_bytes: must be 0 (the default, 64 KiB) or between 4096 and 1048576, got 10"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want %q", err, want)
		}
	}
}

// TestEtcdAuthAndTLSKeys: etcd.password is a secret (environment only),
// needs a username, and the TLS files go together.
func TestEtcdAuthAndTLSKeys(t *testing.T) {
	t.Parallel()
	cfg, err := loadRepo(t, "WINGS_ETCD__USERNAME=wings", "WINGS_ETCD__PASSWORD=pw", "WINGS_ETCD__TLS__CA_FILE=/ca.pem",
		"WINGS_ETCD__TLS__CERT_FILE=/c.pem", "WINGS_ETCD__TLS__KEY_FILE=/k.pem")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Etcd.Username != "wings" || cfg.Etcd.Password.Reveal() != "pw" || cfg.Etcd.TLS.KeyFile != "/k.pem" {
		t.Errorf("etcd = %+v", cfg.Etcd)
	}
	_, err = loadRepo(t, "WINGS_ETCD__PASSWORD=pw", "WINGS_ETCD__TLS__CERT_FILE=/c.pem")
	for _, want := range []string{"etcd.username: must be set when WINGS_ETCD__PASSWORD is", "etcd.tls.cert_file: and etcd.tls.key_file go together", "etcd.tls.ca_file: must be set with a client certificate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want %q", err, want)
		}
	}
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t), "config.local.yaml": "etcd:\n  password: pw\n"})
	if _, _, err := load(t, dir); err == nil || !strings.Contains(err.Error(), "etcd.password: secrets may only come from the environment (WINGS_ETCD__PASSWORD)") {
		t.Errorf("etcd.password in a file: %v; want it refused", err)
	}
}
