package wings

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/render"
)

// The query parameters the framework reads itself. None of them changes
// what a handler computes: the callbacks and the fields filter are applied
// to each answer after the response cache, and the timestamp only defeats
// browser caches. Together they are NeutralParams.
const (
	// CallbackParam and AltCallbackParam ask for JSONP (CallbackParams).
	CallbackParam    = "callback"
	AltCallbackParam = "_callback"
	// TimestampParam is the cache buster JSONP clients add (jQuery's "_").
	TimestampParam = "_"
	// FieldsParam names the members an answer keeps (render.ParseFields).
	FieldsParam = "fields"
)

// CallbackParams are the query parameters that ask for JSONP, in order of
// precedence.
var CallbackParams = [...]string{CallbackParam, AltCallbackParam}

// NeutralParams are the query parameters that never change an answer: the
// response cache leaves them out of its keys even when a route declares
// them, and the JSONP and fields code reads them from every request.
var NeutralParams = [...]string{CallbackParam, AltCallbackParam, TimestampParam, FieldsParam}

// IsNeutralParam reports whether name is one of NeutralParams.
func IsNeutralParam(name string) bool {
	for _, p := range NeutralParams {
		if p == name {
			return true
		}
	}
	return false
}

// Callback returns the JSONP callback the request asks for, or "".
func Callback(c echo.Context) string {
	for _, p := range CallbackParams {
		if v := queryParam(c, p); v != "" {
			return v
		}
	}
	return ""
}

// queryParam is c.QueryParam(name) — the first value, pairs with a ';' in
// the key or a bad escape skipped, as url.ParseQuery does — read straight
// from the raw query: echo parses the whole query into a map on first use,
// and a cache hit asks only for the callback and the fields.
func queryParam(c echo.Context, name string) string {
	raw := c.Request().URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, value, _ := strings.Cut(pair, "=")
		if strings.Contains(key, ";") {
			continue
		}
		if strings.ContainsAny(key, "%+") {
			k, err := url.QueryUnescape(key)
			if err != nil {
				continue
			}
			key = k
		}
		if key != name {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			v, err := url.QueryUnescape(value)
			if err != nil {
				continue
			}
			value = v
		}
		return value
	}
	return ""
}

// callbackGuard rejects a malformed callback before any work is done.
func callbackGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if cb := Callback(c); cb != "" && !render.ValidCallback(cb) {
			return apperr.BadParam("callback: must match ^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$")
		}
		return next(c)
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf returns b's storage to the pool unless it grew too large to keep.
func putBuf(bp *[]byte, b []byte) {
	if cap(b) > 64<<10 {
		return
	}
	*bp = b[:0]
	bufPool.Put(bp)
}

// JSON answers data: in the envelope unless the route is Raw, reduced by
// the request's `fields`, as JSONP when it carries a callback.
func JSON(c echo.Context, data any) error {
	return JSONMeta(c, data, render.Meta{})
}

// JSONMeta is JSON with envelope members describing a partial answer.
func JSONMeta(c echo.Context, data any, meta render.Meta) error {
	e := encPool.Get().(*encoder)
	defer e.put()
	b, err := e.marshal(data)
	if err != nil {
		return apperr.Wrap(apperr.KindInternal, fmt.Errorf("marshal response: %w", err), "internal error")
	}
	return Data(c, b, meta) // Data copies what it keeps (render.Success, the sink)
}

// encoder is json.Marshal into a buffer kept between requests: Marshal
// returns a fresh copy of the whole answer each time.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// encPool holds encoders, like bufPool; an encoder holds no request state
// once put back.
var encPool = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf) // escapes HTML, as Marshal does
	return e
}}

// marshal returns json.Marshal(v), valid until put.
func (e *encoder) marshal(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	b := e.buf.Bytes()
	return b[:len(b)-1], nil // Encode ends the value with a newline; Marshal does not
}

func (e *encoder) put() {
	if e.buf.Cap() > 64<<10 {
		return // an unusually large answer: let its buffer go
	}
	encPool.Put(e)
}

// Data answers with data already marshalled to JSON (what the response
// cache stores): each request gets its own fields filter and callback.
func Data(c echo.Context, data []byte, meta render.Meta) error {
	if sink, ok := c.Get(keyDataSink).(DataSink); ok {
		c.Set(keyDataSink, nil) // once: the cache renders through Data too
		sink(data, meta)
	}
	fields, err := render.ParseFields(queryParam(c, FieldsParam))
	if err != nil {
		return apperr.BadParam("%s", err.Error())
	}
	if fields != nil {
		fp := getBuf()
		filtered, err := render.Filter((*fp)[:0], data, fields)
		if err != nil {
			return apperr.Wrap(apperr.KindInternal, err, "internal error")
		}
		defer putBuf(fp, filtered)
		data = filtered
	}
	if route := RouteOf(c); route != nil && route.Raw {
		return write(c, http.StatusOK, data)
	}
	bp := getBuf()
	body := render.Success((*bp)[:0], data, meta)
	defer putBuf(bp, body)
	return write(c, http.StatusOK, body)
}

const keyDataSink = "wings.datasink"

// DataSink receives the data (before fields and callback) and meta of the
// answer a handler makes through JSON or Data. It must copy data to keep it.
type DataSink func(data []byte, meta render.Meta)

// SetDataSink makes the next JSON/Data answer on c also go to sink; the
// response cache uses it to capture what to store.
func SetDataSink(c echo.Context, sink DataSink) { c.Set(keyDataSink, sink) }

// write sends body as JSON with status, or wrapped in the request's
// callback with status 200: a browser runs no script fetched with an error
// status, so a JSONP client learns the status from the envelope's code.
// Metrics and logs still count the real status (middleware.Status).
func write(c echo.Context, status int, body []byte) error {
	h := c.Response().Header()
	if cb := Callback(c); cb != "" && render.ValidCallback(cb) && c.Get(keyNoJSONP) == nil && !isPart(c) {
		vals := [2]string{"application/javascript; charset=utf-8", "nosniff"} // one allocation for both
		h[echo.HeaderContentType], h["X-Content-Type-Options"] = vals[0:1:1], vals[1:2:2]
		bp := getBuf()
		wrapped := render.JSONP((*bp)[:0], cb, body)
		defer putBuf(bp, wrapped)
		if status != http.StatusOK {
			c.Set(middleware.KeyStatus, status)
		}
		c.Response().WriteHeader(http.StatusOK)
		_, err := c.Response().Write(wrapped)
		return err
	}
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(body)
	return err
}

type partKey struct{}

// AsPart marks ctx as the context of one part of a merged request
// (framework/batch). The part carries the merged request's callback, so
// the JSONP guard of a login-required route judges it as the JSONP request
// it is part of; its answer is plain JSON with its real status, which the
// merged answer embeds.
func AsPart(ctx context.Context) context.Context { return context.WithValue(ctx, partKey{}, true) }

func isPart(c echo.Context) bool { return c.Request().Context().Value(partKey{}) != nil }
