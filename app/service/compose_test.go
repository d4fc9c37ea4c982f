package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/mockupstream"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/framework/apperr"
)

// payload returns a team body's member key, undecoded, as the daos do.
func payload(t *testing.T, body []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m[key]
}

// edit returns the object raw with member key set to v, or removed when v
// is nil.
func edit(t *testing.T, raw json.RawMessage, key string, v any) json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// teams are fakes of the three sources answering the mock teams' data.
type teams struct {
	t            *testing.T
	videoErr     error
	albumErr     error
	starErr      error
	videoData    json.RawMessage // replaces team A's data when set
	albumCalls   atomic.Int64
	albumAsked   atomic.Int64
	videoStarted chan struct{} // closed by VideoInfo when set
	starStarted  chan struct{} // closed by StarsOfVideo when set
}

// meet closes mine and waits for other, so two calls can prove they run at
// the same time.
func meet(ctx context.Context, mine, other chan struct{}) error {
	if mine == nil {
		return nil
	}
	close(mine)
	select {
	case <-other:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
		return errors.New("the other call never started: calls do not overlap")
	}
}

func (f *teams) VideoInfo(ctx context.Context, id int64) (json.RawMessage, error) {
	if err := meet(ctx, f.videoStarted, f.starStarted); err != nil {
		return nil, err
	}
	if f.videoErr != nil {
		return nil, f.videoErr
	}
	if f.videoData != nil {
		return f.videoData, nil
	}
	return payload(f.t, mockupstream.VideoBody(id), "data"), nil
}

func (f *teams) Album(_ context.Context, id int64) (json.RawMessage, error) {
	f.albumCalls.Add(1)
	f.albumAsked.Store(id)
	if f.albumErr != nil {
		return nil, f.albumErr
	}
	return payload(f.t, mockupstream.AlbumBody(id), "result"), nil
}

func (f *teams) StarsOfVideo(ctx context.Context, id int64) ([]json.RawMessage, error) {
	if err := meet(ctx, f.starStarted, f.videoStarted); err != nil {
		return nil, err
	}
	if f.starErr != nil {
		return nil, f.starErr
	}
	var items []json.RawMessage
	if err := json.Unmarshal(payload(f.t, mockupstream.StarsBody(id), "items"), &items); err != nil {
		return nil, err
	}
	return items, nil
}

func newService(f *teams) *service.VideoService { return service.NewVideoService(f, f, f) }

func TestDetailComposes(t *testing.T) {
	t.Parallel()
	f := &teams{t: t, videoStarted: make(chan struct{}), starStarted: make(chan struct{})}
	v, meta, err := newService(f).Detail(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	albumID := mockupstream.AlbumID(42)
	want := &model.Video{
		ID: 42, Title: "Video 42", Duration: 2530, Cover: "https://img.example/v/42.jpg",
		PlayCount: mockupstream.PlayCount(42),
		Album:     &model.Album{ID: albumID, Title: "Album 1042", Episodes: 40, Cover: "https://img.example/a/1042.jpg"},
	}
	for _, sid := range mockupstream.StarIDs(42) {
		want.Stars = append(want.Stars, model.Star{ID: sid, Name: "Star " + itoa(sid), Avatar: "https://img.example/s/" + itoa(sid) + ".jpg"})
	}
	if albumID != 1042 {
		t.Fatalf("mock album of 42 is %d; test data assumes 1042", albumID)
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got  %+v\nwant %+v", v, want)
	}
	if got := f.albumAsked.Load(); got != albumID {
		t.Errorf("album asked for %d; want the video's albumId %d", got, albumID)
	}
	if len(meta.Degraded) != 0 || len(meta.Stale) != 0 {
		t.Errorf("meta = %+v; want nothing degraded", meta)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestDetailErrors(t *testing.T) {
	t.Parallel()
	badDuration := edit(t, payload(t, mockupstream.VideoBody(42), "data"), "duration", "forever")
	noAlbumID := edit(t, payload(t, mockupstream.VideoBody(42), "data"), "albumId", nil)
	tests := []struct {
		name       string
		f          *teams
		kind       apperr.Kind
		albumCalls int64
	}{
		{"A not found", &teams{videoErr: apperr.NotFound("video 42 not found")}, apperr.KindNotFound, 0},
		{"A timeout", &teams{videoErr: apperr.Upstream("video", context.DeadlineExceeded)}, apperr.KindUpstreamTimeout, 0},
		{"A schema breaks the formatter", &teams{videoData: badDuration}, apperr.KindUpstream, 0},
		{"A without albumId", &teams{videoData: noAlbumID}, apperr.KindUpstream, 0},
		{"B fails", &teams{albumErr: apperr.Upstream("album", errors.New("status 500"))}, apperr.KindUpstream, 1},
		{"B not found", &teams{albumErr: apperr.NotFound("not found")}, apperr.KindNotFound, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f.t = t
			v, _, err := newService(tc.f).Detail(context.Background(), 42)
			if err == nil || apperr.KindOf(err) != tc.kind {
				t.Fatalf("Detail = %+v, %v; want kind %s", v, err, tc.kind)
			}
			if got := tc.f.albumCalls.Load(); got != tc.albumCalls {
				t.Errorf("album called %d times; want %d", got, tc.albumCalls)
			}
		})
	}
}

func TestDetailStarsDegrade(t *testing.T) {
	t.Parallel()
	f := &teams{t: t, starErr: apperr.Upstream("star", errors.New("refused"))}
	v, meta, err := newService(f).Detail(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if v.Stars == nil || len(v.Stars) != 0 || v.Album == nil || v.Title != "Video 42" {
		t.Errorf("video = %+v; want it whole with an empty star list", v)
	}
	if !reflect.DeepEqual(meta.Degraded, []string{"stars"}) {
		t.Errorf("degraded = %v; want [stars]", meta.Degraded)
	}
}
