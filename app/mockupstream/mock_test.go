package mockupstream_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/mockupstream"
)

func start(t *testing.T, s *mockupstream.Server) string {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

func call(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestBodiesAreDeterministicAndMatchTheContract(t *testing.T) {
	t.Parallel()
	if !bytes.Equal(mockupstream.VideoBody(42), mockupstream.VideoBody(42)) {
		t.Error("VideoBody differs between calls")
	}
	var a struct {
		Code string         `json:"code"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(mockupstream.VideoBody(42), &a); err != nil {
		t.Fatal(err)
	}
	d := a.Data
	if a.Code != "A00000" || d["qipuId"] != 42.0 || d["videoName"] != "Video 42" || d["duration"] != "00:42:10" ||
		d["imageUrl"] != "https://img.example/v/42.jpg" || d["albumId"] != float64(mockupstream.AlbumID(42)) ||
		d["playCount"] != float64(mockupstream.PlayCount(42)) {
		t.Errorf("team A data = %v", d)
	}
	if _, ok := d["categories"].([]any); !ok {
		t.Error("team A data has no categories list")
	}
	if len(d) < 37 {
		t.Errorf("team A data has %d fields; want the 7 used and 30 more to drop", len(d))
	}
	// Keys come in a stable order, like a real team's answer.
	if !strings.HasPrefix(string(mockupstream.VideoBody(7)), `{"code":"A00000","data":{"qipuId":7,"videoName":"Video 7"`) {
		t.Errorf("VideoBody(7) = %.80s", mockupstream.VideoBody(7))
	}

	var b struct {
		Status *int           `json:"status"`
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(mockupstream.AlbumBody(1042), &b); err != nil {
		t.Fatal(err)
	}
	cover, _ := b.Result["cover"].(map[string]any)
	if b.Status == nil || *b.Status != 0 || b.Result["album_id"] != 1042.0 || b.Result["album_title"] != "Album 1042" ||
		b.Result["episode_total"] != 40.0 || cover["url"] != "https://img.example/a/1042.jpg" || cover["w"] != 300.0 || cover["h"] != 400.0 {
		t.Errorf("team B = %s", mockupstream.AlbumBody(1042))
	}

	var c struct {
		OK    bool             `json:"ok"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(mockupstream.StarsBody(42), &c); err != nil {
		t.Fatal(err)
	}
	ids := mockupstream.StarIDs(42)
	if !c.OK || len(c.Items) != len(ids) {
		t.Fatalf("team C = %s", mockupstream.StarsBody(42))
	}
	for i, it := range c.Items {
		sid := ids[i]
		if it["starId"] != float64(sid) || it["name"] != fmt.Sprintf("Star %d", sid) || it["avatar"] != fmt.Sprintf("https://img.example/s/%d.jpg", sid) {
			t.Errorf("star %d = %v", i, it)
		}
	}
}

func TestServesTeams(t *testing.T) {
	t.Parallel()
	s := mockupstream.New(nil, []int64{404})
	base := start(t, s)
	tests := []struct {
		path   string
		status int
		body   []byte
	}{
		{"/video/info?id=42", 200, mockupstream.VideoBody(42)},
		{"/video/info?id=42", 200, mockupstream.VideoBody(42)}, // cached, same bytes
		{"/video/info?id=404", 200, []byte(`{"code":"A00004","msg":"not found"}`)},
		{"/album/1042", 200, mockupstream.AlbumBody(1042)},
		{"/stars?video_id=42", 200, mockupstream.StarsBody(42)},
		{"/video/info?id=x", 400, nil},
		{"/video/info", 400, nil},
		{"/album/0", 400, nil},
		{"/stars?video_id=-3", 400, nil},
	}
	for _, tc := range tests {
		status, body := call(t, http.MethodGet, base+tc.path, "")
		if status != tc.status || (tc.body != nil && !bytes.Equal(body, tc.body)) {
			t.Errorf("GET %s = %d %.80s; want %d %.80s", tc.path, status, body, tc.status, tc.body)
		}
	}
	if s.Calls("video") != 5 || s.Calls("album") != 2 || s.Calls("star") != 2 {
		t.Errorf("calls = %d %d %d; want 5 2 2", s.Calls("video"), s.Calls("album"), s.Calls("star"))
	}
	status, body := call(t, http.MethodGet, base+"/_mock/stats", "")
	var stats map[string]int64
	if err := json.Unmarshal(body, &stats); status != 200 || err != nil || !reflect.DeepEqual(stats, map[string]int64{"video": 5, "album": 2, "star": 2}) {
		t.Errorf("stats = %d %s", status, body)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := mockupstream.New(map[string]mockupstream.Faults{"star": {MalformedRate: 1}}, nil)
	base := start(t, s)
	if _, body := call(t, http.MethodGet, base+"/stars?video_id=1", ""); json.Valid(body) {
		t.Errorf("malformed_rate=1 answered valid JSON %s", body)
	}

	status, body := call(t, http.MethodPost, base+"/_mock/faults", `{"album":{"error_rate":1,"latency":"1ms"}}`)
	if status != 200 {
		t.Fatalf("set faults: %d %s", status, body)
	}
	if status, _ := call(t, http.MethodGet, base+"/album/1", ""); status != 500 {
		t.Errorf("album with error_rate=1 answered %d; want 500", status)
	}
	if status, _ := call(t, http.MethodGet, base+"/video/info?id=1", ""); status != 200 {
		t.Errorf("video without faults answered %d", status)
	}
	_, body = call(t, http.MethodGet, base+"/_mock/faults", "")
	var faults map[string]mockupstream.Faults
	if err := json.Unmarshal(body, &faults); err != nil {
		t.Fatal(err)
	}
	want := map[string]mockupstream.Faults{
		"video": {}, "album": {ErrorRate: 1, Latency: mockupstream.Duration(time.Millisecond)}, "star": {MalformedRate: 1},
	}
	if !reflect.DeepEqual(faults, want) {
		t.Errorf("faults = %+v; want %+v (teams not named keep theirs)", faults, want)
	}

	if _, body := call(t, http.MethodPost, base+"/_mock/faults", `{"video":{"wrong_schema_rate":1}}`); !bytes.Contains(body, []byte(`"wrong_schema_rate":1`)) {
		t.Errorf("set faults answered %s", body)
	}
	if _, body := call(t, http.MethodGet, base+"/video/info?id=1", ""); bytes.Contains(body, []byte("A00000")) || !json.Valid(body) {
		t.Errorf("wrong_schema_rate=1 answered %s", body)
	}

	// A bad request changes nothing, not even the teams it names rightly.
	for _, bad := range []string{`{"album":{"error_rate":0},"nope":{}}`, `{"album":`, `{"album":{"latency":"soon"}}`} {
		if status, body := call(t, http.MethodPost, base+"/_mock/faults", bad); status != 400 {
			t.Errorf("POST %s = %d %s; want 400", bad, status, body)
		}
	}
	if status, _ := call(t, http.MethodGet, base+"/album/1", ""); status != 500 {
		t.Errorf("a rejected fault update changed album (answered %d)", status)
	}

	if status, _ := call(t, http.MethodPost, base+"/_mock/reset", ""); status != 200 {
		t.Fatal("reset failed")
	}
	if s.Calls("album") != 0 || s.Calls("video") != 0 {
		t.Errorf("calls after reset = %d %d", s.Calls("album"), s.Calls("video"))
	}
	for _, p := range []string{"/album/1", "/video/info?id=1", "/stars?video_id=1"} {
		if status, body := call(t, http.MethodGet, base+p, ""); status != 200 || !json.Valid(body) {
			t.Errorf("after reset GET %s = %d %.60s", p, status, body)
		}
	}
}

func TestDown(t *testing.T) {
	t.Parallel()
	base := start(t, mockupstream.New(map[string]mockupstream.Faults{"video": {Down: true}}, nil))
	resp, err := http.Get(base + "/video/info?id=1")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("down team answered %d; want the connection closed", resp.StatusCode)
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	var d mockupstream.Duration
	for in, want := range map[string]time.Duration{`"150ms"`: 150 * time.Millisecond, `"2s"`: 2 * time.Second, `1000`: time.Microsecond} {
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Errorf("unmarshal %s = %s, %v; want %s", in, time.Duration(d), err, want)
		}
	}
	for _, bad := range []string{`"soon"`, `true`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s succeeded", bad)
		}
	}
	if b, _ := json.Marshal(mockupstream.Duration(1500 * time.Millisecond)); string(b) != `"1.5s"` {
		t.Errorf("marshal = %s", b)
	}
}

func TestParseIDs(t *testing.T) {
	t.Parallel()
	got, err := mockupstream.ParseIDs(" 404, 13,,")
	if err != nil || !reflect.DeepEqual(got, []int64{404, 13}) {
		t.Errorf("ParseIDs = %v, %v", got, err)
	}
	if got, err := mockupstream.ParseIDs(""); err != nil || len(got) != 0 {
		t.Errorf("ParseIDs(\"\") = %v, %v", got, err)
	}
	if _, err := mockupstream.ParseIDs("1,x"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("err = %v; want the bad id named", err)
	}
}
