package logging

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// jsonFormatter writes the same JSON lines as logrus.JSONFormatter (keys
// sorted, fields clashing with time/msg/level renamed "fields.<key>",
// errors as their message, RFC 3339 time) without building a map and
// running encoding/json over it for every line: the access log writes one
// line per request. Entries holding anything but strings, numbers, bools,
// errors, durations and nil — or reporting the caller — go to
// logrus.JSONFormatter itself, so the output never differs in meaning
// (the test parses both). One difference remains: a field logrus refused
// (a func value) is dropped silently instead of noted in "logrus_error",
// which logrus keeps private.
type jsonFormatter struct {
	fallback logrus.JSONFormatter
}

// clashing are the keys logrus.JSONFormatter renames when a field uses them.
var clashing = [...]string{logrus.FieldKeyTime, logrus.FieldKeyMsg, logrus.FieldKeyLevel, logrus.FieldKeyLogrusError}

func (f *jsonFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if e.Caller != nil || !simpleFields(e.Data) {
		return f.fallback.Format(e)
	}
	for k := range e.Data {
		if len(k) > 7 && k[:7] == "fields." {
			return f.fallback.Format(e) // its own renaming rules decide
		}
	}
	var keysBuf [16]string
	keys := append(keysBuf[:0], logrus.FieldKeyTime, logrus.FieldKeyMsg, logrus.FieldKeyLevel)
	for k := range e.Data {
		if slices.Contains(clashing[:], k) {
			k = "fields." + k
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := e.Buffer
	if b == nil {
		b = new(bytes.Buffer)
	}
	out := b.AvailableBuffer()
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, k)
		out = append(out, ':')
		switch k {
		case logrus.FieldKeyTime:
			out = append(out, '"')
			out = e.Time.AppendFormat(out, time.RFC3339)
			out = append(out, '"')
		case logrus.FieldKeyMsg:
			out = appendString(out, e.Message)
		case logrus.FieldKeyLevel:
			out = appendString(out, e.Level.String())
		default:
			if len(k) > 7 && k[:7] == "fields." {
				k = k[7:] // a renamed clash: data holds no "fields." keys here
			}
			out = appendValue(out, e.Data[k])
		}
	}
	out = append(out, '}', '\n')
	b.Write(out)
	return b.Bytes(), nil
}

// simpleFields reports whether every value is one appendValue writes the
// way encoding/json would.
func simpleFields(data logrus.Fields) bool {
	for _, v := range data {
		switch x := v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, error, time.Duration:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		case float32:
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func appendValue(out []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(out, "null"...)
	case string:
		return appendString(out, x)
	case error:
		return appendString(out, x.Error())
	case bool:
		return strconv.AppendBool(out, x)
	case int:
		return strconv.AppendInt(out, int64(x), 10)
	case int8:
		return strconv.AppendInt(out, int64(x), 10)
	case int16:
		return strconv.AppendInt(out, int64(x), 10)
	case int32:
		return strconv.AppendInt(out, int64(x), 10)
	case int64:
		return strconv.AppendInt(out, x, 10)
	case time.Duration: // encoding/json writes a Duration as its int64
		return strconv.AppendInt(out, int64(x), 10)
	case uint:
		return strconv.AppendUint(out, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(out, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(out, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(out, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(out, x, 10)
	case float32:
		return appendFloat(out, float64(x), 32)
	case float64:
		return appendFloat(out, x, 64)
	}
	return append(out, "null"...) // unreachable: simpleFields guards
}

// appendFloat formats f as encoding/json does.
func appendFloat(out []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	out = strconv.AppendFloat(out, f, format, -1, bits)
	if format == 'e' { // clean up e-09 to e-9
		if n := len(out); n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping on: <, > and & escaped, invalid UTF-8 as U+FFFD, U+2028
// and U+2029 escaped.
func appendString(out []byte, s string) []byte {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			out = append(out, s[start:i]...)
			switch c {
			case '\\', '"':
				out = append(out, '\\', c)
			case '\n':
				out = append(out, '\\', 'n')
			case '\r':
				out = append(out, '\\', 'r')
			case '\t':
				out = append(out, '\\', 't')
			default:
				out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, s[start:i]...)
			out = append(out, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			out = append(out, s[start:i]...)
			out = append(out, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}
