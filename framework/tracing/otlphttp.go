package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wings-bff/wings/framework/config"
)

// httpTarget is where and how an OTLP/HTTP exporter sends its batches.
type httpTarget struct {
	url     string
	headers http.Header
	gzip    bool
	timeout time.Duration
}

// resolveHTTPTarget reads tracing.endpoint and the standard
// OTEL_EXPORTER_OTLP_* variables (a TRACES_ one before the general one) as
// the SDK's OTLP/HTTP exporter does: an endpoint with a scheme is used as
// it is ("/" when it has no path), host:port means http://host:port/v1/traces,
// OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces appended, and the default is
// https://localhost:4318/v1/traces (http with OTEL_EXPORTER_OTLP_INSECURE=true).
// ok is false when the environment asks for what only the SDK's exporter
// does (a private CA or a client certificate); that exporter is then used.
func resolveHTTPTarget(cfg config.Tracing, getenv func(string) string) (t httpTarget, ok bool, err error) {
	env := func(name string) string {
		if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + name)); v != "" {
			return v
		}
		return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name))
	}
	for _, name := range []string{"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		if env(name) != "" {
			return t, false, nil
		}
	}
	t.timeout = 3 * time.Second
	switch ep := cfg.Endpoint; {
	case strings.Contains(ep, "://"):
		if t.url, err = urlAsIs(ep); err != nil {
			return t, false, fmt.Errorf("tracing.endpoint: %w", err)
		}
	case ep != "":
		t.url = "http://" + ep + "/v1/traces"
	case getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		if t.url, err = urlAsIs(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); err != nil {
			return t, false, fmt.Errorf("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: %w", err)
		}
	case getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		u, err := url.Parse(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		if err != nil || u.Host == "" {
			return t, false, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: not a URL: %q", getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		}
		u.Path = path.Join(u.Path, "/v1/traces")
		t.url = u.String()
	default:
		scheme := "https"
		if strings.EqualFold(env("INSECURE"), "true") {
			scheme = "http"
		}
		t.url = scheme + "://localhost:4318/v1/traces"
	}
	if h := env("HEADERS"); h != "" {
		t.headers = http.Header{}
		for pair := range strings.SplitSeq(h, ",") {
			k, v, found := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !found || k == "" {
				continue
			}
			if uv, err := url.PathUnescape(v); err == nil {
				t.headers.Set(k, strings.TrimSpace(uv))
			}
		}
	}
	t.gzip = strings.EqualFold(env("COMPRESSION"), "gzip")
	return t, true, nil
}

func urlAsIs(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", fmt.Errorf("not a URL: %q", s)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// httpExporter sends each batch as one OTLP/HTTP protobuf POST, encoded
// by appendRequest into a buffer it keeps. It does not retry: a batch the
// collector does not take is lost, and the caller counts it.
type httpExporter struct {
	t      httpTarget
	client *http.Client

	mu   sync.Mutex // one batch at a time; guards what follows
	g    grouper
	buf  []byte
	zbuf bytes.Buffer
	zw   *gzip.Writer

	stopped atomic.Bool
}

func newHTTPExporter(t httpTarget) *httpExporter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2
	return &httpExporter{t: t, client: &http.Client{Transport: tr, Timeout: t.timeout}}
}

// maxKeptBuffer bounds the encoding buffer kept between batches.
const maxKeptBuffer = 8 << 20

func (e *httpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.stopped.Load() {
		return errStopped
	}
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = appendRequest(e.buf[:0], e.g.group(spans))
	e.g.group(nil) // let the spans go
	body := e.buf
	if e.t.gzip {
		e.zbuf.Reset()
		if e.zw == nil {
			e.zw = gzip.NewWriter(&e.zbuf)
		} else {
			e.zw.Reset(&e.zbuf)
		}
		if _, err := e.zw.Write(body); err != nil {
			return err
		}
		if err := e.zw.Close(); err != nil {
			return err
		}
		body = e.zbuf.Bytes()
	}
	err := e.post(ctx, body)
	if cap(e.buf) > maxKeptBuffer {
		e.buf = nil
	}
	return err
}

func (e *httpExporter) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range e.t.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "wings-otlp-exporter")
	if e.t.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("otlp: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-protobuf") {
		if n, text := partialSuccess(msg); n > 0 || text != "" {
			return fmt.Errorf("otlp: collector rejected %d spans: %s", n, text)
		}
	}
	return nil
}

// partialSuccess reads an ExportTraceServiceResponse's partial_success
// (field 1: rejected_spans 1, error_message 2); zero values when absent or
// unreadable.
func partialSuccess(b []byte) (rejected int64, msg string) {
	ps, ok := field(b, 1)
	if !ok {
		return 0, ""
	}
	for len(ps) > 0 {
		num, typ, n := protowire.ConsumeTag(ps)
		if n < 0 {
			return rejected, msg
		}
		ps = ps[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(ps)
			if n < 0 {
				return rejected, msg
			}
			rejected, ps = int64(v), ps[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(ps)
			if n < 0 {
				return rejected, msg
			}
			msg, ps = v, ps[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, ps)
			if n < 0 {
				return rejected, msg
			}
			ps = ps[n:]
		}
	}
	return rejected, msg
}

// field returns the last length-delimited field num of message b.
func field(b []byte, num protowire.Number) (v []byte, ok bool) {
	for len(b) > 0 {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return nil, false
		}
		b = b[k:]
		if n == num && typ == protowire.BytesType {
			x, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return nil, false
			}
			v, ok, b = x, true, b[k:]
			continue
		}
		k = protowire.ConsumeFieldValue(n, typ, b)
		if k < 0 {
			return nil, false
		}
		b = b[k:]
	}
	return v, ok
}

func (e *httpExporter) Shutdown(ctx context.Context) error {
	if e.stopped.Swap(true) {
		return nil
	}
	e.mu.Lock() // wait for a batch being sent
	defer e.mu.Unlock()
	e.client.CloseIdleConnections()
	return ctx.Err()
}

var errStopped = errors.New("otlp: exporter stopped")
