package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits on the fields parameter, which comes from the network.
const (
	MaxFieldsLen   = 1024
	MaxFieldsCount = 64
	MaxFieldsDepth = 8
)

// Fields is a parsed `fields=a,b.c` selection: each key maps to the
// selection inside it, or to nil to keep the whole value.
type Fields map[string]Fields

// ParseFields parses a comma-separated list of dotted paths. Empty input
// gives nil, meaning "everything". Selecting a value whole wins over
// selecting parts of it ("album,album.title" keeps all of album).
func ParseFields(s string) (Fields, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxFieldsLen {
		return nil, fmt.Errorf("fields: longer than %d characters", MaxFieldsLen)
	}
	root := Fields{}
	n := 0
	for _, path := range strings.Split(s, ",") {
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		n++
		if n > MaxFieldsCount {
			return nil, fmt.Errorf("fields: more than %d paths", MaxFieldsCount)
		}
		segs := strings.Split(path, ".")
		if len(segs) > MaxFieldsDepth {
			return nil, fmt.Errorf("fields: %q nests deeper than %d", path, MaxFieldsDepth)
		}
		node := root
		for i, seg := range segs {
			seg = strings.TrimSpace(seg) // "album. title" is album.title
			if seg == "" {
				return nil, fmt.Errorf("fields: %q has an empty segment", path)
			}
			child, seen := node[seg]
			last := i == len(segs)-1
			switch {
			case last:
				node[seg] = nil // whole value
			case seen && child == nil:
				// already kept whole; nothing narrower applies
			default:
				if child == nil {
					child = Fields{}
					node[seg] = child
				}
				node = child
				continue
			}
			break
		}
	}
	if len(root) == 0 {
		return nil, nil
	}
	return root, nil
}

var errSyntax = errors.New("render: malformed JSON")

// Filter appends to dst the JSON value src reduced to the selection f.
// Objects keep only selected keys, in their original order; arrays apply
// the selection to each element; other values pass through. A nil f copies
// src. Unknown keys in f are ignored.
func Filter(dst, src []byte, f Fields) ([]byte, error) {
	if f == nil {
		return append(dst, src...), nil
	}
	i := skipWS(src, 0)
	dst, i, err := filterValue(dst, src, i, f)
	if err != nil {
		return nil, err
	}
	if skipWS(src, i) != len(src) {
		return nil, errSyntax
	}
	return dst, nil
}

func filterValue(dst, src []byte, i int, f Fields) ([]byte, int, error) {
	if i >= len(src) {
		return nil, 0, errSyntax
	}
	if f == nil { // selected whole
		end, err := skipValue(src, i)
		if err != nil {
			return nil, 0, err
		}
		return append(dst, src[i:end]...), end, nil
	}
	switch src[i] {
	case '{':
		return filterObject(dst, src, i, f)
	case '[':
		return filterArray(dst, src, i, f)
	default:
		end, err := skipValue(src, i)
		if err != nil {
			return nil, 0, err
		}
		return append(dst, src[i:end]...), end, nil
	}
}

func filterObject(dst, src []byte, i int, f Fields) ([]byte, int, error) {
	dst = append(dst, '{')
	i = skipWS(src, i+1) // after '{'
	if i < len(src) && src[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	first := true
	for {
		if i >= len(src) || src[i] != '"' {
			return nil, 0, errSyntax
		}
		keyEnd, err := skipString(src, i)
		if err != nil {
			return nil, 0, err
		}
		key, err := keyOf(src[i:keyEnd])
		if err != nil {
			return nil, 0, err
		}
		rawKey := src[i:keyEnd]
		i = skipWS(src, keyEnd)
		if i >= len(src) || src[i] != ':' {
			return nil, 0, errSyntax
		}
		i = skipWS(src, i+1)
		sub, keep := f[key]
		if !keep {
			end, err := skipValue(src, i)
			if err != nil {
				return nil, 0, err
			}
			i = end
		} else {
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, rawKey...)
			dst = append(dst, ':')
			if dst, i, err = filterValue(dst, src, i, sub); err != nil {
				return nil, 0, err
			}
			first = false
		}
		i = skipWS(src, i)
		if i < len(src) && src[i] == ',' {
			i = skipWS(src, i+1) // a key must follow
			continue
		}
		if i < len(src) && src[i] == '}' {
			return append(dst, '}'), i + 1, nil
		}
		return nil, 0, errSyntax
	}
}

func filterArray(dst, src []byte, i int, f Fields) ([]byte, int, error) {
	dst = append(dst, '[')
	i++ // '['
	first := true
	for {
		i = skipWS(src, i)
		if i >= len(src) {
			return nil, 0, errSyntax
		}
		if src[i] == ']' {
			return append(dst, ']'), i + 1, nil
		}
		if !first {
			if src[i] != ',' {
				return nil, 0, errSyntax
			}
			dst = append(dst, ',')
			i = skipWS(src, i+1)
		}
		var err error
		if dst, i, err = filterValue(dst, src, i, f); err != nil {
			return nil, 0, err
		}
		first = false
	}
}

// keyOf returns the unquoted key; the fast path avoids decoding keys
// without escapes.
func keyOf(quoted []byte) (string, error) {
	inner := quoted[1 : len(quoted)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(quoted, &s); err != nil {
				return "", errSyntax
			}
			return s, nil
		}
	}
	return string(inner), nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errSyntax
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, err := skipString(b, i)
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
		return 0, errSyntax
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
			return 0, errSyntax
		}
		return j, nil
	}
}
