package render

import (
	"fmt"
	"strings"

	"github.com/wings-bff/wings/framework/internal/jsonscan"
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

var errSyntax = jsonscan.ErrSyntax

// Filter appends to dst the JSON value src reduced to the selection f.
// Objects keep only selected keys, in their original order; arrays apply
// the selection to each element; other values pass through. A nil f copies
// src. Unknown keys in f are ignored.
func Filter(dst, src []byte, f Fields) ([]byte, error) {
	if f == nil {
		return append(dst, src...), nil
	}
	i := jsonscan.SkipWS(src, 0)
	dst, i, err := filterValue(dst, src, i, f)
	if err != nil {
		return nil, err
	}
	if jsonscan.SkipWS(src, i) != len(src) {
		return nil, errSyntax
	}
	return dst, nil
}

func filterValue(dst, src []byte, i int, f Fields) ([]byte, int, error) {
	if i >= len(src) {
		return nil, 0, errSyntax
	}
	if f == nil { // selected whole
		end, err := jsonscan.SkipValue(src, i)
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
		end, err := jsonscan.SkipValue(src, i)
		if err != nil {
			return nil, 0, err
		}
		return append(dst, src[i:end]...), end, nil
	}
}

func filterObject(dst, src []byte, i int, f Fields) ([]byte, int, error) {
	dst = append(dst, '{')
	i = jsonscan.SkipWS(src, i+1) // after '{'
	if i < len(src) && src[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	first := true
	for {
		if i >= len(src) || src[i] != '"' {
			return nil, 0, errSyntax
		}
		keyEnd, err := jsonscan.SkipString(src, i)
		if err != nil {
			return nil, 0, err
		}
		key, err := jsonscan.Key(src[i:keyEnd])
		if err != nil {
			return nil, 0, err
		}
		rawKey := src[i:keyEnd]
		i = jsonscan.SkipWS(src, keyEnd)
		if i >= len(src) || src[i] != ':' {
			return nil, 0, errSyntax
		}
		i = jsonscan.SkipWS(src, i+1)
		sub, keep := f[key]
		if !keep {
			end, err := jsonscan.SkipValue(src, i)
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
		i = jsonscan.SkipWS(src, i)
		if i < len(src) && src[i] == ',' {
			i = jsonscan.SkipWS(src, i+1) // a key must follow
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
		i = jsonscan.SkipWS(src, i)
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
			i = jsonscan.SkipWS(src, i+1)
		}
		var err error
		if dst, i, err = filterValue(dst, src, i, f); err != nil {
			return nil, 0, err
		}
		first = false
	}
}
