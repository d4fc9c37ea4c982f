package mapping

import (
	"encoding/json"
	"reflect"
	"testing"
)

type directModel struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Secs  int    `json:"secs"`
	Cover string `json:"cover"`
	Deep  int64  `json:"deep"`
}

func directMapper(t testing.TB) *Mapper[directModel] {
	m := New[directModel](Fields{"id": "qipuId", "title": "name", "secs": "duration", "cover": "img.url", "deep": "img.meta.n"})
	if m.direct == nil {
		t.Fatal("no direct plan for a model of strings and integers")
	}
	return m
}

// general is MapJSON without the direct path.
func general[T any](m *Mapper[T], raw []byte) (T, error) {
	obj, err := decodeSelected(raw, m.sel)
	if err != nil {
		var zero T
		return zero, err
	}
	return m.Map(obj)
}

// compareDirect fails when MapJSON (direct path first) and the general
// path disagree on raw: same value, or both an error.
func compareDirect(t *testing.T, m *Mapper[directModel], raw []byte) {
	t.Helper()
	got, gerr := m.MapJSON(raw)
	want, werr := general(m, raw)
	if (gerr == nil) != (werr == nil) || gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("MapJSON(%s) = %+v, %v; general path %+v, %v", raw, got, gerr, want, werr)
	}
}

func TestMapJSONDirectMatchesGeneral(t *testing.T) {
	m := directMapper(t)
	for _, raw := range []string{
		`{"qipuId":42,"name":"Video 42","duration":"00:42:10","img":{"url":"https://i/42.jpg","meta":{"n":"7"}},"x":[1,{"y":2}]}`,
		`{"qipuId":"42","name":42,"duration":2530}`,
		`{"qipuId":1.5}`, `{"qipuId":null}`, `{"qipuId":true}`, `{"name":{"a":1}}`, `{"img":"flat"}`, `{"img":null}`,
		`{"name":"esc\"aped \u00e9"}`, `{"n\u0061me":"escaped key"}`, `{"qipuId":1,"qipuId":null}`, `{"qipuId":null,"qipuId":3}`,
		`{"duration":"75:00"}`, `{"duration":" 12 "}`, `{"duration":"1:2:3"}`, `{"qipuId":99999999999999999999}`,
		`{}`, `[]`, `"s"`, `{"img":{"meta":{"n":-3}}}`,
	} {
		compareDirect(t, m, []byte(raw))
	}
}

// Models with a field mapstructure must set, or overlapping paths, have no
// direct plan.
func TestNoDirectPlan(t *testing.T) {
	type withFloat struct {
		F float64 `json:"f"`
	}
	if New[withFloat](nil).direct != nil {
		t.Error("float field: want no direct plan")
	}
	type two struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	if New[two](Fields{"a": "x", "b": "x.y"}).direct != nil {
		t.Error("overlapping paths: want no direct plan")
	}
}

func FuzzMapJSONDirect(f *testing.F) {
	for _, s := range []string{
		`{"qipuId":42,"name":"V","duration":"00:42:10","img":{"url":"u","meta":{"n":1}}}`,
		`{"qipuId":"7","name":null}`, `{"img":[1]}`, `{"duration":"1e3"}`,
	} {
		f.Add([]byte(s))
	}
	m := directMapper(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // upstream bodies are validated before formatters see them
		}
		compareDirect(t, m, raw)
	})
}

// twoCalls is what MapJSONInt stands for.
func twoCalls[T any](m *Mapper[T], raw []byte, key string) (T, int64, error) {
	v, err := m.MapJSON(raw)
	if err != nil {
		return v, 0, err
	}
	obj, err := DecodeObject(raw, key)
	if err != nil {
		return v, 0, err
	}
	n, err := Int(obj, key)
	return v, n, err
}

func compareMapJSONInt(t *testing.T, m *Mapper[directModel], raw []byte, key string) {
	t.Helper()
	got, gotN, gerr := m.MapJSONInt(raw, key)
	want, wantN, werr := twoCalls(m, raw, key)
	if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() ||
		!reflect.DeepEqual(got, want) || gotN != wantN {
		t.Fatalf("MapJSONInt(%s, %q) = %+v, %d, %v; MapJSON then Int: %+v, %d, %v", raw, key, got, gotN, gerr, want, wantN, werr)
	}
}

func TestMapJSONIntMatchesTwoCalls(t *testing.T) {
	m := directMapper(t)
	for _, raw := range []string{
		`{"qipuId":42,"name":"Video 42","duration":"00:42:10","albumId":7,"img":{"url":"u","meta":{"n":"7"}}}`,
		`{"albumId":"7"}`, `{"albumId":" 7 "}`, `{"albumId":-7}`, `{"albumId":7.0}`, `{"albumId":1e3}`,
		`{"albumId":"1e3"}`, `{"albumId":"x"}`, `{"albumId":null}`, `{"albumId":true}`, `{"albumId":{"a":1}}`,
		`{"albumId":[7]}`, `{"albumId":"\u0037"}`, `{"album\u0049d":7}`, `{"albumId":1,"albumId":2}`,
		`{"albumId":99999999999999999999}`, `{"albumId":01}`, `{"qipuId":1}`, `{"qipuId":null,"albumId":3}`,
		`{"name":{"a":1},"albumId":3}`, `{}`, `[]`, `"s"`, `{"albumId":7`, ``,
	} {
		compareMapJSONInt(t, m, []byte(raw), "albumId")
	}
	compareMapJSONInt(t, m, []byte(`{"img":{"meta":{"n":3}}}`), "img.meta.n")
	// The one-scan path is taken for the common answer.
	if got, n, err := m.MapJSONInt([]byte(`{"qipuId":42,"albumId":"7","x":[1]}`), "albumId"); err != nil || n != 7 || got.ID != 42 {
		t.Fatalf("got %+v, %d, %v", got, n, err)
	}
}

func FuzzMapJSONInt(f *testing.F) {
	for _, s := range []string{
		`{"qipuId":42,"name":"V","albumId":7,"img":{"url":"u","meta":{"n":1}}}`,
		`{"albumId":"7"}`, `{"albumId":1.5}`, `{"albumId":null,"albumId":"2"}`,
	} {
		f.Add([]byte(s))
	}
	m := directMapper(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // upstream bodies are validated before formatters see them
		}
		compareMapJSONInt(t, m, raw, "albumId")
	})
}
