package controller_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/wings-bff/wings/app/controller"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/testkit/apptest"
	"github.com/wings-bff/wings/framework/wings"
)

// fakeDetailer answers a fixed video, or err, and records the id asked.
type fakeDetailer struct {
	err   error
	meta  render.Meta
	asked atomic.Int64
	calls atomic.Int64
}

func (f *fakeDetailer) Detail(_ context.Context, id int64) (*model.Video, render.Meta, error) {
	f.calls.Add(1)
	f.asked.Store(id)
	if f.err != nil {
		return nil, render.Meta{}, f.err
	}
	return &model.Video{
		ID: id, Title: "Video " + strconv.FormatInt(id, 10), Duration: 2530,
		Album: &model.Album{ID: 1042, Title: "Album 1042", Episodes: 40},
		Stars: []model.Star{},
	}, f.meta, nil
}

// start runs the controller's route on the real framework stack.
func start(t *testing.T, svc controller.VideoDetailer) *apptest.App {
	t.Helper()
	return apptest.Start(t, func(*wings.Runtime) ([]wings.Route, error) {
		return []wings.Route{{Method: http.MethodGet, Path: "/api/video/:id", Name: "video_detail",
			Handler: controller.NewVideoController(svc).Get}}, nil
	})
}

func TestGetAnswersEnvelope(t *testing.T) {
	t.Parallel()
	f := &fakeDetailer{}
	start(t, f).Get(t, "/api/video/42").OK(t).Is(t, 200, `{"code":0,"data":{"id":42,"title":"Video 42","duration":2530,"cover":"","playCount":0,`+
		`"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":""},"stars":[]}}`)
	if f.asked.Load() != 42 {
		t.Errorf("service asked for %d; want 42", f.asked.Load())
	}
}

func TestGetDegradedMeta(t *testing.T) {
	t.Parallel()
	start(t, &fakeDetailer{meta: render.Meta{Degraded: []string{"stars"}}}).Get(t, "/api/video/7?fields=id").
		Degraded(t, "stars").Is(t, 200, `{"code":0,"data":{"id":7},"degraded":["stars"]}`)
}

func TestGetBadID(t *testing.T) {
	t.Parallel()
	f := &fakeDetailer{}
	a := start(t, f)
	for _, id := range []string{"abc", "0", "-1", "1.5", "1e3", "0x10", "9223372036854775808", "%20"} {
		a.Get(t, "/api/video/"+id).Error(t, 400, "bad_param").Contains(t, 400, `"msg":"id: must be a positive integer`)
	}
	if f.calls.Load() != 0 {
		t.Errorf("service called %d times for bad ids", f.calls.Load())
	}
}

func TestGetServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		kind   string
	}{
		{apperr.NotFound("video 42 not found"), 404, "not_found"},
		{apperr.Upstream("album", errors.New("status 500")), 502, "upstream_error"},
		{apperr.Upstream("video", context.DeadlineExceeded), 504, "upstream_timeout"},
		{errors.New("bug"), 500, "internal"},
	}
	for _, tc := range tests {
		start(t, &fakeDetailer{err: tc.err}).Get(t, "/api/video/42").Error(t, tc.status, tc.kind)
	}
}

func TestPositiveID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		msg  string
	}{
		{"1", 1, ""},
		{"42", 42, ""},
		{"9223372036854775807", 9223372036854775807, ""},
		{"0", 0, `id: must be a positive integer, got "0"`},
		{"", 0, `id: must be a positive integer, got ""`},
		{"x", 0, `id: must be a positive integer, got "x"`},
		{strings.Repeat("9", 40), 0, `id: must be a positive integer, got "` + strings.Repeat("9", 32) + `..."`},
	}
	for _, tc := range tests {
		got, err := controller.PositiveID(tc.in)
		if tc.msg == "" {
			if err != nil || got != tc.want {
				t.Errorf("PositiveID(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			continue
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindBadParam || ae.Message != tc.msg {
			t.Errorf("PositiveID(%q) = %d, %v; want bad_param %q", tc.in, got, err, tc.msg)
		}
	}
}

// FuzzPositiveID checks that every input gives a positive id that prints
// back to a number equal to it, or a short bad_param error with valid UTF-8
// in its message.
func FuzzPositiveID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "+7", "007", "abc", "9223372036854775808", "回调回调回调回调回调回调回调回调回调回调回调"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := controller.PositiveID(s)
		if err == nil {
			if id <= 0 {
				t.Fatalf("PositiveID(%q) = %d", s, id)
			}
			if n, perr := strconv.ParseInt(s, 10, 64); perr != nil || n != id {
				t.Fatalf("PositiveID(%q) = %d; ParseInt says %d, %v", s, id, n, perr)
			}
			return
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindBadParam {
			t.Fatalf("PositiveID(%q) error %v is not bad_param", s, err)
		}
		if len(ae.Message) > 200 {
			t.Fatalf("message of %d bytes for a %d-byte input", len(ae.Message), len(s))
		}
		if !utf8.ValidString(ae.Message) {
			t.Fatalf("message %q is not valid UTF-8", ae.Message)
		}
	})
}
