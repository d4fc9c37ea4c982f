package service

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/wings-bff/wings/framework/apperr"
)

type fakeVideos struct{ err error }

func (f fakeVideos) VideoInfo(_ context.Context, id int64) (json.RawMessage, error) {
	if f.err != nil {
		return nil, f.err
	}
	return jsonOf(map[string]any{"qipuId": id, "videoName": "V", "duration": "00:01:00", "albumId": int64(7), "posterUrl": "p", "playCount": "3"}), nil
}

func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // static test data
	}
	return b
}

type fakeAlbums struct{ err error }

func (f fakeAlbums) Album(_ context.Context, id int64) (json.RawMessage, error) {
	if f.err != nil {
		return nil, f.err
	}
	return jsonOf(map[string]any{"albumId": id, "name": "A", "episodeCount": 3, "image": map[string]any{"url": "u"}}), nil
}

type fakeStars struct{ err error }

func (f fakeStars) StarsOfVideo(context.Context, int64) ([]json.RawMessage, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []json.RawMessage{jsonOf(map[string]any{"starId": 1, "starName": "S", "avatar": "a"})}, nil
}

func TestDetailSources(t *testing.T) {
	t.Parallel()
	down := apperr.Upstream("x", errors.New("connection refused"))
	cases := []struct {
		name         string
		video, album error
		stars        error
		wantKind     string
		wantDegraded []string
		wantStars    int
	}{
		{"all healthy", nil, nil, nil, "", nil, 1},
		{"stars down degrade", nil, nil, down, "", []string{"stars"}, 0},
		{"album down fails", nil, down, nil, "upstream_error", nil, 0},
		{"video down fails", down, nil, nil, "upstream_error", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewVideoService(fakeVideos{tc.video}, fakeAlbums{tc.album}, fakeStars{tc.stars})
			v, meta, err := s.Detail(context.Background(), 42)
			if tc.wantKind != "" {
				if got := apperr.KindOf(err).String(); err == nil || got != tc.wantKind {
					t.Fatalf("err = %v; want %s", err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(meta.Degraded, tc.wantDegraded) {
				t.Errorf("degraded = %v; want %v", meta.Degraded, tc.wantDegraded)
			}
			if v.Stars == nil || len(v.Stars) != tc.wantStars {
				t.Errorf("stars = %#v; want %d (never null)", v.Stars, tc.wantStars)
			}
			if v.Album == nil {
				t.Error("no album")
			}
		})
	}
}
