package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"gopkg.in/yaml.v3"
)

// EtcdOptions say where the etcd config source reads from.
type EtcdOptions struct {
	Endpoints []string
	// Prefixes are read in order and later ones win: list prefixes shared
	// by several apps first (e.g. "/wings/shared/") and the app's own last
	// (e.g. "/wings/apps/video-bff/").
	Prefixes []string
	// DialTimeout bounds connecting and each read; default 2s.
	DialTimeout time.Duration
	// Username and Password log in when etcd has auth enabled.
	Username string
	Password Secret
	// TLS, when its CAFile is set, connects over TLS (and with CertFile
	// and KeyFile, presents a client certificate).
	TLS EtcdTLS
}

// EtcdSource reads a config overlay from etcd. Every key under a prefix is
// a config key path with "/" between segments, and its value is YAML:
// "/wings/apps/video-bff/upstreams/video/timeout" = "500ms" sets
// upstreams.video.timeout. Pass the overlay to Load as Options.Overlay; it
// applies after the files and before the environment, is decoded as
// strictly as the files (an unknown key is an error naming it), and may not
// hold secrets.
type EtcdSource struct {
	cli  *clientv3.Client
	opts EtcdOptions
}

// NewEtcdSource connects to etcd. The client connects lazily, so an
// unreachable etcd shows up as an error from Overlay.
func NewEtcdSource(opts EtcdOptions) (*EtcdSource, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if len(opts.Prefixes) == 0 {
		return nil, errors.New("etcd: no prefixes")
	}
	for _, p := range opts.Prefixes {
		if !strings.HasSuffix(p, "/") {
			return nil, fmt.Errorf("etcd: prefix %q must end with /", p)
		}
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.Password != "" && opts.Username == "" {
		return nil, errors.New("etcd: a password needs a username")
	}
	tlsCfg, err := opts.TLS.config()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   opts.Endpoints,
		DialTimeout: opts.DialTimeout,
		Username:    opts.Username,
		Password:    opts.Password.Reveal(),
		TLS:         tlsCfg,
		Logger:      nopZap(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	return &EtcdSource{cli: cli, opts: opts}, nil
}

// Close releases the client.
func (s *EtcdSource) Close() error { return s.cli.Close() }

// Name describes the source for the start-up log.
func (s *EtcdSource) Name() string {
	return "etcd " + strings.Join(s.opts.Endpoints, ",") + " " + strings.Join(s.opts.Prefixes, ",")
}

// Overlay reads every prefix and returns the merged tree. A value that is
// not valid YAML or a key that is not a clean path is an error naming the
// etcd key.
func (s *EtcdSource) Overlay(ctx context.Context) (map[string]any, error) {
	tree := map[string]any{}
	for _, prefix := range s.opts.Prefixes {
		rctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
		resp, err := s.cli.Get(rctx, prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("etcd %s: %w", prefix, err)
		}
		layer := map[string]any{}
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			segs := strings.Split(strings.TrimPrefix(key, prefix), "/")
			for _, seg := range segs {
				if seg == "" || seg != strings.ToLower(seg) || strings.Contains(seg, ".") {
					return nil, fmt.Errorf("etcd %s: not a config key path (lower-case segments separated by /)", key)
				}
			}
			var v any
			if err := yaml.Unmarshal(kv.Value, &v); err != nil {
				return nil, fmt.Errorf("etcd %s: %w", key, err)
			}
			if v == nil {
				v = ""
			}
			setPath(layer, segs, v)
		}
		merge(tree, layer)
	}
	return tree, nil
}

// Watch calls fn with a freshly read overlay after every change under any
// prefix (and with the error when reading after a change fails), until ctx
// ends. It first reads the overlay (retrying every second while etcd is
// unreachable) and calls fn with it, so values written while the process
// could not reach etcd apply as soon as it can; it reads again the same way
// whenever a watch breaks (compaction, lost leader). While the connection
// is lost fn is not called, so the caller keeps its last good config.
func (s *EtcdSource) Watch(ctx context.Context, fn func(map[string]any, error)) {
	for ctx.Err() == nil {
		rev, err := s.revision(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		fn(s.Overlay(ctx)) // an invalid value is the caller's to reject
		s.watchFrom(ctx, rev+1, fn)
	}
}

// watchFrom watches every prefix from revision rev and calls fn after each
// change, until ctx ends or a watch breaks.
func (s *EtcdSource) watchFrom(ctx context.Context, rev int64, fn func(map[string]any, error)) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	changed := make(chan struct{}, 1)
	broken := make(chan struct{}, len(s.opts.Prefixes))
	for _, p := range s.opts.Prefixes {
		wc := s.cli.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(rev))
		go func() {
			defer func() { broken <- struct{}{} }()
			for resp := range wc {
				if err := resp.Err(); err != nil {
					return // canceled or compacted: read afresh
				}
				if len(resp.Events) == 0 {
					continue
				}
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-broken:
			return
		case <-changed:
			fn(s.Overlay(ctx))
		}
	}
}

// revision returns etcd's current revision: a watch from the next one,
// started after reading the overlay, misses no change.
func (s *EtcdSource) revision(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.opts.Prefixes[0], clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd: %w", err)
	}
	return resp.Header.Revision, nil
}

