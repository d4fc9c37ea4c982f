// Package jsonscan walks JSON bytes without decoding them: it finds where
// values start and end so callers can copy, filter or decode only the parts
// they need. It assumes input that encoding/json has produced or already
// validated; on malformed input it returns ErrSyntax rather than panicking,
// but it does not promise to detect every malformation.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrSyntax reports input that is not the JSON the caller expected.
var ErrSyntax = errors.New("malformed JSON")

// SkipWS returns the index of the first non-space byte at or after i.
func SkipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// SkipString returns the index after the string starting at b[i] == '"'.
//
// The closing quote is the first one not escaped, that is, preceded by an
// even run of backslashes. The first bytes are looked at one by one (keys
// and codes end there); past them the quote is found by bytes.IndexByte,
// about twice as fast on the longer values of an upstream answer.
func SkipString(b []byte, i int) (int, error) {
	j, end := i+1, min(len(b), i+9)
	for ; j < end; j++ {
		if c := b[j]; c == '"' {
			return j + 1, nil
		} else if c == '\\' {
			j = i + 1 // an escape: the quote search starts over
			break
		}
	}
	for j <= len(b) {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			break
		}
		q += j
		k := q - 1
		for k > i && b[k] == '\\' {
			k--
		}
		if (q-1-k)%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
	return 0, ErrSyntax
}

// SkipValue returns the index after the value starting at b[i].
func SkipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, err := SkipString(b, i)
				if err != nil {
					return 0, err
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, ErrSyntax
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				break
			}
			j++
		}
		if j == i {
			return 0, ErrSyntax
		}
		return j, nil
	}
}

// Key returns the unquoted form of a quoted object key; keys without
// escapes are converted without decoding.
func Key(quoted []byte) (string, error) {
	inner := quoted[1 : len(quoted)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(quoted, &s); err != nil {
				return "", ErrSyntax
			}
			return s, nil
		}
	}
	return string(inner), nil
}

// ObjectEach calls fn with each member of the object in b, in order: the
// quoted key as it appears and the raw value. It stops at fn's first
// error. An input that is not an object is ErrSyntax.
func ObjectEach(b []byte, fn func(quotedKey, value []byte) error) error {
	i := SkipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ErrSyntax
	}
	i = SkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return ErrSyntax
		}
		keyEnd, err := SkipString(b, i)
		if err != nil {
			return err
		}
		key := b[i:keyEnd]
		i = SkipWS(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return ErrSyntax
		}
		i = SkipWS(b, i+1)
		end, err := SkipValue(b, i)
		if err != nil {
			return err
		}
		if err := fn(key, b[i:end]); err != nil {
			return err
		}
		i = SkipWS(b, end)
		if i >= len(b) {
			return ErrSyntax
		}
		switch b[i] {
		case ',':
			i = SkipWS(b, i+1)
		case '}':
			return nil
		default:
			return ErrSyntax
		}
	}
}
