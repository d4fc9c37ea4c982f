// Package upstream is the base every dao uses to call an upstream team's
// HTTP API: one resty client per named upstream, with its own timeout,
// keep-alive pool and headers; JSON decoding; every failure classified into
// an apperr kind; per-upstream metrics; the request id propagated.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
)

// Outcomes label wings_upstream_requests_total.
const (
	OutcomeOK        = "ok"
	OutcomeTimeout   = "timeout"
	OutcomeRefused   = "refused"
	OutcomeBadStatus = "bad_status"
	OutcomeBadJSON   = "bad_json"
	OutcomeNotFound  = "not_found"
	OutcomeCanceled  = "canceled"
	OutcomeError     = "error"
)

// RequestIDHeader carries the request id to upstreams.
const RequestIDHeader = "X-Request-Id"

// Client calls one named upstream.
type Client struct {
	name    string
	timeout time.Duration
	rc      *resty.Client
	m       *metrics.Registry
}

// New returns a client for the upstream name configured by cfg.
func New(name string, cfg config.Upstream, m *metrics.Registry, log *logrus.Logger) *Client {
	tr := &http.Transport{
		Proxy:               nil, // upstreams are internal; never route them through a proxy
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.MaxIdleConns,
		MaxIdleConnsPerHost: cfg.MaxIdleConns,
		IdleConnTimeout:     90 * time.Second,
	}
	rc := resty.New().
		SetTransport(tr).
		SetBaseURL(cfg.BaseURL).
		SetTimeout(cfg.Timeout + time.Second). // backstop only; the context deadline rules
		SetLogger(restyLogger{log.WithField("upstream", name)}).
		SetHeaders(cfg.Headers)
	return &Client{name: name, timeout: cfg.Timeout, rc: rc, m: m}
}

// Name returns the upstream's configured name.
func (c *Client) Name() string { return c.name }

// Timeout returns the per-call timeout.
func (c *Client) Timeout() time.Duration { return c.timeout }

// BaseURL returns the configured base URL.
func (c *Client) BaseURL() string { return c.rc.BaseURL }

// GetJSON calls GET path?query and decodes a 2xx JSON body into out. Errors
// are *apperr.Error: KindUpstreamTimeout for deadlines, KindNotFound for a
// 404, KindUpstream for everything else (refused, other non-2xx, bad JSON).
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := c.rc.R().SetContext(ctx)
	if len(query) > 0 {
		req.SetQueryParamsFromValues(query)
	}
	if id := logging.RequestID(ctx); id != "" {
		req.SetHeader(RequestIDHeader, id)
	}
	start := time.Now()
	resp, err := req.Get(path)
	c.m.UpstreamDuration.WithLabelValues(c.name).Observe(time.Since(start).Seconds())
	outcome, err := c.classify(ctx, path, resp, err, out)
	c.m.UpstreamRequests.WithLabelValues(c.name, outcome).Inc()
	return err
}

func (c *Client) classify(ctx context.Context, path string, resp *resty.Response, err error, out any) (string, error) {
	if err != nil {
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return OutcomeCanceled, apperr.Upstream(c.name, fmt.Errorf("GET %s: canceled: %w", path, err))
		case apperr.IsTimeout(err):
			return OutcomeTimeout, apperr.Upstream(c.name, fmt.Errorf("GET %s: %w", path, err))
		case errors.Is(err, syscall.ECONNREFUSED):
			return OutcomeRefused, apperr.Upstream(c.name, fmt.Errorf("GET %s: connection refused: %w", path, err))
		default:
			return OutcomeError, apperr.Upstream(c.name, fmt.Errorf("GET %s: %w", path, err))
		}
	}
	status := resp.StatusCode()
	switch {
	case status == http.StatusNotFound:
		e := apperr.NotFound("not found")
		e.Upstream, e.Err = c.name, fmt.Errorf("GET %s: upstream %s answered 404", path, c.name)
		return OutcomeNotFound, e
	case status < 200 || status > 299:
		return OutcomeBadStatus, apperr.Upstream(c.name, fmt.Errorf("GET %s: status %d", path, status))
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(resp.Body()))
		dec.UseNumber() // ids beyond 2^53 survive decoding into map[string]any
		if err := dec.Decode(out); err != nil {
			return OutcomeBadJSON, apperr.Upstream(c.name, fmt.Errorf("GET %s: bad JSON: %w", path, err))
		}
	}
	return OutcomeOK, nil
}

// Schema reports that an upstream answered 2xx JSON that breaks its
// contract (a missing field, an unknown status code). Daos call it after
// checking the decoded body.
func Schema(name, format string, args ...any) error {
	return apperr.Upstream(name, fmt.Errorf("schema: "+format, args...))
}

type restyLogger struct{ e *logrus.Entry }

func (l restyLogger) Errorf(format string, v ...any) { l.e.Errorf(format, v...) }
func (l restyLogger) Warnf(format string, v ...any)  { l.e.Warnf(format, v...) }
func (l restyLogger) Debugf(format string, v ...any) { l.e.Debugf(format, v...) }

// Close releases idle keep-alive connections.
func (c *Client) Close() { c.rc.GetClient().CloseIdleConnections() }