// Etcd configures the config centre. With no endpoints there is none.
type Etcd struct {
	Endpoints []string `mapstructure:"endpoints"`
	// Prefixes are read in order, later ones winning: shared prefixes
	// first, the app's own last. Each ends with "/".
	Prefixes []string `mapstructure:"prefixes"`
	// Required refuses to start when etcd cannot be read; otherwise the
	// server starts from the files with a warning.
	Required bool `mapstructure:"required"`
	// DialTimeout bounds connecting to etcd and each read.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// Username logs in when etcd has auth enabled; Password comes only
	// from WINGS_ETCD__PASSWORD.
	Username string `mapstructure:"username"`
	// Password is the etcd user's password (environment only).
	Password Secret `mapstructure:"password"`
	// TLS configures TLS to etcd.
	TLS EtcdTLS `mapstructure:"tls"`
}

// EtcdTLS configures TLS to etcd: CAFile (PEM) verifies the servers and
// turns TLS on; CertFile and KeyFile, together, are the client certificate
// of a cluster with --client-cert-auth.
type EtcdTLS struct {
	// CAFile (PEM) verifies the servers and turns TLS on.
	CAFile string `mapstructure:"ca_file"`
	// CertFile (PEM) is the client certificate, with key_file.
	CertFile string `mapstructure:"cert_file"`
	// KeyFile (PEM) is the client certificate's key.
	KeyFile string `mapstructure:"key_file"`
}

// config builds the client's TLS config; nil without a CA file.
func (t EtcdTLS) config() (*tls.Config, error) {
	if t.CAFile == "" {
		if t.CertFile != "" || t.KeyFile != "" {
			return nil, errors.New("etcd.tls: a client certificate needs etcd.tls.ca_file")
		}
		return nil, nil
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("etcd.tls.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("etcd.tls.ca_file: %s holds no PEM certificate", t.CAFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("etcd.tls: cert_file and key_file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd.tls: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// validate reports etcd.* problems through bad.
func (e Etcd) validate(bad func(key, format string, args ...any)) {
	if e.Password != "" && e.Username == "" {
		bad("etcd.username", "must be set when WINGS_ETCD__PASSWORD is")
	}
	if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
		bad("etcd.tls.cert_file", "and etcd.tls.key_file go together")
	}
	if e.TLS.CertFile != "" && e.TLS.CAFile == "" {
		bad("etcd.tls.ca_file", "must be set with a client certificate")
	}
}

// Flatten returns every leaf of a decoded config struct by key path
// ("upstreams.video.timeout"), formatted with fmt, for comparing two
// configs. Secrets print redacted, so a changed secret is not seen.
func Flatten(cfg any) map[string]string {
	out := map[string]string{}
	flattenValue(reflect.ValueOf(cfg), "", out)
	return out
}

func flattenValue(v reflect.Value, path string, out map[string]string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			out[path] = "<nil>"
			return
		}
		v = v.Elem()
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v.Kind() {
	case reflect.Struct:
		if _, ok := v.Interface().(fmt.Stringer); ok {
			out[path] = fmt.Sprint(v.Interface())
			return
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if tag == "-" {
				continue
			}
			if opts == "squash" || (tag == "" && f.Anonymous) {
				flattenValue(v.Field(i), path, out)
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			flattenValue(v.Field(i), join(tag), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			flattenValue(v.MapIndex(k), join(fmt.Sprint(k)), out)
		}
	default:
		out[path] = fmt.Sprint(v.Interface())
	}
}
