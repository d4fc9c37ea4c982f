package upstream

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The envelope shapes the daos use, and more kinds of fields.
type envA struct {
	Code string          `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

type envB struct {
	Status *int            `json:"status"`
	Result json.RawMessage `json:"result"`
}

type envC struct {
	OK    bool              `json:"ok"`
	Items []json.RawMessage `json:"items"`
}

type envWide struct {
	I8   int8
	U16  uint16 `json:"u16"`
	F    float64
	F32  *float32 `json:"f32,omitempty"`
	S    *string
	Skip string `json:"-"`
	//lint:ignore SA5008 the member named "-" is what this field tests
	Dash string `json:"-,"`
	//lint:ignore U1000 unexported fields must be left alone; this one tests that
	hidden string
}

// decodeBoth decodes body with encoding/json and with decodeFast into fresh
// values of T, and fails when the results or the error/no-error outcome
// differ. body must be valid JSON.
func decodeBoth[T any](t *testing.T, pc *planCache, body []byte) {
	t.Helper()
	var want T
	wantErr := json.Unmarshal(body, &want)
	for _, alias := range []bool{false, true} {
		var got T
		ok, gotErr := decodeFast(pc, body, &got, alias)
		if !ok {
			t.Fatalf("%T: not handled by the fast decoder", got)
		}
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%s into %T (alias %v): encoding/json error %v, fast error %v", body, got, alias, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%s into %T (alias %v):\nencoding/json %#v\nfast          %#v", body, got, alias, want, got)
		}
	}
}

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	var pc planCache
	for _, body := range []string{
		`{"code":"A00000","msg":"","data":{"qipuId":1,"videoName":"V \"1\""}}`,
		`{"code":"A00004","msg":"not found"}`,
		`{"data":null,"code":"x"}`,
		`{"CODE":"upper","code":"exact"}`,
		`{"code":"exact","Code":"later case-insensitive match wins as the last duplicate"}`,
		`{"code":"\u00e9\ud83d\ude00 escaped","data":[1, 2 ,{"a":[]}] }`,
		`{"code":1}`,
		`{"data":"s"}`,
		`null`,
		`[]`,
		` { } `,
		`{"c\u006fde":"escaped key"}`,
		"{\"code\":\"bad \xff utf8\"}",
	} {
		decodeBoth[envA](t, &pc, []byte(body))
	}
	for _, body := range []string{
		`{"status":0,"result":{"album_id":1}}`,
		`{"status":null,"result":null}`,
		`{"status":7}`,
		`{"status":1.5}`,
		`{"status":99999999999999999999}`,
		`{"status":"0"}`,
		`{}`,
	} {
		decodeBoth[envB](t, &pc, []byte(body))
	}
	for _, body := range []string{
		`{"ok":true,"items":[{"starId":1},{"starId":2}]}`,
		`{"ok":false,"items":[]}`,
		`{"ok":true,"items":null}`,
		`{"ok":true,"items":[null, "s", 1e3, [ ]]}`,
		`{"ok":"yes"}`,
		`{"items":{}}`,
	} {
		decodeBoth[envC](t, &pc, []byte(body))
	}
	for _, body := range []string{
		`{"I8":127,"u16":65535,"F":-1.5e-3,"f32":3.5,"S":"s","Skip":"no","-":"dash","hidden":"x"}`,
		`{"I8":128}`,
		`{"u16":-1}`,
		`{"F":"1"}`,
		`{"S":null,"f32":null}`,
		`{"i8":-128,"U16":1}`,
	} {
		decodeBoth[envWide](t, &pc, []byte(body))
	}
}

// Shapes outside the plan are left to encoding/json.
func TestDecodeFastDeclines(t *testing.T) {
	var pc planCache
	type nested struct {
		Data struct{ A int } `json:"data"`
	}
	type embedded struct {
		envA
		Extra string
	}
	type stringOpt struct {
		N int `json:"n,string"`
	}
	for _, out := range []any{&map[string]any{}, &[]any{}, &nested{}, &embedded{}, &stringOpt{}, envA{}} {
		if ok, _ := decodeFast(&pc, []byte(`{"n":"1"}`), out, false); ok {
			t.Errorf("%T: handled, want encoding/json", out)
		}
	}
}

// RawMessage values must not alias the body: coalesced callers share it.
func TestDecodeFastCopiesPayload(t *testing.T) {
	var pc planCache
	body := []byte(`{"data":{"a":1},"items":[{"b":2}]}`)
	var a envA
	var c envC
	if _, err := decodeFast(&pc, body, &a, false); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFast(&pc, body, &c, false); err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if string(a.Data) != `{"a":1}` || string(c.Items[0]) != `{"b":2}` {
		t.Fatalf("payload changed with the body: %s %s", a.Data, c.Items[0])
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"code":"A00000","msg":"","data":{"x":[1,2]}}`,
		`{"status":0,"result":{}}`,
		`{"ok":true,"items":[{},{"a":"\u2028"}]}`,
		`{"I8":1,"u16":2,"F":3,"S":"s"}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	var pc planCache
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return // GetJSON validates every body before decoding it
		}
		decodeBoth[envA](t, &pc, body)
		decodeBoth[envB](t, &pc, body)
		decodeBoth[envC](t, &pc, body)
		decodeBoth[envWide](t, &pc, body)
	})
}

func BenchmarkEnvelopeDecode(b *testing.B) {
	body := []byte(`{"code":"A00000","msg":"ok","data":{"qipuId":42,"videoName":"Video 42","duration":"00:42:10",` +
		`"imageUrl":"https://img.example/v/42.jpg","playCount":123456,"albumId":7,"categories":["a","b","c"],` +
		`"f1":"x","f2":1,"f3":true,"f4":null,"f5":[1,2,3],"f6":{"a":{"b":"c"}},"f7":"yyyyyyyyyyyyyyyyyyyyyyyyyyy"}}`)
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r envA
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		var pc planCache
		b.ReportAllocs()
		for b.Loop() {
			var r envA
			if _, err := decodeFast(&pc, body, &r, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
