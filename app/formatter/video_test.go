package formatter_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wings-bff/wings/app/formatter"
	"github.com/wings-bff/wings/app/mockupstream"
	"github.com/wings-bff/wings/app/model"
)

func TestVideoFormatter(t *testing.T) {
	f := formatter.NewVideoFormatter()
	v, albumID, err := f.Format(decode(t, mockupstream.VideoBody(42), "data"))
	want := model.Video{ID: 42, Title: "Video 42", Duration: 2530, Cover: "https://img.example/v/42.jpg", PlayCount: v.PlayCount}
	if err != nil || !reflect.DeepEqual(v, want) || albumID != mockupstream.AlbumID(42) || v.PlayCount == 0 {
		t.Fatalf("got %+v, album %d, %v; want %+v, album %d", v, albumID, err, want, mockupstream.AlbumID(42))
	}
	for _, tc := range []struct {
		raw     string
		albumID int64
		err     string
	}{
		{`{"qipuId":1,"albumId":"7"}`, 7, ""},
		{`{"qipuId":1,"albumId":7,"albumId":8}`, 8, ""},
		{`{"qipuId":1}`, 0, "albumId: missing"},
		{`{"qipuId":1,"albumId":"x"}`, 0, "albumId"},
		{`{"qipuId":{},"albumId":7}`, 0, "id"},
	} {
		_, got, err := f.Format([]byte(tc.raw))
		if got != tc.albumID || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Format(%s) = album %d, %v; want %d, error containing %q", tc.raw, got, err, tc.albumID, tc.err)
		}
	}
}
