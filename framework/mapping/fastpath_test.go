package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/go-viper/mapstructure/v2"
)

// hmsReference is the regular-expression definition ParseHMS implements.
var hmsReference = regexp.MustCompile(`^(?:(\d+):)?(\d{1,2}):(\d{2})$`)

func parseHMSReference(s string) (int64, bool) {
	m := hmsReference.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	var h int64
	if m[1] != "" {
		var err error
		if h, err = strconv.ParseInt(m[1], 10, 64); err != nil || h > math.MaxInt64/3600-1 {
			return 0, false // seconds would overflow int64
		}
	}
	mi, _ := strconv.ParseInt(m[2], 10, 64)
	se, _ := strconv.ParseInt(m[3], 10, 64)
	if mi > 59 && m[1] != "" || se > 59 {
		return 0, false
	}
	return h*3600 + mi*60 + se, true
}

func TestParseHMSMatchesRegexpDefinition(t *testing.T) {
	inputs := []string{
		"00:42:10", "42:10", "1:02", "7:00:00", "123:59:59", "0:00", "00:00:00",
		"75:00", "1:75:00", "1:00:60", "00:60", "1:2", "1:2:3", "::", ":", "", "12",
		"1:02:03:04", "a:00", "00:0a", "-1:00", "+1:00", " 1:00", "1:00 ", "١:٠٠",
		"100:00", "1:100:00", "00:000", "99999999999999999999:00:00", ":00", "00:", "1::00",
	}
	for _, s := range inputs {
		gotN, gotOK := ParseHMS(s)
		wantN, wantOK := parseHMSReference(s)
		if gotN != wantN || gotOK != wantOK {
			t.Errorf("ParseHMS(%q) = %d, %v; the definition gives %d, %v", s, gotN, gotOK, wantN, wantOK)
		}
	}
}

type fastModel struct {
	ID    int64  `json:"id"`
	N     int    `json:"n"`
	Name  string `json:"name"`
	Small int8   `json:"small"`
	Tags  []string
}

// referenceMap is Map without the fast path: everything through
// mapstructure, as before it existed.
func referenceMap(m *Mapper[fastModel], src map[string]any) (fastModel, error) {
	var out fastModel
	renamed := map[string]any{}
	for _, f := range m.fields {
		if v, ok := lookup(src, f.path); ok {
			renamed[f.dst] = v
		}
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result: &out, TagName: "json", DecodeHook: m.hook, Squash: true,
	})
	if err != nil {
		return out, err
	}
	if err := dec.Decode(renamed); err != nil {
		return out, fmt.Errorf("mapping %T: %w", out, err)
	}
	return out, nil
}

func TestMapFastPathMatchesMapstructure(t *testing.T) {
	m := New[fastModel](Fields{"id": "a.id"})
	values := []any{
		"42", " 42 ", "00:42:10", "42:10", "abc", "1.5", "", json.Number("7"), json.Number("1.5"),
		json.Number("00:01:00"), int64(9), 9, 9.9, -3.7, true, nil, []any{"x"}, map[string]any{"k": 1},
		"9223372036854775808",
	}
	for _, v := range values {
		for _, key := range []string{"id", "n", "name", "small", "all"} {
			src := map[string]any{"a": map[string]any{}, "Tags": []any{"t"}}
			switch key {
			case "id":
				src["a"].(map[string]any)["id"] = v
			case "all": // fast and mapstructure fields in one object
				src["a"].(map[string]any)["id"], src["n"], src["name"], src["small"] = v, v, v, v
			default:
				src[key] = v
			}
			got, gotErr := m.Map(src)
			want, wantErr := referenceMap(m, src)
			if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) ||
				gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Errorf("%s=%#v: Map = %+v, %v; mapstructure gives %+v, %v", key, v, got, gotErr, want, wantErr)
			}
		}
	}
}

func TestIntFastPathMatchesMapstructure(t *testing.T) {
	for _, v := range []any{"42", " 42 ", "x", json.Number("7"), json.Number("7.5"), int64(3), 3, 3.9, true, nil} {
		src := map[string]any{"k": v}
		got, gotErr := Int(src, "k")
		var want int64
		dec, _ := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &want, DecodeHook: StringToNumber()})
		wantErr := dec.Decode(v)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("Int(%#v) = %d, %v; mapstructure gives %d, %v", v, got, gotErr, want, wantErr)
		}
	}
}
