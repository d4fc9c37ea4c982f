// Package render turns data into the bytes Wings sends: the JSON envelope,
// the `fields` filter and JSONP. It works on JSON bytes rather than values
// so the response cache can store rendered data once and serve it to every
// callback and field selection.
package render

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Meta adds the envelope members beside data that describe a partial answer.
type Meta struct {
	// Degraded lists optional sources that failed and were left empty.
	Degraded []string
	// Stale lists sources answered from their last good value.
	Stale []string
}

// ValidCallback reports whether name is a safe JSONP callback: an
// identifier path of at most 64 characters, exactly
// ^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$ (a loop rather than the regular
// expression: every JSONP request checks its callback twice).
func ValidCallback(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		case i > 0 && (c >= '0' && c <= '9' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Success appends the success envelope around data (JSON bytes) to dst.
func Success(dst, data []byte, meta Meta) []byte {
	dst = append(dst, `{"code":0,"data":`...)
	if len(data) == 0 {
		data = []byte("null")
	}
	dst = append(dst, data...)
	dst = appendList(dst, "degraded", meta.Degraded)
	dst = appendList(dst, "stale", meta.Stale)
	return append(dst, '}')
}

func appendList(dst []byte, key string, items []string) []byte {
	if len(items) == 0 {
		return dst
	}
	dst = append(dst, `,"`...)
	dst = append(dst, key...)
	dst = append(dst, `":[`...)
	for i, s := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, s)
	}
	return append(dst, ']')
}

// Failure is the error envelope.
type Failure struct {
	Code      int    `json:"code"`
	Msg       string `json:"msg"`
	Error     string `json:"error,omitempty"`
	RequestID string `json:"request_id"`
}

// Bytes marshals the failure envelope.
func (f Failure) Bytes() []byte {
	b, err := json.Marshal(f)
	if err != nil { // cannot happen for strings and ints
		return []byte(`{"code":500,"msg":"internal error"}`)
	}
	return b
}

var (
	lineSep = []byte("\u2028")
	paraSep = []byte("\u2029")
)

// JSONP appends `/**/cb(<body>);` to dst, escaping U+2028 and U+2029, which
// are legal in JSON strings but end lines in older JavaScript. The leading
// comment defeats content sniffing attacks such as Rosetta Flash. cb must
// have passed ValidCallback.
func JSONP(dst []byte, cb string, body []byte) []byte {
	dst = append(dst, "/**/"...)
	dst = append(dst, cb...)
	dst = append(dst, '(')
	if bytes.Contains(body, lineSep[:2]) { // both separators start with E2 80
		body = bytes.ReplaceAll(body, lineSep, []byte(`\u2028`))
		body = bytes.ReplaceAll(body, paraSep, []byte(`\u2029`))
	}
	dst = append(dst, body...)
	return append(dst, ");"...)
}
