package dao_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/upstream"
)

// team serves testdata/<file> for every request and records the request
// URI it got.
func team(t *testing.T, name, file string) (*upstream.Client, <-chan string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- r.URL.RequestURI():
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(ts.Close)
	c := upstream.New(name, config.Upstream{BaseURL: ts.URL, Timeout: 2 * time.Second, MaxIdleConns: 2},
		metrics.New("test", ""), logging.Discard())
	t.Cleanup(c.Close)
	return c, seen
}

func wantKind(t *testing.T, err error, kind apperr.Kind, inMsg string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != kind {
		t.Fatalf("err = %v; want kind %s", err, kind)
	}
	if !strings.Contains(err.Error(), inMsg) {
		t.Errorf("err = %v; want it to contain %q", err, inMsg)
	}
}

func TestVideoInfo(t *testing.T) {
	t.Parallel()
	c, seen := team(t, "video", "video_ok.json")
	data, err := dao.NewVideoDAO(c).VideoInfo(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if uri := <-seen; uri != "/video/info?id=42" {
		t.Errorf("requested %s; want /video/info?id=42", uri)
	}
	var video struct {
		VideoName string      `json:"videoName"`
		QipuID    json.Number `json:"qipuId"`
		AlbumID   json.Number `json:"albumId"`
		BigID     json.Number `json:"bigId"`
	}
	if err := json.Unmarshal(data, &video); err != nil {
		t.Fatal(err)
	}
	if video.VideoName != "Video 42" || video.QipuID != "42" || video.AlbumID != "1042" {
		t.Errorf("data = %s", data)
	}
	if video.BigID != "9007199254740993" {
		t.Errorf("bigId = %q; want it exact (the payload stays raw)", video.BigID)
	}
}

func TestVideoInfoErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		kind  apperr.Kind
		inMsg string
	}{
		{"video_not_found.json", apperr.KindNotFound, "video 42 not found"},
		{"video_error.json", apperr.KindUpstream, `code "A00001": system busy`},
		{"video_no_data.json", apperr.KindUpstream, "no data"},
		{"album_ok.json", apperr.KindUpstream, `code ""`}, // another team's shape
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			c, _ := team(t, "video", tc.file)
			_, err := dao.NewVideoDAO(c).VideoInfo(context.Background(), 42)
			wantKind(t, err, tc.kind, tc.inMsg)
			if tc.kind == apperr.KindUpstream {
				var ae *apperr.Error
				if errors.As(err, &ae); ae.Upstream != "video" {
					t.Errorf("upstream = %q; want video", ae.Upstream)
				}
			}
		})
	}
}

func TestAlbum(t *testing.T) {
	t.Parallel()
	c, seen := team(t, "album", "album_ok.json")
	data, err := dao.NewAlbumDAO(c).Album(context.Background(), 1042)
	if err != nil {
		t.Fatal(err)
	}
	if uri := <-seen; uri != "/album/1042" {
		t.Errorf("requested %s; want /album/1042", uri)
	}
	var album map[string]any
	if err := json.Unmarshal(data, &album); err != nil {
		t.Fatal(err)
	}
	cover, _ := album["cover"].(map[string]any)
	if album["album_title"] != "Album 1042" || cover["url"] != "https://img.example/a/1042.jpg" {
		t.Errorf("data = %v", data)
	}
}

func TestAlbumErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		inMsg string
	}{
		{"album_status.json", "/album: status 3"},
		{"album_no_status.json", "/album: no status"},
		{"video_ok.json", "/album: no status"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			c, _ := team(t, "album", tc.file)
			_, err := dao.NewAlbumDAO(c).Album(context.Background(), 1042)
			wantKind(t, err, apperr.KindUpstream, tc.inMsg)
		})
	}
}

func TestStarsOfVideo(t *testing.T) {
	t.Parallel()
	c, seen := team(t, "star", "stars_ok.json")
	items, err := dao.NewStarDAO(c).StarsOfVideo(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if uri := <-seen; uri != "/stars?video_id=42" {
		t.Errorf("requested %s; want /stars?video_id=42", uri)
	}
	if len(items) != 2 {
		t.Fatalf("items = %v; want 2", items)
	}
	var first struct {
		Name   string      `json:"name"`
		StarID json.Number `json:"starId"`
	}
	if err := json.Unmarshal(items[0], &first); err != nil || first.Name != "Star 43" || first.StarID != "43" {
		t.Errorf("first item = %v", items[0])
	}
}

func TestStarsNotOK(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"stars_not_ok.json", "album_ok.json"} {
		c, _ := team(t, "star", file)
		_, err := dao.NewStarDAO(c).StarsOfVideo(context.Background(), 42)
		wantKind(t, err, apperr.KindUpstream, "/stars: ok=false")
	}
}
