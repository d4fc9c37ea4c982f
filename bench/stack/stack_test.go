// Package stack measures the libraries under the framework's upstream path
// on one team A call, to explain the end-to-end gap between Wings and the
// hand-written aggregator: resty versus plain net/http for the same GET,
// and decoding into map[string]any (what daos hand to formatters) versus
// into a typed struct (what the hand-written aggregator does).
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-resty/resty/v2"

	"github.com/wings-bff/wings/app/mockupstream"
)

func teamA(b *testing.B) *httptest.Server {
	b.Helper()
	body := mockupstream.VideoBody(42)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkGetResty is one GET through resty, configured as
// framework/upstream configures it (base URL, query params, a header).
func BenchmarkGetResty(b *testing.B) {
	srv := teamA(b)
	rc := resty.New().SetCookieJar(nil).SetBaseURL(srv.URL)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rc.R().SetContext(ctx).SetQueryParam("id", "42").SetHeader("X-Request-Id", "abc-1").Get("/video/info")
		if err != nil || resp.StatusCode() != http.StatusOK || len(resp.Body()) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetNetHTTP is the same GET with net/http alone.
func BenchmarkGetNetHTTP(b *testing.B) {
	srv := teamA(b)
	c := &http.Client{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/video/info?id=42", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("X-Request-Id", "abc-1")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(body) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMap decodes team A's body the way framework/upstream and
// app/dao do: json.Valid, then a UseNumber decoder into a struct whose data
// is a map[string]any (37 keys, 30 of which the BFF drops).
func BenchmarkDecodeMap(b *testing.B) {
	body := mockupstream.VideoBody(42)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r struct {
			Code string         `json:"code"`
			Data map[string]any `json:"data"`
		}
		if !json.Valid(body) {
			b.Fatal("invalid")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil || len(r.Data) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTyped decodes the same body into the typed struct of the
// hand-written aggregator, which skips the fields it does not name.
func BenchmarkDecodeTyped(b *testing.B) {
	body := mockupstream.VideoBody(42)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r struct {
			Code string `json:"code"`
			Data *struct {
				QipuID    int64  `json:"qipuId"`
				VideoName string `json:"videoName"`
				Duration  string `json:"duration"`
				ImageURL  string `json:"imageUrl"`
				PlayCount int64  `json:"playCount"`
				AlbumID   int64  `json:"albumId"`
			} `json:"data"`
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&r); err != nil || r.Data == nil {
			b.Fatal(err)
		}
	}
}
